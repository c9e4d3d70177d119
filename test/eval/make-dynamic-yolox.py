#!/usr/bin/env python3
"""Makes a copy of yolox_nano.onnx whose input height and width are dynamic, plus the sidecar
spec the plugin needs for a file it does not know (same conventions as the catalog's
yolox_nano), so `npm run eval -- --input-size S` can measure YOLOX-Nano at other sizes. The
graph itself is size-agnostic (convolutions, a stride-2 slice stem, and reshapes with -1).

    .venv/bin/pip install onnx
    .venv/bin/python test/eval/make-dynamic-yolox.py ../shared/models/yolox_nano.onnx /tmp/dyn/yolox_nano_dyn.onnx
    npm run eval -- --coco ../shared/coco --model /tmp/dyn/yolox_nano_dyn.onnx --input-size 320
"""
import json
import os
import sys

import onnx

COCO = ['person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light', 'fire hydrant',
        'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe',
        'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat',
        'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl',
        'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
        'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave',
        'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush']


def main(src, dst):
    model = onnx.load(src)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for axis, name in ((2, 'height'), (3, 'width')):
        dims[axis].ClearField('dim_value')
        dims[axis].dim_param = name
    out = model.graph.output[0].type.tensor_type.shape.dim
    out[1].ClearField('dim_value')
    out[1].dim_param = 'anchors'
    del model.graph.value_info[:]  # shapes recorded for 416 would be wrong at other sizes
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    onnx.save(model, dst)
    name = os.path.splitext(os.path.basename(dst))[0]
    spec = {
        'name': name,
        'input': {'name': model.graph.input[0].name, 'width': 416, 'height': 416, 'layout': 'nchw', 'channelOrder': 'bgr', 'scale': 1,
                  'resize': 'letterbox', 'placement': 'top-left', 'padValue': 114},
        'output': model.graph.output[0].name,
        'decoder': {'kind': 'yolox', 'strides': [8, 16, 32]},
        'labels': COCO,
    }
    with open(os.path.splitext(dst)[0] + '.json', 'w') as f:
        json.dump(spec, f, indent=1)
    print(f'{dst} (+ .json spec)')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
