"""Per-class greedy NMS, the same algorithm as src/models/nms.ts (pinned by test/golden/decoders)."""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    class_id: int
    score: float
    box: Box


def iou(a: Box, b: Box) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def non_max_suppression(candidates: list[Detection], iou_threshold: float, max_detections: int) -> list[Detection]:
    """A box suppresses only lower-scored boxes of its own class; result sorted by score (stable)."""
    ordered = sorted(candidates, key=lambda d: -d.score)
    kept_by_class: dict[int, list[Detection]] = {}
    kept: list[Detection] = []
    for candidate in ordered:
        if len(kept) >= max_detections:
            break
        same_class = kept_by_class.setdefault(candidate.class_id, [])
        if any(iou(k.box, candidate.box) > iou_threshold for k in same_class):
            continue
        same_class.append(candidate)
        kept.append(candidate)
    return kept
