"""Groups prepared frames into model calls: batch modes none, list and window (protocol section 5)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backends import Backend, Outputs

#: A frame's decoder: (the call's outputs, the frame's batch index) -> (its result, decode ms).
#: It runs where the backend hands out the outputs, so the outputs are never copied.
Decode = Callable[[Outputs, int], tuple[Any, float]]


@dataclass(frozen=True)
class CallOutput:
    """One frame's share of a model call: what its decoder returned, and the call's timings."""

    result: Any
    decode_ms: float
    queue_ms: float
    predict_ms: float
    batch_size: int


@dataclass
class _Waiting:
    tensor: np.ndarray
    decode: Decode
    accepted: float
    future: asyncio.Future[CallOutput]


@dataclass(frozen=True)
class _Failed:
    error: Exception


def _decode_all(chunk: list[_Waiting], outputs: Outputs) -> list[tuple[Any, float] | _Failed]:
    """Every frame of a chunk decoded; a frame whose decoder fails fails alone."""
    results: list[tuple[Any, float] | _Failed] = []
    for index, item in enumerate(chunk):
        try:
            results.append(item.decode(outputs, index))
        except Exception as err:  # noqa: BLE001 - handed to that frame's future
            results.append(_Failed(err))
    return results


class Batcher:
    """One per loaded model. `submit` takes one request's frames and returns one future per frame."""

    def __init__(self, backend: Backend, mode: str, window_ms: float, max_batch_size: int) -> None:
        self.backend = backend
        self.mode = mode
        self.window_s = window_ms / 1000.0
        self.max_batch_size = max_batch_size
        self.pending: list[_Waiting] = []
        self.timer: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        #: How many model calls had each batch size (reported by the status command).
        self.histogram: dict[int, int] = {}

    def submit(self, frames: list[tuple[np.ndarray, Decode]], accepted: float) -> list[asyncio.Future[CallOutput]]:
        loop = asyncio.get_running_loop()
        waiting = [_Waiting(tensor, decode, accepted, loop.create_future()) for tensor, decode in frames]
        if self.mode == "window":
            self._add_to_window(waiting)
        elif self.mode == "list":
            for start in range(0, len(waiting), self.max_batch_size):
                self._start_call(waiting[start : start + self.max_batch_size])
        else:
            for item in waiting:
                self._start_call([item])
        return [w.future for w in waiting]

    def _add_to_window(self, waiting: list[_Waiting]) -> None:
        self.pending.extend(waiting)
        while len(self.pending) >= self.max_batch_size:  # a full batch goes at once
            self._start_call(self.pending[: self.max_batch_size])
            del self.pending[: self.max_batch_size]
        if not self.pending and self.timer is not None:
            self.timer.cancel()
            self.timer = None
        elif self.pending and self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.window_s, self._window_elapsed)

    def _window_elapsed(self) -> None:
        self.timer = None
        batch, self.pending = self.pending, []
        if batch:
            self._start_call(batch)

    def _start_call(self, batch: list[_Waiting]) -> None:
        task = asyncio.get_running_loop().create_task(self._call(batch))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _call(self, batch: list[_Waiting]) -> None:
        size = len(batch)
        self.histogram[size] = self.histogram.get(size, 0) + 1
        start = time.perf_counter()
        step = max(1, self.backend.max_batch)
        chunks = [batch[i : i + step] for i in range(0, size, step)]
        try:
            # Chunks beyond the model's own batch limit run side by side on the predict workers.
            outputs = await asyncio.gather(*(self._run_chunk(chunk) for chunk in chunks))
        except Exception as err:  # noqa: BLE001 - every waiting frame gets the error
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(err)
            return
        call_ms = (time.perf_counter() - start) * 1000.0
        for chunk, decoded in zip(chunks, outputs):
            predict_ms = call_ms - sum(d[1] for d in decoded if not isinstance(d, _Failed))
            for item, frame in zip(chunk, decoded):
                if item.future.done():
                    continue
                if isinstance(frame, _Failed):
                    item.future.set_exception(frame.error)
                else:
                    queue_ms = (start - item.accepted) * 1000.0
                    item.future.set_result(CallOutput(frame[0], frame[1], queue_ms, predict_ms, size))

    async def _run_chunk(self, chunk: list[_Waiting]) -> list[tuple[Any, float] | _Failed]:
        tensor = chunk[0].tensor[None] if len(chunk) == 1 else np.stack([c.tensor for c in chunk])
        return await self.backend.run(tensor, lambda outputs: _decode_all(chunk, outputs))

    async def drain(self) -> None:
        """Flushes a waiting window and waits for every started call."""
        if self.timer is not None:
            self.timer.cancel()
            self._window_elapsed()
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
