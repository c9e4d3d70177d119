"""Per-class greedy NMS, the same algorithm as src/models/nms.ts (pinned by test/golden/decoders),
over numpy arrays: each kept box suppresses the rest of its class in one vectorised step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    class_id: int
    score: float
    box: Box


@dataclass(frozen=True)
class Candidates:
    """A decoder's boxes before NMS: class ids [n], float64 scores [n], float64 x1 y1 x2 y2 [n, 4]."""

    class_ids: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray

    def detections(self, order: np.ndarray) -> list[Detection]:
        return [
            Detection(int(c), float(s), (float(b[0]), float(b[1]), float(b[2]), float(b[3])))
            for c, s, b in zip(self.class_ids[order], self.scores[order], self.boxes[order])
        ]

    def by_score(self) -> np.ndarray:
        """Indices from the highest score down; equal scores keep their order (a stable sort)."""
        return np.argsort(-self.scores, kind="stable")


#: Up to this many candidates, all pairwise IoUs are computed at once (a 256x256 float64 matrix is
#: 0.5 MB); beyond it (low thresholds, as in accuracy runs) each kept box is compared in turn.
PAIRWISE_LIMIT = 256


def ious(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of `box` with each row of `boxes` (or, for an [n, 1, 4] `box`, of each box with each),
    in the same float64 operations as nms.ts's iou(box, other)."""
    iw = np.minimum(box[..., 2], boxes[:, 2]) - np.maximum(box[..., 0], boxes[:, 0])
    ih = np.minimum(box[..., 3], boxes[:, 3]) - np.maximum(box[..., 1], boxes[:, 1])
    inter = iw * ih
    area = (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])
    union = area + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    overlapping = (iw > 0) & (ih > 0) & (union > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=overlapping)


def non_max_suppression(candidates: Candidates, iou_threshold: float, max_detections: int) -> list[Detection]:
    """A box suppresses only lower-scored boxes of its own class; result sorted by score (stable)."""
    order = candidates.by_score()
    if len(order) <= PAIRWISE_LIMIT:
        return candidates.detections(order[_greedy_pairwise(candidates, order, iou_threshold, max_detections)])
    alive = order
    kept: list[int] = []
    while alive.size and len(kept) < max_detections:
        best, rest = alive[0], alive[1:]
        kept.append(int(best))
        same_class = candidates.class_ids[rest] == candidates.class_ids[best]
        overlap = ious(candidates.boxes[best], candidates.boxes[rest]) > iou_threshold
        alive = rest[~(same_class & overlap)]
    return candidates.detections(np.array(kept, dtype=np.int64))


def _greedy_pairwise(candidates: Candidates, order: np.ndarray, iou_threshold: float, max_detections: int) -> list[int]:
    """Positions in `order` that survive, from one matrix of who suppresses whom."""
    boxes, classes = candidates.boxes[order], candidates.class_ids[order]
    suppresses = (ious(boxes[:, None, :], boxes) > iou_threshold) & (classes[:, None] == classes[None, :])
    suppressed = np.zeros(len(order), dtype=bool)
    kept: list[int] = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        kept.append(i)
        if len(kept) >= max_detections:
            break
        suppressed |= suppresses[i]
    return kept
