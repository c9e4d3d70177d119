"""Decoder parity vectors (test/golden/decoders), shared with test/python-pool/decoder-parity.test.ts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from pool_client import GOLDEN

from nvr_pool import nms
from nvr_pool.config import parse_spec
from nvr_pool.decoders import OutputLayoutError, decode
from nvr_pool.nms import Candidates, Detection, ious, non_max_suppression

MANIFEST = json.loads((GOLDEN / "decoders" / "manifest.json").read_text())


def outputs_of(vector: dict[str, Any]) -> dict[str, np.ndarray]:
    return {
        name: np.fromfile(GOLDEN / "decoders" / o["file"], dtype="<f4").reshape(o["dims"])
        for name, o in vector["outputs"].items()
    }


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=[v["name"] for v in MANIFEST["vectors"]])
def test_decoder_matches_vector(vector: dict[str, Any]) -> None:
    o = vector["options"]
    got = decode(parse_spec(vector["spec"]), outputs_of(vector), 0, o["confidence"], o["iou"], o["maxDetections"])
    assert len(got) == len(vector["expected"])
    for g, e in zip(got, vector["expected"]):
        assert g.class_id == e["classId"]
        assert g.score == pytest.approx(e["score"], abs=1e-6)
        assert list(g.box) == pytest.approx(e["box"], abs=1e-3)


def test_yolox_dog_vector_has_dog_bicycle_car() -> None:
    vector = next(v for v in MANIFEST["vectors"] if v["name"] == "yolox-dog")
    assert {16, 1, 2} <= {d["classId"] for d in vector["expected"]}


def test_wrong_output_shape_is_a_clear_error() -> None:
    vector = next(v for v in MANIFEST["vectors"] if v["name"] == "yolox-dog")
    with pytest.raises(OutputLayoutError, match=r"expects \[N, 3549, 85\]"):
        decode(parse_spec(vector["spec"]), {"output": np.zeros((1, 10, 85), np.float32)}, 0, 0.3, 0.45, 100)


def candidates(*detections: Detection) -> Candidates:
    return Candidates(
        np.array([d.class_id for d in detections]),
        np.array([d.score for d in detections]),
        np.array([d.box for d in detections], dtype=np.float64).reshape(-1, 4),
    )


def test_nms_is_per_class_and_capped() -> None:
    a = Detection(0, 0.9, (0, 0, 10, 10))
    b = Detection(0, 0.8, (1, 1, 10, 10))  # same class, overlaps a: suppressed
    c = Detection(1, 0.7, (1, 1, 10, 10))  # other class: kept
    d = Detection(0, 0.7, (20, 20, 30, 30))  # same class, apart from a: kept
    assert non_max_suppression(candidates(b, c, a, d), 0.45, 10) == [a, c, d]
    assert non_max_suppression(candidates(b, c, a, d), 0.45, 1) == [a]
    assert non_max_suppression(candidates(), 0.45, 10) == []


def test_nms_keeps_equal_scores_in_their_order_and_suppresses_only_above_the_threshold() -> None:
    first = Detection(3, 0.5, (0, 0, 10, 10))
    touching = Detection(3, 0.5, (10, 0, 20, 10))  # shares an edge: IoU 0
    half = Detection(3, 0.5, (0, 0, 10, 5))  # IoU exactly 0.5 with `first`: not above 0.5
    assert non_max_suppression(candidates(first, touching, half), 0.5, 10) == [first, touching, half]
    assert non_max_suppression(candidates(first, touching, half), 0.45, 10) == [first, touching]


def test_ious_match_the_scalar_formula() -> None:
    box = np.array([0.0, 0.0, 10.0, 10.0])
    others = np.array([[20, 20, 30, 30], [5, 5, 15, 15], [0, 0, 10, 10], [3, 3, 3, 9]], dtype=np.float64)
    assert ious(box, others).tolist() == [0.0, 25 / 175, 1.0, 0.0]


def reference_nms(c: Candidates, threshold: float, max_detections: int) -> list[Detection]:
    """nms.ts's loop, one candidate at a time against every kept box of its class."""
    kept: list[Detection] = []
    for d in sorted(c.detections(np.arange(len(c.scores))), key=lambda d: -d.score):
        if len(kept) >= max_detections:
            break
        if any(k.class_id == d.class_id and ious(np.array(k.box), np.array([d.box]))[0] > threshold for k in kept):
            continue
        kept.append(d)
    return kept


@pytest.mark.parametrize("limit", [nms.PAIRWISE_LIMIT, -1], ids=["pairwise", "one-kept-box-at-a-time"])
def test_both_nms_strategies_match_the_reference_loop(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    monkeypatch.setattr(nms, "PAIRWISE_LIMIT", limit)
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(0, 300))
        corner = rng.uniform(0, 100, (n, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(1, 40, (n, 2))], axis=1)
        if trial % 3 == 0:
            boxes = np.round(boxes)  # touching edges and identical boxes
        c = Candidates(rng.integers(0, 3, n), np.round(rng.uniform(0, 1, n), 2), boxes)  # equal scores
        threshold, max_detections = float(rng.choice([0.3, 0.45, 0.5])), int(rng.choice([5, 100]))
        assert non_max_suppression(c, threshold, max_detections) == reference_nms(c, threshold, max_detections)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # numpy's inf - inf
@pytest.mark.parametrize("limit", [nms.PAIRWISE_LIMIT, -1], ids=["pairwise", "one-kept-box-at-a-time"])
def test_boxes_that_are_not_finite_never_suppress(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    monkeypatch.setattr(nms, "PAIRWISE_LIMIT", limit)
    box = Detection(0, 0.9, (0.0, 0.0, 10.0, 10.0))
    nan = Detection(0, 0.8, (float("nan"), 0.0, 10.0, 10.0))
    inf = Detection(0, 0.7, (0.0, 0.0, float("inf"), 10.0))
    wide = Detection(0, 0.6, (0.0, 0.0, float("inf"), float("inf")))
    kept = non_max_suppression(candidates(box, nan, inf, wide), 0.1, 10)
    assert [d.score for d in kept] == [0.9, 0.8, 0.7, 0.6]
