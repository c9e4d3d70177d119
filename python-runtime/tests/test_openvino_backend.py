"""The OpenVINO backend on its own: a failed inference is reported instead of waited on for ever, and
each stream has its next infer request queued."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from pool_client import MODELS, model

ov = pytest.importorskip("openvino")
if not (MODELS / "yolox_nano.onnx").exists():
    pytest.skip(f"no models at {MODELS}", allow_module_level=True)

from nvr_pool.backends.openvino import Factory, OpenVinoBackend  # noqa: E402
from nvr_pool.config import parse_config, parse_model_entry  # noqa: E402


def test_a_failed_inference_fails_its_caller_and_frees_its_infer_request() -> None:
    compiled = ov.Core().compile_model(str(MODELS / "yolox_nano.onnx"), "CPU")
    backend = OpenVinoBackend(compiled, 1, 1, "CPU", False)
    tensor = np.zeros((1, 3, 416, 416), np.float32)

    def shape(outputs: dict[str, np.ndarray], _started: float) -> tuple[int, ...]:
        return outputs["output"].shape

    async def main() -> None:
        call = asyncio.ensure_future(backend.run(tensor, shape))
        while not backend.running:
            await asyncio.sleep(0.001)
        next(iter(backend.running)).cancel()  # stands in for a device error: no callback comes
        started = time.perf_counter()
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(call, 5)
        assert time.perf_counter() - started < 3
        assert not backend.running
        # The one infer request is free again, and serves the next call.
        assert await asyncio.wait_for(backend.run(tensor, shape), 5) == (1, 3549, 85)

    asyncio.run(main())


def test_each_runner_has_a_second_infer_request_queued_behind_the_running_one() -> None:
    config = parse_config({"runtime": "openvino", "device": "CPU", "concurrency": 1, "threads": 1})
    backend = Factory(config, ThreadPoolExecutor(1)).load(parse_model_entry(model("yolox_nano")))
    pixels = np.zeros((1, 416, 416, 3), np.uint8)
    peak = 0

    def count(_outputs: dict[str, np.ndarray], _started: float) -> None:
        nonlocal peak
        peak = max(peak, len(backend.running))

    async def main() -> None:
        await asyncio.gather(*(backend.run(pixels, count) for _ in range(6)))

    asyncio.run(main())
    # One stream, two requests: while one infers the next is started, not waiting in Python.
    assert backend.request_count == 2
    assert peak == 2
