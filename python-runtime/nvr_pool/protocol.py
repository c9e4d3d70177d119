"""Wire codec of protocol version 2 (docs/protocol.md): pure functions, no I/O."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Union

from . import PROTOCOL_VERSION

__all__ = [
    "DEFAULT_MAX_FRAME",
    "PLACE_AUTO",
    "PROTOCOL_VERSION",
    "CacheFrame",
    "DecodePrefix",
    "EncodedImage",
    "InferCached",
    "InferRequest",
    "InferShared",
    "MsgType",
    "PixelFormat",
    "ProtocolError",
    "RawImage",
    "Status",
    "channels_of",
    "encode_error",
    "encode_ok",
    "encode_request",
    "parse_cache_frame",
    "parse_command",
    "parse_infer_batch",
    "parse_infer_cached",
    "parse_infer_jpeg",
    "parse_infer_raw",
    "parse_infer_shared",
]

DEFAULT_MAX_FRAME = 64 * 1024 * 1024
PLACE_AUTO = 0xFFFF

_U32 = struct.Struct("<I")
_HEADER = struct.Struct("<IIB")  # length, req_id, type/status
_PREFIX = struct.Struct("<BffH")  # model_idx, confidence, iou, max_detections
_RAW = struct.Struct("<IIBHH")  # w, h, fmt, x, y
_ITEM = struct.Struct("<IIBHHI")  # w, h, fmt, x, y, size
_SHARED_ITEM = struct.Struct("<IIBHHII")  # w, h, fmt, x, y, offset, size


class MsgType(IntEnum):
    COMMAND = 0x00
    INFER_JPEG = 0x01
    INFER_RAW = 0x02
    INFER_BATCH = 0x03
    CACHE_FRAME = 0x04
    INFER_CACHED = 0x05
    INFER_SHARED = 0x06


class Status(IntEnum):
    OK = 0x00
    ERROR = 0x01


class PixelFormat(IntEnum):
    RGB = 0
    BGR = 1
    GRAY = 2
    ENCODED = 3  # JPEG/PNG, batch items only


class ProtocolError(Exception):
    """A request that must be answered with an error; `code` is from docs/protocol.md section 2."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DecodePrefix:
    model_idx: int
    confidence: float
    iou: float
    max_detections: int


@dataclass(frozen=True)
class RawImage:
    width: int
    height: int
    fmt: PixelFormat
    x: int  # PLACE_AUTO (0xFFFF) lets the pool resize
    y: int
    pixels: bytes | memoryview

    @property
    def auto(self) -> bool:
        return self.x == PLACE_AUTO and self.y == PLACE_AUTO


@dataclass(frozen=True)
class EncodedImage:
    data: bytes | memoryview


Image = Union[RawImage, EncodedImage]


@dataclass(frozen=True)
class InferRequest:
    prefix: DecodePrefix
    images: list[Image]


@dataclass(frozen=True)
class CacheFrame:
    frame_id: int
    image: RawImage


@dataclass(frozen=True)
class InferCached:
    prefix: DecodePrefix
    frame_ids: list[int]


@dataclass(frozen=True)
class SharedItem:
    """An infer_shared item: a raw image whose pixels lie in the shared memory at `offset`."""

    width: int
    height: int
    fmt: PixelFormat
    x: int
    y: int
    offset: int
    size: int


@dataclass(frozen=True)
class InferShared:
    prefix: DecodePrefix
    items: list[SharedItem]


def channels_of(fmt: PixelFormat) -> int:
    return 1 if fmt == PixelFormat.GRAY else 3


# ---------------------------------------------------------------- encoding


def encode_request(req_id: int, msg_type: int, payload: bytes = b"") -> bytes:
    return _HEADER.pack(5 + len(payload), req_id, msg_type) + payload


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode_ok(req_id: int, result: dict[str, Any]) -> bytes:
    return encode_request(req_id, Status.OK, _json(result))  # a response has the same framing


def encode_error(req_id: int, code: str, message: str) -> bytes:
    return encode_request(req_id, Status.ERROR, _json({"code": code, "message": message}))


def encode_prefix(prefix: DecodePrefix) -> bytes:
    return _PREFIX.pack(prefix.model_idx, prefix.confidence, prefix.iou, prefix.max_detections)


def encode_raw_header(width: int, height: int, fmt: int, x: int = PLACE_AUTO, y: int = PLACE_AUTO) -> bytes:
    return _RAW.pack(width, height, fmt, x, y)


def encode_batch_item(width: int, height: int, fmt: int, x: int, y: int, data: bytes) -> bytes:
    return _ITEM.pack(width, height, fmt, x, y, len(data)) + data


# ---------------------------------------------------------------- parsing


def _bad(what: str) -> ProtocolError:
    return ProtocolError("bad_payload", what)


def _prefix(payload: memoryview) -> DecodePrefix:
    if len(payload) < _PREFIX.size:
        raise _bad(f"payload of {len(payload)} bytes is shorter than the {_PREFIX.size}-byte decode prefix")
    model_idx, confidence, iou, max_det = _PREFIX.unpack_from(payload, 0)
    if not (0.0 <= confidence <= 1.0) or not (0.0 <= iou <= 1.0):
        raise _bad(f"confidence {confidence} and iou {iou} must be in 0..1")
    return DecodePrefix(model_idx, confidence, iou, max_det)


