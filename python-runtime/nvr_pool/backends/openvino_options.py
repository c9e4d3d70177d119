"""The OpenVINO core and compile options, shared by the pool's backend and the raw benchmark."""

from __future__ import annotations

from typing import Any


def new_core() -> Any:
    """An OpenVINO Core that computes in f32 on the CPU.

    The CPU plugin computes in bf16 by default on CPUs that have it (AMX, AVX512-BF16), which moves
    scores by several points against every other runtime. f32 keeps OpenVINO's detections the same
    as ONNX Runtime's; AUTO passes this on when it picks the CPU.
    """
    import openvino as ov

    core = ov.Core()
    if "CPU" in core.available_devices:
        core.set_property("CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return core


def openvino_properties(device: str, threads: int, runners: int) -> dict[str, Any]:
    """`runners` parallel infer requests of `threads` threads each (0: OpenVINO decides).

    OpenVINO's thread setting is for the whole compiled model, not per request: one stream per
    runner, and the threads of all runners, or the requests share one runner's threads.
    """
    properties: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT" if runners > 1 else "LATENCY"}
    if device == "CPU":
        properties["NUM_STREAMS"] = runners
        if threads > 0:
            properties["INFERENCE_NUM_THREADS"] = threads * runners
    return properties
