"""CoreML (runtime `coreml`, macOS only): .mlpackage/.mlmodel through coremltools, .onnx through
ONNX Runtime's CoreML execution provider.

The module imports everywhere (its pure helpers are tested on Linux); creating the Factory off
macOS raises RuntimeUnavailableError("CoreML needs macOS"), which the pool answers to `configure` as
`runtime_unavailable`.
"""

from __future__ import annotations

import sys
from concurrent.futures import Executor
from typing import Any

import numpy as np

from ..config import ModelEntry, PoolConfig
from . import Backend, BackendFactory, ModelLoadError, Outputs, RuntimeUnavailableError, ThreadedBackend

COMPUTE_UNITS = ("ALL", "CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE")


def compute_units_name(device: str) -> str:
    """Maps the device setting to a coremltools ComputeUnit name (AUTO and '' mean ALL)."""
    key = device.upper().replace("-", "_")
    if key in ("", "AUTO"):
        return "ALL"
    if key in ("NE", "ANE", "NPU"):
        return "CPU_AND_NE"
    if key == "GPU":
        return "CPU_AND_GPU"
    if key == "CPU":
        return "CPU_ONLY"
    if key not in COMPUTE_UNITS:
        raise RuntimeUnavailableError(f'coreml device "{device}" is not one of AUTO, {", ".join(COMPUTE_UNITS)}')
    return key


def model_kind(path: str) -> str:
    """`coreml` for .mlpackage/.mlmodel, `onnx` for .onnx; anything else cannot be loaded."""
    lower = path.lower().rstrip("/")
    if lower.endswith((".mlpackage", ".mlmodel")):
        return "coreml"
    if lower.endswith(".onnx"):
        return "onnx"
    raise ModelLoadError(f"coreml runtime loads .mlpackage, .mlmodel or .onnx files, not {path}")


def import_coremltools(platform: str = sys.platform) -> Any:
    """The guarded import: a clear error off macOS or without the package."""
    if platform != "darwin":
        raise RuntimeUnavailableError(f"CoreML needs macOS (this is {platform}); choose openvino or onnx-python")
    try:  # pragma: no cover - macOS only
        import coremltools
    except ImportError as err:  # pragma: no cover
        raise RuntimeUnavailableError(f"coremltools is not installed: {err}") from err
    return coremltools  # pragma: no cover


class CoreMlBackend(ThreadedBackend):  # pragma: no cover - macOS only
    def __init__(self, model: Any, input_name: str, executor: Executor, device: str) -> None:
        super().__init__(executor)
        self.model = model
        self.input_name = input_name
        self.device = device
        self.max_batch = 1

    def infer(self, tensor: np.ndarray) -> Outputs:
        out = self.model.predict({self.input_name: tensor})
        return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


class Factory(BackendFactory):
    def __init__(self, config: PoolConfig, predict_executor: Executor) -> None:
        super().__init__(config, predict_executor)
        self.ct = import_coremltools()
        self.units = compute_units_name(config.device)

    def load(self, entry: ModelEntry) -> Backend:
        if model_kind(entry.path) == "onnx":
            from .onnx import OnnxBackend, ort

            try:
                session = ort.InferenceSession(
                    entry.path, providers=["CoreMLExecutionProvider", "CPUExecutionProvider"]
                )
            except Exception as err:
                raise ModelLoadError(f"onnxruntime (CoreML provider) cannot load {entry.path}: {err}") from err
            return OnnxBackend(session, 1, self.predict_executor)
        try:
            model = self.ct.models.MLModel(entry.path, compute_units=getattr(self.ct.ComputeUnit, self.units))
        except Exception as err:
            raise ModelLoadError(f"coremltools cannot load {entry.path}: {err}") from err
        return CoreMlBackend(model, entry.spec.input.name, self.predict_executor, self.units)
