"""The pool's main loop: reads frames in order, answers each request when it is done.

Reading never waits for inference: parsing is cheap and synchronous, the work of a request runs
in its own task (preparation -> batcher -> runtime, which decodes where its outputs lie), and answers
go out in whatever order requests finish (responses carry the request id).
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, Union

from . import PROTOCOL_VERSION
from .backends import Backend, BackendFactory, ModelLoadError, Outputs, RuntimeUnavailableError, create_factory
from .batching import Batcher, CallOutput, Outcome
from .config import InputSpec, ModelEntry, ModelSpec, PoolConfig, parse_config, parse_model_entry
from .decoders import decode
from .preprocess import Placement, Prepared, prepare, prepare_pixels
from .protocol import (
    DEFAULT_MAX_FRAME,
    DecodePrefix,
    Image,
    InferShared,
    MsgType,
    ProtocolError,
    RawImage,
    encode_error,
    encode_ok,
    parse_cache_frame,
    parse_command,
    parse_infer_batch,
    parse_infer_cached,
    parse_infer_jpeg,
    parse_infer_raw,
    parse_infer_shared,
)
from .reader import FrameReader
from .shared import SharedFrames

log = logging.getLogger("nvr_pool")
_MSG_TYPES = frozenset(MsgType)
_PARSERS = {
    MsgType.INFER_JPEG: parse_infer_jpeg,
    MsgType.INFER_RAW: parse_infer_raw,
    MsgType.INFER_BATCH: parse_infer_batch,
}
_U32 = struct.Struct("<I")
_DISCARD_CHUNK = 64 * 1024


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...  # blocking: the answer is written when it returns


@dataclass
class LoadedModel:
    entry: ModelEntry
    backend: Backend
    batcher: Batcher

    def describe(self, index: int) -> dict[str, Any]:
        return {
            "index": index,
            "name": self.entry.spec.name,
            "loaded": True,
            "maxBatch": self.backend.max_batch,
            "device": self.backend.device,
            "error": None,
            "batchSizes": {str(k): v for k, v in sorted(self.batcher.histogram.items())},
        }


@dataclass
class FailedModel:
    name: str
    error: str

    def describe(self, index: int) -> dict[str, Any]:
        return {"index": index, "name": self.name, "loaded": False, "maxBatch": 0, "error": self.error}


Slot = Union[LoadedModel, FailedModel, None]


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class Pool:
    def __init__(self, reader: FrameReader, writer: Writer) -> None:
        self.reader = reader
        self.writer = writer
        self.started = time.perf_counter()
        self.config: PoolConfig | None = None
        self.factory: BackendFactory | None = None
        self.slots: list[Slot] = []
        self.cache: OrderedDict[int, RawImage] = OrderedDict()
        self.shared: SharedFrames | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.max_frame = DEFAULT_MAX_FRAME
        self.shutting_down = False
        self.served = 0
        self.failed = 0
        self.prepare_pool: ThreadPoolExecutor | None = None
        self.predict_pool: ThreadPoolExecutor | None = None
        #: Answers are written from the event loop and from inference threads: one at a time.
        self.write_lock = threading.Lock()

    # ------------------------------------------------------------ output

    def send_ok(self, req_id: int, result: dict[str, Any]) -> None:
        self._write(encode_ok(req_id, result), ok=True)

    def send_error(self, req_id: int, code: str, message: str) -> None:
        log.warning("request %d failed: %s: %s", req_id, code, message)
        self._write(encode_error(req_id, code, message), ok=False)

    def _write(self, data: bytes, ok: bool) -> None:
        with self.write_lock:
            if ok:
                self.served += 1
            else:
                self.failed += 1
            self.writer.write(data)

    def _send_failure(self, req_id: int, err: Exception) -> None:
        """An inference request's error: a ProtocolError as it is, anything else as inference_failed (logged)."""
        if isinstance(err, ProtocolError):
            self.send_error(req_id, err.code, err.message)
            return
        log.error("inference failed: %s: %s", type(err).__name__, err, exc_info=err)
        self.send_error(req_id, "inference_failed", f"{type(err).__name__}: {err}")

    # ------------------------------------------------------------ input

    async def serve(self) -> None:
        """Reads frames until end of input or shutdown, then answers what was accepted."""
        while not self.shutting_down:
            try:
                head = await self.reader.readexactly(4)
            except asyncio.IncompleteReadError as err:
                if err.partial:
                    log.warning("input ended inside a length prefix (%d bytes)", len(err.partial))
                break
            (length,) = _U32.unpack(head)
            if not await self._read_frame(length):
                break
        await self.finish()

    async def _read_frame(self, length: int) -> bool:
        """Reads and dispatches one frame; False when the input ended."""
        if length < 5:
            try:
                body = await self.reader.readexactly(length)
            except asyncio.IncompleteReadError:
                return False
            req_id = _U32.unpack(body)[0] if length >= 4 else 0
            self.send_error(req_id, "truncated_header", f"frame length {length} is shorter than the 5-byte header")
            return True
        if length > self.max_frame:
            try:
                (req_id,) = _U32.unpack(await self.reader.readexactly(4))
            except asyncio.IncompleteReadError:
                return False
            self.send_error(
                req_id,
                "frame_too_large",
                f"frame length {length} exceeds max_frame_bytes {self.max_frame}; discarding it",
            )
            return await self._discard(length - 4)
        try:
            body = await self.reader.readexactly(length)
        except asyncio.IncompleteReadError as err:
            if len(err.partial) >= 4:
                (req_id,) = _U32.unpack_from(err.partial, 0)
                self.send_error(req_id, "truncated_frame", f"input ended after {len(err.partial)} of {length} bytes")
            return False
        req_id, msg_type = struct.unpack_from("<IB", body, 0)
        await self.dispatch(req_id, msg_type, memoryview(body)[5:])
        return True

    async def _discard(self, remaining: int) -> bool:
        """Skips an oversized frame's body in small chunks: never allocates its size."""
        while remaining > 0:
            chunk = await self.reader.read(min(remaining, _DISCARD_CHUNK))
            if not chunk:
                return False
            remaining -= len(chunk)
        return True

    # ------------------------------------------------------------ dispatch

    async def dispatch(self, req_id: int, msg_type: int, payload: memoryview) -> None:
        try:
            if self.shutting_down:
                raise ProtocolError("shutting_down", "the pool is shutting down")
            if msg_type == MsgType.COMMAND:
                await self.command(req_id, parse_command(payload))
                return
            if msg_type not in _MSG_TYPES:
                raise ProtocolError("unknown_message_type", f"message type 0x{msg_type:02x} is not 0x00..0x06")
            if self.config is None:
                raise ProtocolError("not_configured", "the first message must be the configure command")
            if len(self.tasks) >= self.config.max_queue:
                raise ProtocolError("overloaded", f"{len(self.tasks)} requests are already waiting (max_queue)")
            accepted = time.perf_counter()
            if msg_type == MsgType.CACHE_FRAME:
                self.cache_frame(req_id, payload)
                return
            if msg_type == MsgType.INFER_CACHED:
                cached = parse_infer_cached(payload)
                images: list[Image] = []
                for frame_id in cached.frame_ids:
                    if frame_id not in self.cache:
                        raise ProtocolError("unknown_frame", f"frame id {frame_id} is not cached")
                    self.cache.move_to_end(frame_id)
                    images.append(self.cache[frame_id])
                prefix = cached.prefix
            elif msg_type == MsgType.INFER_SHARED:
                prefix, images = self._shared_images(parse_infer_shared(payload))
            else:
                request = _PARSERS[msg_type](payload)
                prefix, images = request.prefix, request.images
            model = self.model(prefix.model_idx)
            self.spawn(self.infer(req_id, model, prefix, images, accepted))
        except ProtocolError as err:
            self.send_error(req_id, err.code, err.message)

    def spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def model(self, index: int) -> LoadedModel:
        slot = self.slots[index] if index < len(self.slots) else None
        if slot is None:
            raise ProtocolError("unknown_model", f"model index {index} is out of range (have {len(self.slots)})")
        if isinstance(slot, FailedModel):
            raise ProtocolError("model_not_loaded", f'model {index} ("{slot.name}") failed to load: {slot.error}')
        return slot

    def _shared_images(self, request: InferShared) -> tuple[DecodePrefix, list[Image]]:
        if self.shared is None:
            raise ProtocolError("no_shared_memory", "infer_shared needs the shared memory of configure.sharedFd")
        shared = self.shared
        many = len(request.items) > 1
        images: list[Image] = []
        for i, item in enumerate(request.items):
            pixels = shared.pixels(item.offset, item.size, f"item {i}: " if many else "")
            images.append(RawImage(item.width, item.height, item.fmt, item.x, item.y, pixels))
        return request.prefix, images

    def cache_frame(self, req_id: int, payload: memoryview) -> None:
        assert self.config is not None
        frame = parse_cache_frame(payload)
        stored = frame.image  # a view of this frame's own receive buffer, which nothing reuses
        self.cache.pop(frame.frame_id, None)
        self.cache[frame.frame_id] = stored
        while len(self.cache) > self.config.cache_frames:
            self.cache.popitem(last=False)
        self.send_ok(req_id, {"cached": frame.frame_id, "bytes": len(stored.pixels)})

    # ------------------------------------------------------------ inference

    async def infer(
        self, req_id: int, model: LoadedModel, prefix: DecodePrefix, images: list[Image], accepted: float
    ) -> None:
        loop = asyncio.get_running_loop()
        spec = model.entry.spec
        try:
            pixels = model.backend.takes_pixels
            make = partial(prepare_pixels, new_canvas=model.backend.input_canvas) if pixels else prepare
            if pixels and all(_cheap_to_place(image, spec.input) for image in images):
                # Placing raw pixels, or shrinking them at most 2x (~0.3 ms with OpenCV), costs less
                # than the two thread hops (~0.2 ms); decoding and large resizes stay off the event loop.
                prepared = [_timed_prepare(make, image, spec.input, i, len(images)) for i, image in enumerate(images)]
            else:
                prepared = await asyncio.gather(
                    *(
                        loop.run_in_executor(self.prepare_pool, _timed_prepare, make, image, spec.input, i, len(images))
                        for i, image in enumerate(images)
                    )
                )
            frames = [(p.tensor, partial(_decode_frame, spec, prefix, p.placement)) for p, _ in prepared]
            await model.batcher.run(frames, accepted, partial(self._respond, req_id, [ms for _, ms in prepared]))
        except Exception as err:  # noqa: BLE001 - answered, never lost
            self._send_failure(req_id, err)

    def _respond(self, req_id: int, prepare_ms: list[float], outcomes: list[Outcome]) -> None:
        """Answers an inference request, on whichever thread settled its last frame; a failed
        frame fails the request."""
        try:
            failed = next((o for o in outcomes if isinstance(o, Exception)), None)
            if failed is None:
                results = [_result(o, ms) for ms, o in zip(prepare_ms, outcomes) if isinstance(o, CallOutput)]
                self.send_ok(req_id, {"results": results})
            else:
                self._send_failure(req_id, failed)
        except Exception:  # on an inference thread nobody else would see it
            log.exception("could not answer request %d", req_id)

    # ------------------------------------------------------------ commands

    async def command(self, req_id: int, cmd: dict[str, Any]) -> None:
        name = cmd["cmd"]
        if name == "configure":
            if self.config is not None:
                raise ProtocolError("already_configured", "configure may be sent once")
            await self.configure(req_id, cmd)
            return
        if self.config is None:
            raise ProtocolError("not_configured", "the first message must be the configure command")
        handlers: dict[str, Callable[[int, dict[str, Any]], Awaitable[None]]] = {
            "load": self.cmd_load,
            "unload": self.cmd_unload,
            "replace": self.cmd_replace,
            "status": self.cmd_status,
            "shutdown": self.cmd_shutdown,
        }
        handler = handlers.get(name)
        if handler is None:
            raise ProtocolError("bad_command", f'unknown command "{name}" (expected configure, {", ".join(handlers)})')
        if name in ("load", "replace"):
            self.spawn(self._answer(req_id, handler(req_id, cmd)))  # compiling must not stop the reader
        else:
            await handler(req_id, cmd)

    async def _answer(self, req_id: int, work: Awaitable[None]) -> None:
        try:
            await work
        except ProtocolError as err:
            self.send_error(req_id, err.code, err.message)

    async def configure(self, req_id: int, cmd: dict[str, Any]) -> None:
        if cmd.get("protocol") != PROTOCOL_VERSION:
            raise ProtocolError(
                "protocol_mismatch",
                f"client speaks protocol {cmd.get('protocol')}, this pool speaks {PROTOCOL_VERSION}",
            )
        config = parse_config(cmd)
        prepare_pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="prepare")
        predict_pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="predict")
        try:
            factory = create_factory(config, predict_pool)
        except Exception as err:  # noqa: BLE001 - a broken install must still be answered
            prepare_pool.shutdown(wait=False)
            predict_pool.shutdown(wait=False)
            known = isinstance(err, RuntimeUnavailableError)
            why = str(err) if known else f"{config.runtime}: {type(err).__name__}: {err}"
            raise ProtocolError("runtime_unavailable", why) from None
        self.config, self.factory = config, factory
        self.prepare_pool, self.predict_pool = prepare_pool, predict_pool
        self.max_frame = config.max_frame_bytes
        if config.shared_fd is not None:
            try:
                self.shared = SharedFrames(config.shared_fd)
            except OSError as err:  # the client falls back to sending pixels through the socket
                log.warning("no shared frame memory: %s", err)
        for raw in config.models:
            self.slots.append(await self._load_slot(raw))
        self.send_ok(
            req_id,
            {
                "ready": True,
                "protocol": PROTOCOL_VERSION,
                "runtime": config.runtime,
                "device": config.device,
                "pid": os.getpid(),
                "workers": {"prepare": config.concurrency, "predict": config.concurrency},
                "models": [self._describe(i) for i in range(len(self.slots))],
                "startupMs": round(_ms(self.started), 1),
                "maxFrameBytes": self.max_frame,
                "sharedMemory": self.shared is not None,
            },
        )

    async def _load(self, raw: Any) -> LoadedModel:
        assert self.config is not None and self.factory is not None
        entry = parse_model_entry(raw)
        try:
            backend = await asyncio.get_running_loop().run_in_executor(None, self.factory.load, entry)
        except ModelLoadError as err:
            raise ProtocolError("model_load_failed", str(err)) from None
        except Exception as err:  # noqa: BLE001
            raise ProtocolError("model_load_failed", f"{type(err).__name__}: {err}") from None
        batch = self.config.batch
        log.info("loaded %s from %s (max batch %d, %s)", entry.spec.name, entry.path, backend.max_batch, backend.device)
        return LoadedModel(entry, backend, Batcher(backend, batch.mode, batch.window_ms, batch.max_batch_size))

    async def _load_slot(self, raw: Any) -> Slot:
        try:
            return await self._load(raw)
        except ProtocolError as err:
            name = raw.get("spec", {}).get("name", "?") if isinstance(raw, dict) else "?"
            log.error("model %s failed to load: %s", name, err.message)
            return FailedModel(str(name), err.message)

    def _describe(self, index: int) -> dict[str, Any] | None:
        slot = self.slots[index]
        return slot.describe(index) if slot is not None else None

    async def cmd_load(self, req_id: int, cmd: dict[str, Any]) -> None:
        loaded = await self._load(cmd.get("model"))
        self.slots.append(loaded)
        self.send_ok(req_id, loaded.describe(len(self.slots) - 1))

    def _index(self, cmd: dict[str, Any]) -> int:
        index = cmd.get("index")
        if not isinstance(index, int) or not 0 <= index < len(self.slots):
            raise ProtocolError("unknown_model", f"model index {index} is out of range (have {len(self.slots)})")
        return index

    async def cmd_unload(self, req_id: int, cmd: dict[str, Any]) -> None:
        index = self._index(cmd)
        self.slots[index] = None  # requests already accepted hold their own reference
        self.send_ok(req_id, {"index": index, "unloaded": True})

    async def cmd_replace(self, req_id: int, cmd: dict[str, Any]) -> None:
        index = self._index(cmd)
        loaded = await self._load(cmd.get("model"))
        self.slots[index] = loaded
        self.send_ok(req_id, loaded.describe(index))

    async def cmd_status(self, req_id: int, _cmd: dict[str, Any]) -> None:
        assert self.config is not None
        self.send_ok(
            req_id,
            {
                "runtime": self.config.runtime,
                "device": self.config.device,
                "models": [self._describe(i) for i in range(len(self.slots))],
                "queued": len(self.tasks),
                "served": self.served,
                "failed": self.failed,
                "cachedFrames": len(self.cache),
                "uptimeMs": round(_ms(self.started), 1),
            },
        )

    async def cmd_shutdown(self, req_id: int, _cmd: dict[str, Any]) -> None:
        self.shutting_down = True
        await self.finish()
        self.send_ok(req_id, {"shutdown": True})

    async def finish(self) -> None:
        """Answers every accepted request (flushing batch windows) before the process exits."""
        while True:
            for slot in self.slots:
                if isinstance(slot, LoadedModel):
                    await slot.batcher.drain()
            if not self.tasks:
                return
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def close(self) -> None:
        for pool in (self.prepare_pool, self.predict_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)


