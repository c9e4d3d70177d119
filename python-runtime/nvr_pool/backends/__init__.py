"""Backends: one short module each, registered by runtime name. The pool around them never changes.

A backend loads one model and runs `[N, ...]` input tensors, returning every output by name.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from concurrent.futures import Executor

import numpy as np

from ..config import ModelEntry, PoolConfig


class RuntimeUnavailableError(Exception):
    """The runtime's package is missing or the platform cannot run it (e.g. CoreML off macOS)."""


class ModelLoadError(Exception):
    pass


class Backend(ABC):
    #: Largest N this model runs as one [N, ...] tensor (1 when the batch axis is fixed).
    max_batch: int = 1
    #: The device the model actually runs on, as the runtime names it.
    device: str = ""

    @abstractmethod
    async def run(self, tensor: np.ndarray) -> Mapping[str, np.ndarray]:
        """Runs one [N, ...] input (N <= max_batch) and returns every output, batch axis first."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Releases the compiled model (best effort)."""


class BackendFactory(ABC):
    """Per-runtime state shared by its models (OpenVINO Core, ORT providers)."""

    def __init__(self, config: PoolConfig, predict_executor: Executor) -> None:
        self.config = config
        self.predict_executor = predict_executor

    @abstractmethod
    def load(self, entry: ModelEntry) -> Backend:
        """Loads and compiles one model (blocking; the pool calls it off the event loop)."""


_MODULES = {"openvino": "openvino", "onnx-python": "onnx", "coreml": "coreml"}


def create_factory(config: PoolConfig, predict_executor: Executor) -> BackendFactory:
    module_name = _MODULES.get(config.runtime)
    if module_name is None:
        raise RuntimeUnavailableError(f'unknown runtime "{config.runtime}" (expected {", ".join(_MODULES)})')
    module = importlib.import_module(f"{__name__}.{module_name}")
    factory: BackendFactory = module.Factory(config, predict_executor)
    return factory
