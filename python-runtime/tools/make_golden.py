"""Writes the golden byte vectors of protocol v2 to test/golden/protocol/ (run once; commit the output).

The bytes are assembled here with `struct` straight from docs/protocol.md, not with either codec,
so both the TypeScript and the Python codecs are checked against an independent construction.
Usage: python tools/make_golden.py
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[2] / "test" / "golden" / "protocol"

# A tiny real JPEG is not needed for framing: any bytes stand in for "the JPEG".
JPEG = bytes.fromhex("ffd8ffe000104a464946000101ffd9")
PREFIX = {"modelIdx": 1, "confidence": 0.25, "iou": 0.5, "maxDetections": 100}


def prefix(p: dict[str, Any]) -> bytes:
    return struct.pack("<BffH", p["modelIdx"], p["confidence"], p["iou"], p["maxDetections"])


def request(req_id: int, msg_type: int, payload: bytes) -> bytes:
    return struct.pack("<IIB", 5 + len(payload), req_id, msg_type) + payload


def response(req_id: int, status: int, payload: bytes) -> bytes:
    return struct.pack("<IIB", 5 + len(payload), req_id, status) + payload


def js(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    vectors: list[dict[str, Any]] = []

    def add(name: str, data: bytes, **entry: Any) -> None:
        (OUT / f"{name}.bin").write_bytes(data)
        vectors.append({"file": f"{name}.bin", "bytes": len(data), **entry})

    cmd = {"cmd": "status"}
    add("command-status", request(7, 0x00, js(cmd)), kind="request", reqId=7, msgType=0, command=cmd)
    configure = {
        "cmd": "configure",
        "protocol": 2,
        "runtime": "openvino",
        "device": "AUTO",
        "concurrency": 2,
        "batch": {"mode": "window", "windowMs": 10, "maxBatchSize": 4},
        "models": [],
        "sharedFd": 3,
    }
    add("command-configure", request(1, 0x00, js(configure)), kind="request", reqId=1, msgType=0, command=configure)
    add(
        "infer-jpeg",
        request(0x01020304, 0x01, prefix(PREFIX) + JPEG),
        kind="request",
        reqId=0x01020304,
        msgType=1,
        prefix=PREFIX,
        jpegHex=JPEG.hex(),
    )
    pixels = bytes(range(2 * 3 * 3))  # 2x3 RGB
    raw = {"width": 2, "height": 3, "format": 0, "x": 10, "y": 20, "pixelsHex": pixels.hex()}
    add(
        "infer-raw-placed",
        request(42, 0x02, prefix(PREFIX) + struct.pack("<IIBHH", 2, 3, 0, 10, 20) + pixels),
        kind="request",
        reqId=42,
        msgType=2,
        prefix=PREFIX,
        image=raw,
    )
    gray = bytes([0, 128, 255, 64])
    auto = {"width": 2, "height": 2, "format": 2, "x": 0xFFFF, "y": 0xFFFF, "pixelsHex": gray.hex()}
    add(
        "infer-raw-auto-gray",
        request(43, 0x02, prefix(PREFIX) + struct.pack("<IIBHH", 2, 2, 2, 0xFFFF, 0xFFFF) + gray),
        kind="request",
        reqId=43,
        msgType=2,
        prefix=PREFIX,
        image=auto,
    )
    bgr = bytes([9, 8, 7])
    items = [
        {"width": 1, "height": 1, "format": 1, "x": 0, "y": 0, "dataHex": bgr.hex()},
        {"width": 0, "height": 0, "format": 3, "x": 0xFFFF, "y": 0xFFFF, "dataHex": JPEG.hex()},
    ]
    body = prefix(PREFIX) + bytes([2])
    body += struct.pack("<IIBHHI", 1, 1, 1, 0, 0, len(bgr)) + bgr
    body += struct.pack("<IIBHHI", 0, 0, 3, 0xFFFF, 0xFFFF, len(JPEG)) + JPEG
    add("infer-batch", request(44, 0x03, body), kind="request", reqId=44, msgType=3, prefix=PREFIX, items=items)
    cache = {"width": 2, "height": 3, "format": 0, "x": 0, "y": 0, "pixelsHex": pixels.hex()}
    add(
        "cache-frame",
        request(45, 0x04, struct.pack("<I", 0xCAFE) + struct.pack("<IIBHH", 2, 3, 0, 0, 0) + pixels),
        kind="request",
        reqId=45,
        msgType=4,
        frameId=0xCAFE,
        image=cache,
    )
    add(
        "infer-cached",
        request(46, 0x05, prefix(PREFIX) + bytes([2]) + struct.pack("<II", 0xCAFE, 7)),
        kind="request",
        reqId=46,
        msgType=5,
        prefix=PREFIX,
        frameIds=[0xCAFE, 7],
    )

    # Two RGB frames lying back to back in the shared memory from byte 4096 (infer_shared).
    shared = [
        {"width": 4, "height": 2, "format": 0, "x": 0xFFFF, "y": 0xFFFF, "offset": 4096, "size": 24},
        {"width": 2, "height": 1, "format": 1, "x": 0, "y": 52, "offset": 4120, "size": 6},
    ]
    body = prefix(PREFIX) + bytes([len(shared)])
    for i in shared:
        body += struct.pack("<IIBHHII", i["width"], i["height"], i["format"], i["x"], i["y"], i["offset"], i["size"])
    add("infer-shared", request(47, 0x06, body), kind="request", reqId=47, msgType=6, prefix=PREFIX, shared=shared)

    result = {
        "results": [
            {
                "detections": [[16, 0.85696, 132.58, 205.69, 326.71, 543.74]],
                "timings": {
                    "queueMs": 0.1,
                    "preprocessMs": 1.5,
                    "predictMs": 11.25,
                    "postprocessMs": 0.5,
                    "batchSize": 1,
                },
            }
        ]
    }
    add("response-ok-results", response(42, 0x00, js(result)), kind="response", reqId=42, status=0, json=result)
    err = {"code": "unknown_model", "message": "model index 9 is out of range (have 1)"}
    add("response-error", response(0xFFFFFFFF, 0x01, js(err)), kind="response", reqId=0xFFFFFFFF, status=1, json=err)

    # Faults: what a pool must answer (code) when it reads these bytes.
    add(
        "fault-truncated-header",
        struct.pack("<II", 4, 77),
        kind="fault",
        reqId=77,
        expectError="truncated_header",
    )
    add(
        "fault-4gb-length",
        struct.pack("<II", 0xFFFFFFFF, 78),
        kind="fault",
        reqId=78,
        expectError="frame_too_large",
        note="only the 8 header bytes: the pool answers before any body arrives",
    )
    add("fault-unknown-type", request(79, 0x09, b"xyz"), kind="fault", reqId=79, expectError="unknown_message_type")
    add(
        "fault-size-mismatch",
        request(80, 0x02, prefix({**PREFIX, "modelIdx": 0}) + struct.pack("<IIBHH", 4, 4, 0, 0, 0) + bytes(5)),
        kind="fault",
        reqId=80,
        expectError="bad_payload",
    )
    add(
        "fault-truncated-payload",
        request(81, 0x02, prefix(PREFIX)[:6]),
        kind="fault",
        reqId=81,
        expectError="bad_payload",
    )
    manifest = {
        "protocol": 2,
        "about": "Golden vectors of docs/protocol.md v2; made by python-runtime/tools/make_golden.py",
        "vectors": vectors,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(vectors)} vectors to {OUT}")


if __name__ == "__main__":
    main()