def _fmt(value: int, allow_encoded: bool) -> PixelFormat:
    if value > PixelFormat.GRAY and not (allow_encoded and value == PixelFormat.ENCODED):
        raise ProtocolError("bad_format", f"pixel format {value} is not 0 (RGB), 1 (BGR) or 2 (GRAY)")
    return PixelFormat(value)


def _check_size(width: int, height: int, fmt: PixelFormat, size: int, where: str) -> None:
    if width == 0 or height == 0:
        raise ProtocolError("bad_placement", f"{where}image is {width}x{height}")
    expected = width * height * channels_of(fmt)
    if size != expected:
        raise _bad(f"{where}{width}x{height} {fmt.name} needs {expected} pixel bytes but the payload carries {size}")


def _raw(width: int, height: int, fmt: PixelFormat, x: int, y: int, pixels: memoryview, where: str) -> RawImage:
    _check_size(width, height, fmt, len(pixels), where)
    return RawImage(width, height, fmt, x, y, pixels)


def parse_command(payload: memoryview) -> dict[str, Any]:
    try:
        value = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError("bad_command", f"command is not UTF-8 JSON: {err}") from None
    if not isinstance(value, dict) or not isinstance(value.get("cmd"), str):
        raise ProtocolError("bad_command", 'command must be a JSON object with a string "cmd"')
    return value


def parse_infer_jpeg(payload: memoryview) -> InferRequest:
    prefix = _prefix(payload)
    data = payload[_PREFIX.size :]
    if not len(data):
        raise ProtocolError("bad_image", "empty JPEG")
    return InferRequest(prefix, [EncodedImage(data)])


def parse_infer_raw(payload: memoryview) -> InferRequest:
    prefix = _prefix(payload)
    if len(payload) < _PREFIX.size + _RAW.size:
        raise _bad(
            f"infer_raw payload of {len(payload)} bytes is shorter than its {_PREFIX.size + _RAW.size}-byte header"
        )
    w, h, fmt, x, y = _RAW.unpack_from(payload, _PREFIX.size)
    image = _raw(w, h, _fmt(fmt, False), x, y, payload[_PREFIX.size + _RAW.size :], "")
    return InferRequest(prefix, [image])


def _count(payload: memoryview, offset: int, what: str) -> int:
    if len(payload) < offset + 1:
        raise _bad(f"{what} payload ends before its count")
    count = payload[offset]
    if count == 0:
        raise _bad(f"{what} count is 0")
    return int(count)


def parse_infer_batch(payload: memoryview) -> InferRequest:
    prefix = _prefix(payload)
    count = _count(payload, _PREFIX.size, "infer_batch")
    offset = _PREFIX.size + 1
    images: list[Image] = []
    for i in range(count):
        where = f"item {i}: "
        if len(payload) < offset + _ITEM.size:
            raise _bad(f"{where}header truncated at byte {len(payload)}")
        w, h, fmt_value, x, y, size = _ITEM.unpack_from(payload, offset)
        offset += _ITEM.size
        if len(payload) < offset + size:
            raise _bad(f"{where}size {size} runs past the end of the payload")
        data = payload[offset : offset + size]
        offset += size
        fmt = _fmt(fmt_value, True)
        if fmt == PixelFormat.ENCODED:
            if not size:
                raise ProtocolError("bad_image", f"{where}empty JPEG")
            images.append(EncodedImage(data))
        else:
            images.append(_raw(w, h, fmt, x, y, data, where))
    if offset != len(payload):
        raise _bad(f"{len(payload) - offset} bytes after the last of {count} items")
    return InferRequest(prefix, images)


def parse_cache_frame(payload: memoryview) -> CacheFrame:
    if len(payload) < 4 + _RAW.size:
        raise _bad(f"cache_frame payload of {len(payload)} bytes is shorter than its {4 + _RAW.size}-byte header")
    (frame_id,) = _U32.unpack_from(payload, 0)
    w, h, fmt, x, y = _RAW.unpack_from(payload, 4)
    return CacheFrame(frame_id, _raw(w, h, _fmt(fmt, False), x, y, payload[4 + _RAW.size :], ""))


def parse_infer_cached(payload: memoryview) -> InferCached:
    prefix = _prefix(payload)
    count = _count(payload, _PREFIX.size, "infer_cached")
    start = _PREFIX.size + 1
    if len(payload) != start + 4 * count:
        raise _bad(f"infer_cached with {count} ids needs {start + 4 * count} bytes, got {len(payload)}")
    ids = [int(v) for v in struct.unpack_from(f"<{count}I", payload, start)]
    return InferCached(prefix, ids)


def parse_infer_shared(payload: memoryview) -> InferShared:
    prefix = _prefix(payload)
    count = _count(payload, _PREFIX.size, "infer_shared")
    start = _PREFIX.size + 1
    if len(payload) != start + _SHARED_ITEM.size * count:
        raise _bad(
            f"infer_shared with {count} items needs {start + _SHARED_ITEM.size * count} bytes, got {len(payload)}"
        )
    items = []
    for i in range(count):
        w, h, fmt_value, x, y, offset, size = _SHARED_ITEM.unpack_from(payload, start + _SHARED_ITEM.size * i)
        where = f"item {i}: " if count > 1 else ""
        fmt = _fmt(fmt_value, False)
        _check_size(w, h, fmt, size, where)
        items.append(SharedItem(w, h, fmt, x, y, offset, size))
    return InferShared(prefix, items)
