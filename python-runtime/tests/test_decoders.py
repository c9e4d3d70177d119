"""Decoder parity vectors (test/golden/decoders), shared with test/python-pool/decoder-parity.test.ts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from pool_client import GOLDEN

from nvr_pool.config import parse_spec
from nvr_pool.decoders import OutputLayoutError, decode
from nvr_pool.nms import Detection, iou, non_max_suppression

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


def test_nms_is_per_class_and_capped() -> None:
    a = Detection(0, 0.9, (0, 0, 10, 10))
    b = Detection(0, 0.8, (1, 1, 10, 10))  # same class, overlaps a: suppressed
    c = Detection(1, 0.7, (1, 1, 10, 10))  # other class: kept
    assert non_max_suppression([b, c, a], 0.45, 10) == [a, c]
    assert non_max_suppression([b, c, a], 0.45, 1) == [a]
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
