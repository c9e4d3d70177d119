"""Groups prepared frames into model calls: batch modes none, list and window (protocol section 5)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backends import Backend, Outputs, T

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


@dataclass
class _InWindow(_Waiting):
    """A window-mode frame: its request waits on `future`."""

    future: asyncio.Future[CallOutput]


def _decode_all(chunk: Sequence[_Waiting], outputs: Outputs) -> list[tuple[Any, float] | Exception]:
    """Every frame of a chunk decoded; a frame whose decoder fails fails alone (its error is its result)."""
    results: list[tuple[Any, float] | Exception] = []
    for index, item in enumerate(chunk):
        try:
            results.append(item.decode(outputs, index))
        except Exception as err:  # noqa: BLE001 - handed to that frame
            results.append(err)
    return results


async def _all(calls: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Awaits the calls side by side; a single call runs inline, in the caller's task."""
    if len(calls) == 1:
        return [await calls[0]]
    return list(await asyncio.gather(*calls))


class Batcher:
    """One per loaded model. `run` takes one request's frames and returns one CallOutput per frame."""

    def __init__(self, backend: Backend, mode: str, window_ms: float, max_batch_size: int) -> None:
        self.backend = backend
        self.mode = mode
        self.window_s = window_ms / 1000.0
        self.max_batch_size = max_batch_size
        self.pending: list[_InWindow] = []
        self.timer: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        #: How many model calls had each batch size (reported by the status command).
        self.histogram: dict[int, int] = {}

    async def run(self, frames: list[tuple[np.ndarray, Decode]], accepted: float) -> list[CallOutput]:
        """The request's frames through the model; raises the first frame's error, if any."""
        if self.mode == "window":
            loop = asyncio.get_running_loop()
            in_window = [_InWindow(tensor, decode, accepted, loop.create_future()) for tensor, decode in frames]
            self._add_to_window(in_window)
            return list(await asyncio.gather(*(w.future for w in in_window)))
        waiting = [_Waiting(tensor, decode, accepted) for tensor, decode in frames]
        step = self.max_batch_size if self.mode == "list" else 1
        batches = [waiting[i : i + step] for i in range(0, len(waiting), step)]
        # A request's own calls run in its own task: no task or future per call on the common path.
        outputs: list[CallOutput] = []
        for rs in await _all([self._call(b) for b in batches]):
            for result in rs:
                if isinstance(result, Exception):
                    raise result
                outputs.append(result)
        return outputs

    def _add_to_window(self, waiting: list[_InWindow]) -> None:
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

    def _start_call(self, batch: list[_InWindow]) -> None:
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, batch: list[_InWindow]) -> None:
        """A window's call: its frames belong to several requests, each waiting on its futures."""
        for item, result in zip(batch, await self._call(batch)):
            if item.future.done():
                continue
            if isinstance(result, Exception):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)

    async def _call(self, batch: Sequence[_Waiting]) -> list[CallOutput | Exception]:
        size = len(batch)
        self.histogram[size] = self.histogram.get(size, 0) + 1
        step = max(1, self.backend.max_batch)
        chunks = [batch[i : i + step] for i in range(0, size, step)]
        try:
            # Chunks beyond the model's own batch limit run side by side.
            outputs = await _all([self._run_chunk(chunk) for chunk in chunks])
        except Exception as err:  # noqa: BLE001 - every frame of the call gets the error
            return [err] * size
        ended = time.perf_counter()
        results: list[CallOutput | Exception] = []
        for chunk, (started, decoded) in zip(chunks, outputs):
            # From the runtime taking the input to the answer, less decoding; waiting for a free
            # infer request or thread before that is queue time.
            predict_ms = (ended - started) * 1000.0 - sum(d[1] for d in decoded if not isinstance(d, Exception))
            for item, frame in zip(chunk, decoded):
                if isinstance(frame, Exception):
                    results.append(frame)
                else:
                    queue_ms = (started - item.accepted) * 1000.0
                    results.append(CallOutput(frame[0], frame[1], queue_ms, predict_ms, size))
        return results

    async def _run_chunk(self, chunk: Sequence[_Waiting]) -> tuple[float, list[tuple[Any, float] | Exception]]:
        tensor = chunk[0].tensor[None] if len(chunk) == 1 else np.stack([c.tensor for c in chunk])
        return await self.backend.run(tensor, lambda outputs, started: (started, _decode_all(chunk, outputs)))

    async def drain(self) -> None:
        """Flushes a waiting window and waits for every started window call."""
        if self.timer is not None:
            self.timer.cancel()
            self._window_elapsed()
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
