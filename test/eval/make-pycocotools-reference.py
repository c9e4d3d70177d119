#!/usr/bin/env python3
"""Writes test/eval/fixtures/pycocotools-reference.json: a small COCO ground truth (a few real
val2017 images from ../shared/coco), a fixed set of made-up detections, and what pycocotools'
COCOeval says about them. coco-metric.test.ts checks the TypeScript metric against it to 1e-4.

Run once, when the fixture needs regenerating (the output is committed):
    npm run setup:python   # .venv with python-runtime/requirements-eval.txt
    .venv/bin/python test/eval/make-pycocotools-reference.py [--coco ../shared/coco]

The detections are drawn with a fixed seed so that they cover what the metric must get right:
crowd regions (detections inside them are ignored), small / medium / large objects, several
classes, duplicates of one object, wrong-class boxes, missed objects, tied scores, false
positives on images and classes without ground truth, and more than 100 detections of one
class on one image (maxDets).
"""
import argparse
import contextlib
import io
import json
import os
import random
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

HERE = os.path.dirname(os.path.abspath(__file__))
SCORE_THRESHOLD = 0.25


def pick_images(data):
    anns_by_image = {}
    for a in data['annotations']:
        anns_by_image.setdefault(a['image_id'], []).append(a)
    ids = sorted(anns_by_image)
    crowd = [i for i in ids if any(a['iscrowd'] for a in anns_by_image[i])][:3]
    busy = sorted((i for i in ids if i not in crowd), key=lambda i: -len({a['category_id'] for a in anns_by_image[i]}))[:3]
    few = [i for i in ids if i not in crowd and i not in busy and len(anns_by_image[i]) <= 2][:2]
    empty = [im['id'] for im in data['images'] if im['id'] not in anns_by_image][:1]
    return crowd + busy + few + empty


def jitter(rng, bbox, amount, width, height):
    x, y, w, h = bbox
    x += rng.uniform(-amount, amount) * w
    y += rng.uniform(-amount, amount) * h
    w *= 1 + rng.uniform(-amount, amount)
    h *= 1 + rng.uniform(-amount, amount)
    x = min(max(x, 0), width - 1)
    y = min(max(y, 0), height - 1)
    return [round(x, 2), round(y, 2), round(max(w, 1), 2), round(max(h, 1), 2)]


def make_detections(rng, gt):
    images = {im['id']: im for im in gt['images']}
    cat_ids = [c['id'] for c in gt['categories']]
    dets = []

    def add(image_id, category_id, bbox, score):
        dets.append({'image_id': image_id, 'category_id': category_id, 'bbox': bbox, 'score': score})

    for a in gt['annotations']:
        im = images[a['image_id']]
        if a['iscrowd']:
            # Boxes inside a crowd region: matched to it, so ignored rather than false positives.
            x, y, w, h = a['bbox']
            for _ in range(4):
                bw, bh = w * rng.uniform(0.1, 0.3), h * rng.uniform(0.2, 0.5)
                add(a['image_id'], a['category_id'], [round(x + rng.uniform(0, w - bw), 2), round(y + rng.uniform(0, h - bh), 2), round(bw, 2), round(bh, 2)], round(rng.uniform(0.05, 0.9), 3))
            continue
        if rng.random() < 0.8:  # found (else missed)
            add(a['image_id'], a['category_id'], jitter(rng, a['bbox'], 0.12, im['width'], im['height']), round(rng.uniform(0.2, 0.99), 2))
        if rng.random() < 0.3:  # duplicate of the same object
            add(a['image_id'], a['category_id'], jitter(rng, a['bbox'], 0.08, im['width'], im['height']), round(rng.uniform(0.01, 0.6), 2))
        if rng.random() < 0.15:  # right box, wrong class
            add(a['image_id'], rng.choice(cat_ids), jitter(rng, a['bbox'], 0.05, im['width'], im['height']), round(rng.uniform(0.01, 0.5), 2))
    for im in gt['images']:
        for _ in range(4):  # false positives anywhere
            w, h = rng.uniform(5, im['width'] / 2), rng.uniform(5, im['height'] / 2)
            add(im['id'], rng.choice(cat_ids), [round(rng.uniform(0, im['width'] - w), 2), round(rng.uniform(0, im['height'] - h), 2), round(w, 2), round(h, 2)], round(rng.uniform(0.001, 0.7), 3))
    # More than maxDets (100) detections of one class on one image.
    first = gt['images'][0]
    person = 1
    for _ in range(130):
        w, h = rng.uniform(4, 200), rng.uniform(4, 300)
        add(first['id'], person, [round(rng.uniform(0, first['width'] - w), 2), round(rng.uniform(0, first['height'] - h), 2), round(w, 2), round(h, 2)], round(rng.uniform(0.001, 0.5), 2))
    return dets


