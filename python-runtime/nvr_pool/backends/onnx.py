"""ONNX Runtime for Python (runtime `onnx-python`): session.run on the predict thread pool."""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np

from ..config import ModelEntry, PoolConfig
from . import Backend, BackendFactory, ModelLoadError, Outputs, RuntimeUnavailableError, ThreadedBackend

try:
    import onnxruntime as ort
except ImportError as err:  # pragma: no cover - depends on the venv
    raise RuntimeUnavailableError(f"onnxruntime is not installed: {err}") from err

PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "coreml": ["CoreMLExecutionProvider", "CPUExecutionProvider"],
    "dml": ["DmlExecutionProvider", "CPUExecutionProvider"],
}


def providers_for(device: str, available: list[str]) -> list[str]:
    """The provider list for a device setting; AUTO picks the best available accelerator."""
    key = device.lower()
    if key in ("auto", ""):
        for name in ("cuda", "coreml", "dml"):
            if PROVIDERS[name][0] in available:
                return PROVIDERS[name]
        return PROVIDERS["cpu"]
    if key not in PROVIDERS:
        raise RuntimeUnavailableError(f'onnx-python device "{device}" is not one of auto, {", ".join(PROVIDERS)}')
    if PROVIDERS[key][0] not in available:
        raise RuntimeUnavailableError(
            f"{PROVIDERS[key][0]} is not in this onnxruntime build (has {', '.join(available)})"
        )
    return PROVIDERS[key]


def session_options(threads: int) -> ort.SessionOptions:
    """The session options the pool loads with: `threads` intra-op threads (0: ONNX Runtime decides)."""
    options = ort.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
    return options


class OnnxBackend(ThreadedBackend):
    def __init__(self, session: ort.InferenceSession, max_batch: int, executor: Executor) -> None:
        super().__init__(executor)
        self.session = session
        self.max_batch = max_batch
        self.device = session.get_providers()[0]
        self.input_name = session.get_inputs()[0].name
        self.output_names = [o.name for o in session.get_outputs()]

    def infer(self, tensor: np.ndarray) -> Outputs:
        values = self.session.run(self.output_names, {self.input_name: tensor})
        return dict(zip(self.output_names, values))


class Factory(BackendFactory):
    def __init__(self, config: PoolConfig, predict_executor: Executor) -> None:
        super().__init__(config, predict_executor)
        self.providers = providers_for(config.device, ort.get_available_providers())

    def load(self, entry: ModelEntry) -> Backend:
        try:
            session = ort.InferenceSession(
                entry.path, sess_options=session_options(self.config.threads), providers=self.providers
            )
        except Exception as err:
            raise ModelLoadError(f"onnxruntime cannot load {entry.path}: {err}") from err
        inputs = session.get_inputs()
        if inputs[0].name != entry.spec.input.name:
            raise ModelLoadError(
                f'model input is "{inputs[0].name}" but the spec "{entry.spec.name}" says "{entry.spec.input.name}"'
            )
        batch_dim = inputs[0].shape[0]
        dynamic = not isinstance(batch_dim, int) or batch_dim <= 0
        max_batch = self.config.batch.max_batch_size if dynamic else 1
        return OnnxBackend(session, max_batch, self.predict_executor)