def _timed_prepare(
    make: Callable[[Image, InputSpec], Prepared], image: Image, spec_input: InputSpec, index: int, count: int
) -> tuple[Prepared, float]:
    start = time.perf_counter()
    try:
        prepared = make(image, spec_input)
    except ProtocolError as err:
        if count > 1:
            raise ProtocolError(err.code, f"item {index}: {err.message}") from None
        raise
    return prepared, _ms(start)


#: Largest shrink per axis prepared on the event loop: the plugin's runtimes resize up to the same
#: factor themselves (MAX_RESIZE_FACTOR in src/runtimes/runtime.ts), so its frames all qualify.
_INLINE_SHRINK = 2


def _cheap_to_place(image: Image, spec_input: InputSpec) -> bool:
    """Raw pixels placed as they are, or auto-placed from at most _INLINE_SHRINK times the model input per axis."""
    if not isinstance(image, RawImage):
        return False
    return not image.auto or (
        image.width <= _INLINE_SHRINK * spec_input.width and image.height <= _INLINE_SHRINK * spec_input.height
    )


def _decode_frame(
    spec: ModelSpec, prefix: DecodePrefix, placement: Placement, outputs: Outputs, index: int
) -> tuple[list[list[float]], float]:
    """One frame's detections as [class, score, x1, y1, x2, y2] rows in its source pixels."""
    start = time.perf_counter()
    rows = []
    for d in decode(spec, outputs, index, prefix.confidence, prefix.iou, prefix.max_detections):
        x1, y1, x2, y2 = placement.to_source(d.box)
        rows.append([d.class_id, round(d.score, 5), round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)])
    return rows, _ms(start)


def _result(call: CallOutput, prepare_ms: float) -> dict[str, Any]:
    return {
        "detections": call.result,
        "timings": {
            "queueMs": round(max(0.0, call.queue_ms), 3),
            "preprocessMs": round(prepare_ms, 3),
            "predictMs": round(call.predict_ms, 3),
            "postprocessMs": round(call.decode_ms, 3),
            "batchSize": call.batch_size,
        },
    }
