"""Groups prepared frames into model calls: batch modes none, list and window (protocol section 5).

A request is answered from the thread where its last frame was decoded (OpenVINO's completion
callback, or a predict thread), so its answer leaves without waiting for the event loop: waking a
thread costs about a third of a millisecond on a small machine that idles between frames.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Union

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


#: A frame's outcome: its output, or the error that failed it.
Outcome = Union[CallOutput, Exception]
#: Answers a request: one outcome per frame, in frame order. Called once, on whichever thread
#: settled the request's last frame (the event loop's only when a call failed as a whole).
Respond = Callable[[list[Outcome]], None]


class _Request:
    """One request's frames on their way through model calls."""

    def __init__(self, count: int, respond: Respond, ended: asyncio.Future[None] | None) -> None:
        self.outcomes: list[Outcome | None] = [None] * count
        self.left = count
        self.respond = respond
        #: Window mode: set on the event loop once every frame is settled (the request's task waits on it).
        self.ended = ended
        self.lock = threading.Lock()

    def settle(self, index: int, outcome: Outcome) -> None:
        """Records a frame's outcome (the first one stands) and answers once every frame has one."""
        with self.lock:
            if self.outcomes[index] is not None:
                return
            self.outcomes[index] = outcome
            self.left -= 1
            if self.left:
                return
        self.respond([o for o in self.outcomes if o is not None])


@dataclass
class _Frame:
    tensor: np.ndarray
    decode: Decode
    accepted: float
    request: _Request
    index: int


async def _all(calls: list[Coroutine[Any, Any, None]]) -> None:
    """Awaits the calls side by side; a single call runs inline, in the caller's task."""
    if len(calls) == 1:
        await calls[0]
    else:
        await asyncio.gather(*calls)


def _settle_chunk(chunk: Sequence[_Frame], outputs: Outputs, started: float, size: int) -> None:
    """Decodes every frame of a chunk and settles it (a frame whose decoder fails fails alone).

    Runs where the outputs lie, before the runtime may reuse them. `predict_ms` runs from the
    runtime taking the input to the outputs being ready; waiting for a free infer request or
    thread before that is queue time.
    """
    decoded: list[tuple[Any, float] | Exception] = []
    for index, frame in enumerate(chunk):
        try:
            decoded.append(frame.decode(outputs, index))
        except Exception as err:  # noqa: BLE001 - handed to that frame
            decoded.append(err)
    ended = time.perf_counter()
    predict_ms = (ended - started) * 1000.0 - sum(d[1] for d in decoded if not isinstance(d, Exception))
    for frame, result in zip(chunk, decoded):
        if isinstance(result, Exception):
            frame.request.settle(frame.index, result)
        else:
            queue_ms = (started - frame.accepted) * 1000.0
            frame.request.settle(frame.index, CallOutput(result[0], result[1], queue_ms, predict_ms, size))


class Batcher:
    """One per loaded model. `run` takes one request's frames and answers it through `respond`."""

    def __init__(self, backend: Backend, mode: str, window_ms: float, max_batch_size: int) -> None:
        self.backend = backend
        self.mode = mode
        self.window_s = window_ms / 1000.0
        self.max_batch_size = max_batch_size
        self.pending: list[_Frame] = []
        self.timer: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        #: How many model calls had each batch size (reported by the status command).
        self.histogram: dict[int, int] = {}

    async def run(self, frames: list[tuple[np.ndarray, Decode]], accepted: float, respond: Respond) -> None:
        """Runs one request's frames; returns once its calls have ended. `respond` has been called
        by then, usually earlier, on the thread that decoded the last frame."""
        windowed = self.mode == "window"
        ended = asyncio.get_running_loop().create_future() if windowed else None
        request = _Request(len(frames), respond, ended)
        waiting = [_Frame(tensor, decode, accepted, request, i) for i, (tensor, decode) in enumerate(frames)]
        if ended is not None:
            self._add_to_window(waiting)
            await ended
            return
        step = self.max_batch_size if self.mode == "list" else 1
        # A request's own calls run in its own task: no task or future per call on the common path.
        await _all([self._call(waiting[i : i + step]) for i in range(0, len(waiting), step)])

    def _add_to_window(self, waiting: list[_Frame]) -> None:
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

    def _start_call(self, batch: list[_Frame]) -> None:
        task = asyncio.get_running_loop().create_task(self._window_call(batch))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _window_call(self, batch: list[_Frame]) -> None:
        """A window's call: its frames belong to several requests, each waiting until all its frames are settled."""
        await self._call(batch)
        for frame in batch:
            ended = frame.request.ended
            if frame.request.left == 0 and ended is not None and not ended.done():
                ended.set_result(None)

    async def _call(self, batch: Sequence[_Frame]) -> None:
        size = len(batch)
        self.histogram[size] = self.histogram.get(size, 0) + 1
        step = max(1, self.backend.max_batch)
        chunks = [batch[i : i + step] for i in range(0, size, step)]
        try:
            # Chunks beyond the model's own batch limit run side by side.
            await _all([self._run_chunk(chunk, size) for chunk in chunks])
        except Exception as err:  # noqa: BLE001 - every frame of the call not yet settled gets the error
            for frame in batch:
                frame.request.settle(frame.index, err)

    async def _run_chunk(self, chunk: Sequence[_Frame], size: int) -> None:
        inputs = [c.tensor for c in chunk]
        tensor = inputs[0][None] if len(chunk) == 1 else np.stack(inputs)
        await self.backend.run(tensor, lambda outputs, started: _settle_chunk(chunk, outputs, started, size))
        self.backend.recycle(inputs)  # only after a run that ended well: a failed or cancelled one may still read them

    async def drain(self) -> None:
        """Flushes a waiting window and waits for every started window call."""
        if self.timer is not None:
            self.timer.cancel()
            self._window_elapsed()
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