def operating_point(ev, threshold):
    """Precision and recall at a score threshold, IoU 0.5, area 'all', from pycocotools' own matching."""
    tp = fp = n_gt = 0
    area_all = ev.params.areaRng[0]
    for e in ev.evalImgs:
        if e is None or e['aRng'] != area_all:
            continue
        n_gt += int(np.count_nonzero(np.asarray(e['gtIgnore']) == 0))
        for d, score in enumerate(e['dtScores']):
            if score < threshold or e['dtIgnore'][0][d]:
                continue
            if e['dtMatches'][0][d] > 0:
                tp += 1
            else:
                fp += 1
    return {'threshold': threshold, 'precision': tp / (tp + fp) if tp + fp else 0.0, 'recall': tp / n_gt if n_gt else 0.0,
            'truePositives': tp, 'falsePositives': fp, 'groundTruths': n_gt}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--coco', default=os.path.join(HERE, '..', '..', '..', 'shared', 'coco'))
    parser.add_argument('--out', default=os.path.join(HERE, 'fixtures', 'pycocotools-reference.json'))
    args = parser.parse_args()
    with open(os.path.join(args.coco, 'instances_val2017_subset500.json')) as f:
        data = json.load(f)
    keep = set(pick_images(data))
    gt = {
        'images': [{k: im[k] for k in ('id', 'file_name', 'width', 'height')} for im in data['images'] if im['id'] in keep],
        'annotations': [{k: a[k] for k in ('id', 'image_id', 'category_id', 'bbox', 'area', 'iscrowd')} for a in data['annotations'] if a['image_id'] in keep],
        'categories': [{'id': c['id'], 'name': c['name']} for c in data['categories']],
    }
    dets = make_detections(random.Random(20240607), gt)

    coco_gt = COCO()
    coco_gt.dataset = json.loads(json.dumps(gt))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(json.loads(json.dumps(dets)))
        ev = COCOeval(coco_gt, coco_dt, 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval['precision']  # [T, R, K, A, M]
    per_category = []
    for k, cat_id in enumerate(ev.params.catIds):
        p = precision[:, :, k, 0, -1]
        p50 = precision[0, :, k, 0, -1]
        per_category.append({'id': int(cat_id), 'ap': float(np.mean(p[p > -1])) if (p > -1).any() else -1.0,
                             'ap50': float(np.mean(p50[p50 > -1])) if (p50 > -1).any() else -1.0})
    names = ['ap', 'ap50', 'ap75', 'apSmall', 'apMedium', 'apLarge', 'ar1', 'ar10', 'ar100', 'arSmall', 'arMedium', 'arLarge']
    import pycocotools
    out = {
        'generatedBy': 'test/eval/make-pycocotools-reference.py',
        'pycocotools': getattr(pycocotools, '__version__', 'unknown'),
        'groundTruth': gt,
        'detections': dets,
        'expected': {
            'stats': dict(zip(names, [float(s) for s in ev.stats])),
            'categories': per_category,
            'operatingPoint': operating_point(ev, SCORE_THRESHOLD),
            # A few raw entries of eval['precision'] / eval['recall'] (all areas, maxDets 100).
            'precisionIou50': precision[0, :, :, 0, -1].T.round(12).tolist(),
            'recall': ev.eval['recall'][:, :, 0, -1].round(12).tolist(),
        },
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')
    print(f'{len(gt["images"])} images, {len(gt["annotations"])} annotations '
          f'({sum(a["iscrowd"] for a in gt["annotations"])} crowd), {len(dets)} detections -> {args.out}', file=sys.stderr)
    print(json.dumps(out['expected']['stats'], indent=1), file=sys.stderr)


if __name__ == '__main__':
    main()
