#!/usr/bin/env python3
"""Scores a COCO results file with pycocotools, to cross-check `npm run eval` on a real run:
    npm run eval -- --coco ../shared/coco --no-save --detections /tmp/dets.json
    .venv/bin/python test/eval/pycocotools-check.py ../shared/coco/instances_val2017_subset500.json /tmp/dets.json
"""
import sys

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

gt = COCO(sys.argv[1])
ev = COCOeval(gt, gt.loadRes(sys.argv[2]), 'bbox')
ev.evaluate()
ev.accumulate()
ev.summarize()
print('stats', ' '.join(f'{s * 100:.4f}' for s in ev.stats))
