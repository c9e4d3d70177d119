#!/usr/bin/env python3
"""Makes a copy of yolox_nano.onnx whose input height and width are dynamic, plus the sidecar
spec the plugin needs for a file it does not know (same conventions as the catalog's
yolox_nano), so `npm run eval -- --input-size S` can measure YOLOX-Nano at other sizes. The
graph itself is size-agnostic (convolutions, a stride-2 slice stem, and reshapes with -1).

With --batch, the batch axis is made symbolic instead (height and width stay 416): the three
head reshapes to [1, 85, -1] become [0, 85, -1] (0 keeps the input's batch), so N frames run as
one N-batch tensor (test/runtimes/onnx-runtime.test.ts).

    .venv/bin/python test/eval/make-dynamic-yolox.py ../shared/models/yolox_nano.onnx /tmp/dyn/yolox_nano_dyn.onnx
    npm run eval -- --coco ../shared/coco --model /tmp/dyn/yolox_nano_dyn.onnx --input-size 320
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

COCO = ['person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light', 'fire hydrant',
        'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe',
        'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat',
        'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl',
        'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
        'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave',
        'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush']


def symbolic(dim, name):
    dim.ClearField('dim_value')
    dim.dim_param = name


def main(src, dst, batch=False):
    model = onnx.load(src)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    out = model.graph.output[0].type.tensor_type.shape.dim
    if batch:
        symbolic(dims[0], 'batch')
        symbolic(out[0], 'batch')
        heads = 0
        for i, init in enumerate(model.graph.initializer):
            if init.data_type == onnx.TensorProto.INT64 and list(numpy_helper.to_array(init)) == [1, 85, -1]:
                model.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array([0, 85, -1], dtype=np.int64), init.name))
                heads += 1
        if heads != 3:
            sys.exit(f'{src}: expected the three [1, 85, -1] head reshapes of YOLOX, found {heads}')
    else:
        for axis, name in ((2, 'height'), (3, 'width')):
            symbolic(dims[axis], name)
        symbolic(out[1], 'anchors')
    del model.graph.value_info[:]  # shapes recorded for one size or batch would be wrong at others
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
    args = [a for a in sys.argv[1:] if a != '--batch']
    main(args[0], args[1], batch='--batch' in sys.argv[1:])
