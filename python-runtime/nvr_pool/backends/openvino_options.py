"""Compile options for OpenVINO, shared by the pool's backend and the raw benchmark."""

from __future__ import annotations

from typing import Any


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
