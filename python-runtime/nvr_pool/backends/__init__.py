"""Backends: one short module each, registered by runtime name. The pool around them never changes.

A backend loads one model and runs `[N, ...]` input tensors, handing every output by name to the
caller's `consume` while the outputs are valid.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import TypeVar

import numpy as np

from ..config import ModelEntry, PoolConfig

Outputs = Mapping[str, np.ndarray]
T = TypeVar("T")


class RuntimeUnavailableError(Exception):
    """The runtime's package is missing or the platform cannot run it (e.g. CoreML off macOS)."""


class ModelLoadError(Exception):
    pass


class Backend(ABC):
    #: Largest N this model runs as one [N, ...] tensor (1 when the batch axis is fixed).
    max_batch: int = 1
    #: The device the model actually runs on, as the runtime names it.
    device: str = ""
    #: True when the compiled model takes [N, H, W, 3] uint8 pixels in the model's channel order and
    #: converts type, layout and scale itself (inside the runtime, off the Python side's GIL).
    takes_pixels: bool = False

    @abstractmethod
    async def run(self, tensor: np.ndarray, consume: Callable[[Outputs, float], T]) -> T:
        """Runs one [N, ...] input (N <= max_batch) and returns `consume(outputs, started)`, every
        output batch axis first, `started` the perf_counter() at which the runtime took the input
        (after any wait for a free infer request or thread). `consume` runs off the event loop
        while the outputs are valid: they may be the runtime's own buffers, reused as soon as it
        returns, so nothing is copied.
        """

    def input_canvas(self, shape: tuple[int, int, int]) -> np.ndarray:
        """An uninitialised uint8 HxWx3 array for one frame's pixels (takes_pixels backends). A
        backend may hand out one it had before, once `recycle` has given it back."""
        return np.empty(shape, dtype=np.uint8)

    def recycle(self, inputs: Sequence[np.ndarray]) -> None:  # noqa: B027 - optional hook
        """The frames' arrays of a run that has ended: the runtime no longer reads them."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Releases the compiled model (best effort)."""


class ThreadedBackend(Backend):
    """A runtime whose inference call blocks (releasing the GIL): it runs on the predict threads."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    @abstractmethod
    def infer(self, tensor: np.ndarray) -> Outputs:
        """One blocking inference call."""

    async def run(self, tensor: np.ndarray, consume: Callable[[Outputs, float], T]) -> T:
        def call() -> T:
            started = time.perf_counter()
            return consume(self.infer(tensor), started)

        return await asyncio.get_running_loop().run_in_executor(self.executor, call)


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
