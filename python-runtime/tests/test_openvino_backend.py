"""The OpenVINO backend on its own: a failed inference is reported instead of waited on for ever."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from pool_client import MODELS

ov = pytest.importorskip("openvino")
if not (MODELS / "yolox_nano.onnx").exists():
    pytest.skip(f"no models at {MODELS}", allow_module_level=True)

from nvr_pool.backends.openvino import OpenVinoBackend  # noqa: E402


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
