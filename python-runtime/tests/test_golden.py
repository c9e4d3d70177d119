"""The Python codec against the golden bytes of test/golden/protocol (the TypeScript one is checked
against the same files in test/python-pool/golden.test.ts)."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from pool_client import GOLDEN

from nvr_pool.protocol import (
    DecodePrefix,
    EncodedImage,
    MsgType,
    RawImage,
    encode_batch_item,
    encode_error,
    encode_ok,
    encode_prefix,
    encode_raw_header,
    encode_request,
    parse_cache_frame,
    parse_command,
    parse_infer_batch,
    parse_infer_cached,
    parse_infer_jpeg,
    parse_infer_raw,
    parse_infer_shared,
)

MANIFEST = json.loads((GOLDEN / "protocol" / "manifest.json").read_text())
VECTORS = {v["file"]: v for v in MANIFEST["vectors"]}


def load(name: str) -> bytes:
    return (GOLDEN / "protocol" / name).read_bytes()


def split(data: bytes) -> tuple[int, int, memoryview]:
    length, req_id, kind = struct.unpack_from("<IIB", data)
    assert length == len(data) - 4
    return req_id, kind, memoryview(data)[9:]


def to_prefix(p: dict[str, Any]) -> DecodePrefix:
    return DecodePrefix(p["modelIdx"], p["confidence"], p["iou"], p["maxDetections"])


def check_raw(image: Any, expected: dict[str, Any]) -> None:
    assert isinstance(image, RawImage)
    assert (image.width, image.height, image.fmt, image.x, image.y) == (
        expected["width"],
        expected["height"],
        expected["format"],
        expected["x"],
        expected["y"],
    )
    assert bytes(image.pixels).hex() == expected["pixelsHex"]


def encode(v: dict[str, Any]) -> bytes:
    """Re-encodes a vector from its manifest description with the Python encoders."""
    t = v["msgType"]
    if t == MsgType.COMMAND:
        return encode_request(v["reqId"], t, json.dumps(v["command"], separators=(",", ":")).encode())
    if t == MsgType.CACHE_FRAME:
        i = v["image"]
        body = struct.pack("<I", v["frameId"]) + encode_raw_header(i["width"], i["height"], i["format"], i["x"], i["y"])
        return encode_request(v["reqId"], t, body + bytes.fromhex(i["pixelsHex"]))
    body = encode_prefix(to_prefix(v["prefix"]))
    if t == MsgType.INFER_JPEG:
        body += bytes.fromhex(v["jpegHex"])
    elif t == MsgType.INFER_RAW:
        i = v["image"]
        body += encode_raw_header(i["width"], i["height"], i["format"], i["x"], i["y"]) + bytes.fromhex(i["pixelsHex"])
    elif t == MsgType.INFER_BATCH:
        body += bytes([len(v["items"])])
        for i in v["items"]:
            body += encode_batch_item(i["width"], i["height"], i["format"], i["x"], i["y"], bytes.fromhex(i["dataHex"]))
    elif t == MsgType.INFER_CACHED:
        body += bytes([len(v["frameIds"])]) + struct.pack(f"<{len(v['frameIds'])}I", *v["frameIds"])
    elif t == MsgType.INFER_SHARED:
        body += bytes([len(v["shared"])])
        for i in v["shared"]:
            header = encode_raw_header(i["width"], i["height"], i["format"], i["x"], i["y"])
            body += header + struct.pack("<II", i["offset"], i["size"])
    return encode_request(v["reqId"], t, body)


REQUESTS = [v for v in MANIFEST["vectors"] if v["kind"] == "request"]


@pytest.mark.parametrize("vector", REQUESTS, ids=[v["file"] for v in REQUESTS])
def test_request_decodes(vector: dict[str, Any]) -> None:
    req_id, msg_type, payload = split(load(vector["file"]))
    assert (req_id, msg_type) == (vector["reqId"], vector["msgType"])
    if msg_type == MsgType.COMMAND:
        assert parse_command(payload) == vector["command"]
    elif msg_type == MsgType.INFER_JPEG:
        req = parse_infer_jpeg(payload)
        assert req.prefix == to_prefix(vector["prefix"])
        assert isinstance(req.images[0], EncodedImage)
        assert bytes(req.images[0].data).hex() == vector["jpegHex"]
    elif msg_type == MsgType.INFER_RAW:
        req = parse_infer_raw(payload)
        assert req.prefix == to_prefix(vector["prefix"])
        check_raw(req.images[0], vector["image"])
    elif msg_type == MsgType.INFER_BATCH:
        req = parse_infer_batch(payload)
        assert len(req.images) == len(vector["items"])
        for image, item in zip(req.images, vector["items"]):
            if item["format"] == 3:
                assert isinstance(image, EncodedImage)
                assert bytes(image.data).hex() == item["dataHex"]
            else:
                check_raw(image, {**item, "pixelsHex": item["dataHex"]})
    elif msg_type == MsgType.CACHE_FRAME:
        frame = parse_cache_frame(payload)
        assert frame.frame_id == vector["frameId"]
        check_raw(frame.image, vector["image"])
    elif msg_type == MsgType.INFER_CACHED:
        cached = parse_infer_cached(payload)
        assert cached.prefix == to_prefix(vector["prefix"])
        assert cached.frame_ids == vector["frameIds"]
    elif msg_type == MsgType.INFER_SHARED:
        shared = parse_infer_shared(payload)
        assert shared.prefix == to_prefix(vector["prefix"])
        got = [(i.width, i.height, i.fmt, i.x, i.y, i.offset, i.size) for i in shared.items]
        keys = ("width", "height", "format", "x", "y", "offset", "size")
        assert got == [tuple(i[k] for k in keys) for i in vector["shared"]]
    else:
        raise AssertionError(f"no check for message type {msg_type}")


@pytest.mark.parametrize("vector", REQUESTS, ids=[v["file"] for v in REQUESTS])
def test_request_encodes_to_golden_bytes(vector: dict[str, Any]) -> None:
    assert encode(vector) == load(vector["file"])


def test_responses_encode_to_golden_bytes() -> None:
    ok = VECTORS["response-ok-results.bin"]
    assert encode_ok(ok["reqId"], ok["json"]) == load(ok["file"])
    err = VECTORS["response-error.bin"]
    assert encode_error(err["reqId"], err["json"]["code"], err["json"]["message"]) == load(err["file"])
