"""Output decoders, the same maths as src/models/decoders/*.ts (pinned by test/golden/decoders).

Comparisons and products are done in float64 like JavaScript numbers, so thresholds cut at the
same place in both languages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from .backends import Outputs
from .config import ModelSpec
from .nms import Candidates, Detection, non_max_suppression


class OutputLayoutError(Exception):
    pass


def _require(spec: ModelSpec, outputs: Outputs, name: str) -> np.ndarray:
    if name not in outputs:
        have = ", ".join(outputs) or "none"
        raise OutputLayoutError(f'model "{spec.name}" has no output named "{name}" (outputs: {have})')
    return outputs[name]


def _expect(spec: ModelSpec, name: str, tensor: np.ndarray, expected: Sequence[int], batch_index: int) -> None:
    dims = tensor.shape
    ok = len(dims) == len(expected) and all(e == -1 or e == d for e, d in zip(expected, dims))
    if not ok or batch_index >= dims[0]:
        want = ", ".join("N" if e == -1 else str(e) for e in expected)
        raise OutputLayoutError(
            f'model "{spec.name}" output "{name}" has shape [{", ".join(map(str, dims))}] but its spec '
            f"({spec.decoder.kind} decoder, {spec.input.width}x{spec.input.height}, {len(spec.labels)} classes) "
            f"expects [{want}]"
        )


def _candidates(class_ids: np.ndarray, scores: np.ndarray, boxes: np.ndarray) -> Candidates:
    return Candidates(class_ids, scores, boxes.reshape(-1, 4))


def _cxcywh(cx: np.ndarray, cy: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _objectness_rows(rows: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows [cx.., obj, classes...] passing objectness and score thresholds: (row idx, class, score)."""
    objectness = rows[:, 4].astype(np.float64)
    idx = np.nonzero(objectness >= confidence)[0]
    classes = rows[idx, 5:]
    best = np.argmax(classes, axis=1)  # first maximum on ties, like bestClass()
    score = objectness[idx] * classes[np.arange(len(idx)), best].astype(np.float64)
    keep = score >= confidence
    return idx[keep], best[keep], score[keep]


@lru_cache(maxsize=16)
def _grid(width: int, height: int, strides: tuple[int, ...]) -> np.ndarray:
    cells = []
    for s in strides:
        gw, gh = width // s, height // s
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel(), np.full(gw * gh, s)], axis=1))
    return np.concatenate(cells).astype(np.float64)


def decode_yolox(spec: ModelSpec, outputs: Outputs, b: int, confidence: float) -> Candidates:
    grid = _grid(spec.input.width, spec.input.height, spec.decoder.strides)
    nc = len(spec.labels)
    tensor = _require(spec, outputs, spec.output)
    _expect(spec, spec.output, tensor, [-1, len(grid), 5 + nc], b)
    rows = tensor[b]
    idx, best, score = _objectness_rows(rows, confidence)
    r = rows[idx, :4].astype(np.float64)
    g = grid[idx]
    s = g[:, 2]
    boxes = _cxcywh((r[:, 0] + g[:, 0]) * s, (r[:, 1] + g[:, 1]) * s, np.exp(r[:, 2]) * s, np.exp(r[:, 3]) * s)
    return _candidates(best, score, boxes)


def decode_yolov5(spec: ModelSpec, outputs: Outputs, b: int, confidence: float) -> Candidates:
    nc = len(spec.labels)
    tensor = _require(spec, outputs, spec.output)
    _expect(spec, spec.output, tensor, [-1, -1, 5 + nc], b)
    rows = tensor[b]
    idx, best, score = _objectness_rows(rows, confidence)
    sx = spec.input.width if spec.decoder.normalized else 1
    sy = spec.input.height if spec.decoder.normalized else 1
    r = rows[idx, :4].astype(np.float64)
    boxes = _cxcywh(r[:, 0] * sx, r[:, 1] * sy, r[:, 2] * sx, r[:, 3] * sy)
    return _candidates(best, score, boxes)


def decode_yolov8(spec: ModelSpec, outputs: Outputs, b: int, confidence: float) -> Candidates:
    nc = len(spec.labels)
    tensor = _require(spec, outputs, spec.output)
    _expect(spec, spec.output, tensor, [-1, 4 + nc, -1], b)
    data = tensor[b]  # [4 + nc, N]
    classes = data[4:]
    best = np.argmax(classes, axis=0)
    score = classes[best, np.arange(classes.shape[1])].astype(np.float64)
    idx = np.nonzero(score >= confidence)[0]
    r = data[:4, idx].astype(np.float64)
    return _candidates(best[idx], score[idx], _cxcywh(r[0], r[1], r[2], r[3]))


def decode_nms_free(spec: ModelSpec, outputs: Outputs, b: int, confidence: float) -> Candidates:
    decoder = spec.decoder
    nc = len(spec.labels)
    sx = spec.input.width if decoder.normalized else 1
    sy = spec.input.height if decoder.normalized else 1

    def to_boxes(r: np.ndarray) -> np.ndarray:
        r = r.astype(np.float64)
        if decoder.box_format == "xyxy":
            return np.stack([r[:, 0] * sx, r[:, 1] * sy, r[:, 2] * sx, r[:, 3] * sy], axis=1)
        return np.stack(
            [
                (r[:, 0] - r[:, 2] / 2) * sx,
                (r[:, 1] - r[:, 3] / 2) * sy,
                (r[:, 0] + r[:, 2] / 2) * sx,
                (r[:, 1] + r[:, 3] / 2) * sy,
            ],
            axis=1,
        )

    if decoder.scores_output:
        boxes_name = decoder.boxes_output or spec.output
        boxes = _require(spec, outputs, boxes_name)
        scores = _require(spec, outputs, decoder.scores_output)
        _expect(spec, boxes_name, boxes, [-1, -1, 4], b)
        _expect(spec, decoder.scores_output, scores, [-1, boxes.shape[1], nc], b)
        best = np.argmax(scores[b], axis=1)
        score = scores[b][np.arange(len(best)), best].astype(np.float64)
        idx = np.nonzero(score >= confidence)[0]
        return _candidates(best[idx], score[idx], to_boxes(boxes[b][idx]))

    tensor = _require(spec, outputs, spec.output)
    _expect(spec, spec.output, tensor, [-1, -1, 6], b)
    rows = tensor[b]
    score = rows[:, 4].astype(np.float64)
    class_ids = np.floor(rows[:, 5].astype(np.float64) + 0.5).astype(np.int64)  # Math.round
    idx = np.nonzero((score >= confidence) & (class_ids >= 0) & (class_ids < nc))[0]
    return _candidates(class_ids[idx], score[idx], to_boxes(rows[idx, :4]))


DECODERS: dict[str, Callable[[ModelSpec, Outputs, int, float], Candidates]] = {
    "yolox": decode_yolox,
    "yolov5": decode_yolov5,
    "yolov8": decode_yolov8,
    "nms-free": decode_nms_free,
}


def decode(
    spec: ModelSpec, outputs: Outputs, batch_index: int, confidence: float, iou: float, max_detections: int
) -> list[Detection]:
    """Final detections of image `batch_index` in model-input pixels (candidates, then NMS)."""
    candidates = DECODERS[spec.decoder.kind](spec, outputs, batch_index, confidence)
    if spec.decoder.kind == "nms-free":
        return candidates.detections(candidates.by_score()[:max_detections])
    return non_max_suppression(candidates, iou, max_detections)
