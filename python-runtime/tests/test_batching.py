"""Batch modes through the real pool process: none, list, window (collects within windowMs,
flushes at maxBatchSize), and N-batch stacking on a model whose batch axis can be reshaped."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pool_client import MODELS, PoolProcess, batch_payload, cache_payload, model, prefix, raw_payload

from nvr_pool.protocol import MsgType

pytest.importorskip("openvino")
if not (MODELS / "yolox_nano.onnx").exists():
    pytest.skip(f"no models at {MODELS}", allow_module_level=True)

RNG = np.random.default_rng(7)
FRAME = RNG.integers(0, 255, (96, 128, 3), dtype=np.uint8).tobytes()


def raw_items(n: int) -> list[tuple[int, int, int, int, int, bytes]]:
    return [(128, 96, 0, 0, 0, FRAME)] * n


def batch_sizes(value: dict[str, Any]) -> list[int]:
    return [r["timings"]["batchSize"] for r in value["results"]]


def start(mode: str, **batch: Any) -> PoolProcess:
    p = PoolProcess()
    p.configure("onnx-python", batch={"mode": mode, **batch})
    return p


def test_none_runs_each_frame_alone() -> None:
    p = start("none", maxBatchSize=8)
    try:
        status, value = p.call(MsgType.INFER_BATCH, batch_payload(raw_items(3)))
        assert status == 0 and batch_sizes(value) == [1, 1, 1]
    finally:
        p.close()


def test_list_groups_one_request_in_chunks_of_max_batch() -> None:
    p = start("list", maxBatchSize=2)
    try:
        status, value = p.call(MsgType.INFER_BATCH, batch_payload(raw_items(3)))
        assert status == 0 and batch_sizes(value) == [2, 2, 1]
        status, value = p.call(MsgType.INFER_RAW, raw_payload(FRAME, 128, 96, 0, 0, 0))
        assert batch_sizes(value) == [1]
    finally:
        p.close()


def test_window_collects_frames_of_several_requests() -> None:
    p = start("window", windowMs=400, maxBatchSize=8)
    try:
        ids = [p.send(MsgType.INFER_RAW, raw_payload(FRAME, 128, 96, 0, 0, 0)) for _ in range(3)]
        answers = {}
        for _ in ids:
            req_id, status, value = p.recv()
            assert status == 0
            answers[req_id] = value
        assert sorted(answers) == ids
        for value in answers.values():
            assert batch_sizes(value) == [3]
            assert value["results"][0]["timings"]["queueMs"] > 300  # waited for the window
        status, value = p.command({"cmd": "status"})
        assert value["models"][0]["batchSizes"] == {"3": 1}
    finally:
        p.close()


def test_window_flushes_at_max_batch_size_without_waiting() -> None:
    p = start("window", windowMs=5000, maxBatchSize=4)
    try:
        t = time.perf_counter()
        ids = [p.send(MsgType.INFER_RAW, raw_payload(FRAME, 128, 96, 0, 0, 0)) for _ in range(4)]
        for _ in ids:
            _, status, value = p.recv()
            assert status == 0 and batch_sizes(value) == [4]
        assert time.perf_counter() - t < 3.0  # well before the 5 s window
        # a fifth frame waits for its own window; ending the input flushes it
        last = p.send(MsgType.INFER_RAW, raw_payload(FRAME, 128, 96, 0, 0, 0))
        p.end_input()
        req_id, status, value = p.recv()
        assert (req_id, status, batch_sizes(value)) == (last, 0, [1])
    finally:
        p.close()


def test_window_with_cached_frames() -> None:
    p = start("window", windowMs=200, maxBatchSize=8)
    try:
        status, _ = p.call(MsgType.CACHE_FRAME, cache_payload(1, FRAME, 128, 96))
        assert status == 0
        status, value = p.call(MsgType.INFER_CACHED, prefix() + bytes([5]) + struct.pack("<5I", 1, 1, 1, 1, 1))
        assert status == 0 and batch_sizes(value) == [5] * 5
    finally:
        p.close()


@pytest.fixture(scope="module")
def batchable_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny YOLOX-shaped OpenVINO model (64x64 input, 1 class) whose batch axis reshapes."""
    import openvino as ov
    from openvino import opset13 as ops

    rows = (64 // 8) ** 2 + (64 // 16) ** 2 + (64 // 32) ** 2  # 84
    image = ops.parameter([1, 3, 64, 64], np.float32, name="images")
    pooled = ops.avg_pool(image, [8, 8], [0, 0], [0, 0], [8, 8], exclude_pad=True)  # [N, 3, 8, 8]
    flat = ops.reshape(pooled, ops.constant(np.array([0, -1], np.int64)), special_zero=True)  # [N, 192]
    weights = np.random.default_rng(3).normal(0, 0.02, (192, rows * 6)).astype(np.float32)
    dense = ops.matmul(flat, ops.constant(weights), False, False)
    out = ops.reshape(dense, ops.constant(np.array([0, rows, 6], np.int64)), special_zero=True)
    out = ops.sigmoid(out)
    out.output(0).get_tensor().set_names({"output"})
    path = tmp_path_factory.mktemp("model") / "tiny.xml"
    ov.save_model(ov.Model([out], [image], "tiny"), str(path))
    yield path


def tiny_spec() -> dict[str, Any]:
    return {
        "name": "tiny",
        "input": {
            "name": "images",
            "width": 64,
            "height": 64,
            "layout": "nchw",
            "channelOrder": "bgr",
            "scale": 1,
            "resize": "letterbox",
            "placement": "top-left",
            "padValue": 114,
        },
        "output": "output",
        "decoder": {"kind": "yolox", "strides": [8, 16, 32]},
        "labels": ["thing"],
    }


def test_openvino_stacks_a_batch_into_one_tensor_when_the_model_allows(batchable_model: Path) -> None:
    frames = [RNG.integers(0, 255, (48, 64, 3), dtype=np.uint8).tobytes() for _ in range(3)]
    items = [(64, 48, 0, 0, 0, f) for f in frames]
    singles = PoolProcess()
    stacked = PoolProcess()
    try:
        entry = {"spec": tiny_spec(), "path": str(batchable_model)}
        ready = singles.configure("openvino", models=[entry], batch={"mode": "none"})
        assert ready["models"][0]["maxBatch"] == 1
        ready = stacked.configure("openvino", models=[entry], batch={"mode": "list", "maxBatchSize": 4})
        assert ready["models"][0]["maxBatch"] == 4  # reshaped to a dynamic batch axis
        opts = {"confidence": 0.0, "max_det": 20}
        _, one = singles.call(MsgType.INFER_BATCH, batch_payload(items, **opts))
        _, many = stacked.call(MsgType.INFER_BATCH, batch_payload(items, **opts))
        assert batch_sizes(many) == [3, 3, 3]
        for a, b in zip(one["results"], many["results"]):
            assert [d[0] for d in a["detections"]] == [d[0] for d in b["detections"]]
            np.testing.assert_allclose([d[1:] for d in a["detections"]], [d[1:] for d in b["detections"]], atol=1e-3)
    finally:
        singles.close()
        stacked.close()


def test_yolox_nano_keeps_max_batch_1_because_its_graph_folds_the_batch() -> None:
    p = PoolProcess()
    try:
        ready = p.configure("openvino", models=[model("yolox_nano")], batch={"mode": "window", "maxBatchSize": 4})
        assert ready["models"][0]["maxBatch"] == 1
    finally:
        p.close()
