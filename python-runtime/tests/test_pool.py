"""The pool process end to end over its pipes: every message type, faults, batch modes."""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pool_client import MEDIA, MODELS, PoolProcess, batch_payload, cache_payload, model, prefix, raw_payload

from nvr_pool.protocol import PLACE_AUTO, MsgType, encode_raw_header, encode_request

pytest.importorskip("openvino")
if not (MODELS / "yolox_nano.onnx").exists():
    pytest.skip(f"no models at {MODELS}", allow_module_level=True)

DOG = (MEDIA / "dog.jpg").read_bytes()
COCO_DOG, COCO_BICYCLE, COCO_CAR = 16, 1, 2


def dog_placed() -> tuple[bytes, int, int]:
    """dog.jpg letterboxed for 416x416 by the sender (what the TypeScript side does): RGB 416x312."""
    bgr = cv2.imdecode(np.frombuffer(DOG, np.uint8), cv2.IMREAD_COLOR)
    small = cv2.resize(bgr, (416, 312), interpolation=cv2.INTER_LINEAR)
    return small[:, :, ::-1].tobytes(), 416, 312


def iou(a: list[float], b: list[float]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, iw) * max(0.0, ih)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def classes(result: dict) -> set[int]:
    return {d[0] for d in result["detections"]}


TRANSPORTS = ["pipe", "socket"]  # socket: what Node's child_process gives the pool


@pytest.fixture(scope="module", params=TRANSPORTS)
def pool(request: pytest.FixtureRequest) -> Iterator[PoolProcess]:
    p = PoolProcess(request.param)
    ready = p.configure(
        "openvino",
        models=[model("yolox_nano"), {"spec": model("yolox_nano")["spec"], "path": "/nonexistent/model.onnx"}],
    )
    assert ready["ready"] and ready["protocol"] == 2
    assert ready["models"][0]["loaded"] is True
    assert ready["models"][1]["loaded"] is False and "nonexistent" in ready["models"][1]["error"]
    yield p
    assert p.close() == 0


def test_infer_jpeg_finds_dog_bicycle_car(pool: PoolProcess) -> None:
    status, value = pool.call(MsgType.INFER_JPEG, prefix() + DOG)
    assert status == 0, value
    (result,) = value["results"]
    assert {COCO_DOG, COCO_BICYCLE, COCO_CAR} <= classes(result)
    dog = next(d for d in result["detections"] if d[0] == COCO_DOG)
    # MODELS.md: dog 0.85 [133,205,190,337] (x, y, w, h) in original pixels
    assert dog[1] == pytest.approx(0.85, abs=0.03)
    assert dog[2:] == pytest.approx([133, 205, 323, 542], abs=6)
    timings = result["timings"]
    assert timings["batchSize"] == 1 and timings["predictMs"] > 0 and timings["preprocessMs"] > 0


def test_infer_raw_placed_returns_boxes_in_received_pixels(pool: PoolProcess) -> None:
    pixels, w, h = dog_placed()
    status, value = pool.call(MsgType.INFER_RAW, raw_payload(pixels, w, h, 0, 0, 0))
    assert status == 0, value
    dog = next(d for d in value["results"][0]["detections"] if d[0] == COCO_DOG)
    scale = 416 / 768
    assert dog[2:] == pytest.approx([133 * scale, 205 * scale, 323 * scale, 542 * scale], abs=4)
    # Same frame placed lower: boxes come back minus the offset (the network itself shifts a little).
    status, shifted = pool.call(MsgType.INFER_RAW, raw_payload(pixels, w, h, 0, 0, 104))
    dog2 = next(d for d in shifted["results"][0]["detections"] if d[0] == COCO_DOG)
    assert iou(dog2[2:], dog[2:]) > 0.9


def test_infer_raw_bgr_and_gray_and_auto(pool: PoolProcess) -> None:
    bgr = cv2.imdecode(np.frombuffer(DOG, np.uint8), cv2.IMREAD_COLOR)
    status, value = pool.call(MsgType.INFER_RAW, raw_payload(bgr.tobytes(), 768, 576, 1))  # auto letterbox
    assert status == 0 and {COCO_DOG, COCO_BICYCLE, COCO_CAR} <= classes(value["results"][0])
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    status, value = pool.call(MsgType.INFER_RAW, raw_payload(gray.tobytes(), 768, 576, 2))
    assert status == 0 and COCO_DOG in classes(value["results"][0])


def test_infer_batch_mixed_items(pool: PoolProcess) -> None:
    pixels, w, h = dog_placed()
    payload = batch_payload([(w, h, 0, 0, 0, pixels), (0, 0, 3, PLACE_AUTO, PLACE_AUTO, DOG)])
    status, value = pool.call(MsgType.INFER_BATCH, payload)
    assert status == 0, value
    assert len(value["results"]) == 2
    assert all({COCO_DOG, COCO_BICYCLE, COCO_CAR} <= classes(r) for r in value["results"])


def test_cache_frame_and_infer_cached(pool: PoolProcess) -> None:
    pixels, w, h = dog_placed()
    status, value = pool.call(MsgType.CACHE_FRAME, cache_payload(5, pixels, w, h))
    assert status == 0 and value == {"cached": 5, "bytes": len(pixels)}
    status, value = pool.call(MsgType.INFER_CACHED, prefix() + bytes([2]) + struct.pack("<II", 5, 5))
    assert status == 0 and len(value["results"]) == 2 and COCO_DOG in classes(value["results"][1])
    status, value = pool.call(MsgType.INFER_CACHED, prefix() + bytes([1]) + struct.pack("<I", 999))
    assert status == 1 and value["code"] == "unknown_frame"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_burst_behind_configure_is_read_frame_by_frame(transport: str) -> None:
    """Frames written while the pool compiles its model fill the socket reader's read-ahead, which
    pauses reading, and are then read frame by frame (after the partly read read-ahead is moved to
    the front); large frames go around the read-ahead."""
    p = PoolProcess(transport)
    try:
        configure = {"cmd": "configure", "protocol": 2, "runtime": "onnx-python", "device": "cpu"}
        configure["models"] = [model("yolox_nano")]
        early = encode_request(2, MsgType.COMMAND, json.dumps({"cmd": "status"}).encode())
        burst = [early, encode_request(1, MsgType.COMMAND, json.dumps(configure).encode())]
        pixels, w, h = dog_placed()
        tiny = bytes(range(48)) * 16  # a 16x16 RGB frame: 768 bytes in, a 40-byte answer out
        ids = []
        for i in range(240):  # ~190 KB of small frames: three times the read-ahead
            req_id = 9000 + i
            ids.append(req_id)
            if i % 80 == 40:
                burst.append(encode_request(req_id, MsgType.INFER_RAW, raw_payload(pixels, w, h, 0, 0, 52)))
            else:
                burst.append(encode_request(req_id, MsgType.CACHE_FRAME, cache_payload(100 + i, tiny, 16, 16)))
        p.send_raw(b"".join(burst))
        assert p.recv()[:2] == (2, 1)  # not configured yet: read, then the read-ahead fills behind it
        assert p.recv()[:2] == (1, 0)
        answers = {}
        for _ in ids:
            req_id, status, value = p.recv()
            assert status == 0, value
            answers[req_id] = value
        assert sorted(answers) == ids
        assert answers[9001] == {"cached": 101, "bytes": 768}
        assert all(COCO_DOG in classes(answers[i]["results"][0]) for i in (9040, 9120, 9200))
    finally:
        assert p.close() == 0


def test_commands_status_load_replace_unload(pool: PoolProcess) -> None:
    status, value = pool.command({"cmd": "status"})
    assert status == 0 and value["runtime"] == "openvino" and value["served"] > 0
    status, value = pool.command({"cmd": "load", "model": model("yolox_nano")})
    assert status == 0 and value["loaded"] and value["index"] == 2
    status, value = pool.command({"cmd": "replace", "index": 2, "model": model("yolox_nano")})
    assert status == 0 and value["index"] == 2
    status, value = pool.command({"cmd": "replace", "index": 2, "model": {**model("yolox_nano"), "path": "/bad.onnx"}})
    assert status == 1 and value["code"] == "model_load_failed"
    status, value = pool.call(MsgType.INFER_JPEG, prefix(model_idx=2) + DOG)
    assert status == 0  # the old model stayed after the failed replace
    status, value = pool.command({"cmd": "unload", "index": 2})
    assert status == 0 and value["unloaded"]
    status, value = pool.call(MsgType.INFER_JPEG, prefix(model_idx=2) + DOG)
    assert status == 1 and value["code"] == "unknown_model"
    status, value = pool.command({"cmd": "nope"})
    assert status == 1 and value["code"] == "bad_command"
    status, value = pool.call(MsgType.COMMAND, b"{not json")
    assert status == 1 and value["code"] == "bad_command"
    status, value = pool.command({"cmd": "configure", "protocol": 2})
    assert status == 1 and value["code"] == "already_configured"


FAULTS = [
    ("truncated header", struct.pack("<II", 4, 501), 501, "truncated_header"),
    ("unknown type", struct.pack("<IIB", 5, 502, 0x09), 502, "unknown_message_type"),
    ("truncated payload", struct.pack("<IIB", 8, 503, 0x02) + b"\x00\x00\x00", 503, "bad_payload"),
    (
        "w*h not matching payload",
        struct.pack("<IIB", 5 + 11 + 13 + 7, 504, 0x02) + prefix() + encode_raw_header(4, 4, 0, 0, 0) + bytes(7),
        504,
        "bad_payload",
    ),
    (
        "bad pixel format",
        struct.pack("<IIB", 5 + 11 + 13 + 3, 505, 0x02) + prefix() + encode_raw_header(1, 1, 7, 0, 0) + bytes(3),
        505,
        "bad_format",
    ),
    ("corrupt jpeg", struct.pack("<IIB", 5 + 11 + 100, 506, 0x01) + prefix() + DOG[:2] + bytes(98), 506, "bad_image"),
    (
        "model index out of range",
        struct.pack("<IIB", 5 + 11 + len(DOG), 507, 0x01) + prefix(model_idx=9) + DOG,
        507,
        "unknown_model",
    ),
    (
        "model that failed to load",
        struct.pack("<IIB", 5 + 11 + len(DOG), 508, 0x01) + prefix(model_idx=1) + DOG,
        508,
        "model_not_loaded",
    ),
    (
        "placement outside the input",
        struct.pack("<IIB", 5 + 11 + 13 + 300, 509, 0x02)
        + prefix()
        + encode_raw_header(10, 10, 0, 410, 0)
        + bytes(300),
        509,
        "bad_placement",
    ),
]


@pytest.mark.parametrize(("name", "data", "req_id", "code"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_is_answered_with_its_id_and_pool_keeps_serving(
    pool: PoolProcess, name: str, data: bytes, req_id: int, code: str
) -> None:
    pool.send_raw(data)
    got_id, status, value = pool.recv()
    assert (got_id, status, value["code"]) == (req_id, 1, code), name
    status, value = pool.call(MsgType.INFER_JPEG, prefix() + DOG)
    assert status == 0 and COCO_DOG in classes(value["results"][0])


def test_golden_faults_get_their_codes(pool: PoolProcess) -> None:
    manifest = json.loads((Path(__file__).resolve().parents[2] / "test/golden/protocol/manifest.json").read_text())
    for v in manifest["vectors"]:
        if v["kind"] != "fault" or v["expectError"] == "frame_too_large":
            continue
        pool.send_raw((Path(__file__).resolve().parents[2] / "test/golden/protocol" / v["file"]).read_bytes())
        got_id, status, value = pool.recv()
        assert (got_id, status, value["code"]) == (v["reqId"], 1, v["expectError"]), v["file"]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_4gb_length_is_refused_at_once_without_allocating(transport: str) -> None:
    p = PoolProcess(transport)
    try:
        p.configure("onnx-python", models=[])
        before = rss_kib(p.proc.pid)
        start = time.perf_counter()
        p.send_raw(struct.pack("<II", 0xFFFFFFFF, 600))
        got_id, status, value = p.recv()
        assert (got_id, status, value["code"]) == (600, 1, "frame_too_large")
        assert time.perf_counter() - start < 2
        assert rss_kib(p.proc.pid) - before < 64 * 1024  # nowhere near 4 GiB
    finally:
        assert p.close() == 0  # end of input inside the discarded body: a clean exit


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_oversized_frame_is_skipped_and_pool_keeps_serving(transport: str) -> None:
    p = PoolProcess(transport)
    try:
        p.configure("onnx-python", maxFrameBytes=65536)
        big = 200_000
        p.send_raw(struct.pack("<IIB", big, 601, 0x01) + bytes(big - 5))
        got_id, status, value = p.recv()
        assert (got_id, status, value["code"]) == (601, 1, "frame_too_large")
        dog = cv2.imdecode(np.frombuffer(DOG, np.uint8), cv2.IMREAD_COLOR)
        small = cv2.resize(dog, (64, 48))
        status, value = p.call(MsgType.INFER_RAW, raw_payload(small.tobytes(), 64, 48, 1))
        assert status == 0
    finally:
        assert p.close() == 0


def test_before_configure_and_bad_configure() -> None:
    p = PoolProcess()
    try:
        status, value = p.call(MsgType.INFER_JPEG, prefix() + DOG)
        assert status == 1 and value["code"] == "not_configured"
        status, value = p.command({"cmd": "configure", "protocol": 1, "runtime": "openvino"})
        assert status == 1 and value["code"] == "protocol_mismatch"
        status, value = p.command({"cmd": "configure", "protocol": 2, "runtime": "coreml"})
        assert status == 1 and value["code"] == "runtime_unavailable" and "CoreML needs macOS" in value["message"]
        status, value = p.command({"cmd": "configure", "protocol": 2, "runtime": "tflite"})
        assert status == 1 and value["code"] == "runtime_unavailable"
        assert p.configure("onnx-python")["ready"]
        status, value = p.command({"cmd": "shutdown"})
        assert status == 0 and value == {"shutdown": True}
        assert p.proc.wait(timeout=10) == 0
    finally:
        p.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_truncated_frame_at_end_of_input_is_answered(transport: str) -> None:
    p = PoolProcess(transport)
    p.configure("onnx-python", models=[])
    p.send_raw(struct.pack("<IIB", 1000, 700, 0x01) + b"abc")
    p.end_input()
    got_id, status, value = p.recv()
    assert (got_id, status, value["code"]) == (700, 1, "truncated_frame")
    assert p.proc.wait(timeout=10) == 0


def shared_payload(items: list[tuple[int, int, int, int, int, int, int]], **kw: Any) -> bytes:
    """An INFER_SHARED payload: (w, h, fmt, x, y, offset, size) per item."""
    return prefix(**kw) + bytes([len(items)]) + b"".join(struct.pack("<IIBHHII", *item) for item in items)


def test_infer_shared_reads_pixels_in_place_and_answers_like_infer_raw(tmp_path: Path) -> None:
    """Frames written into a file the pool inherits: same answers as the bytes sent in the frame,
    a file grown after the pool mapped it, ranges outside it refused by name, the pool serving on."""
    pixels, w, h = dog_placed()
    bgr = cv2.imdecode(np.frombuffer(DOG, np.uint8), cv2.IMREAD_COLOR)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1]).tobytes()
    with open(tmp_path / "frames", "w+b") as memory:
        memory.truncate(len(pixels) + 100)
        os.pwrite(memory.fileno(), pixels, 100)
        p = PoolProcess("socket", shared=memory.fileno())
        try:
            assert p.configure("openvino", sharedFd=memory.fileno())["sharedMemory"] is True
            status, sent = p.call(MsgType.INFER_RAW, raw_payload(pixels, w, h, 0, 0, 0))
            status, shared = p.call(MsgType.INFER_SHARED, shared_payload([(w, h, 0, 0, 0, 100, len(pixels))]))
            assert status == 0, shared
            assert shared["results"][0]["detections"] == sent["results"][0]["detections"]
            assert {COCO_DOG, COCO_BICYCLE, COCO_CAR} <= classes(shared["results"][0])

            # Grown past the pool's map: a source-size frame (auto placement) behind the first one.
            at = 100 + len(pixels)
            memory.truncate(at + len(rgb))
            os.pwrite(memory.fileno(), rgb, at)
            items = [(w, h, 0, 0, 0, 100, len(pixels)), (768, 576, 0, PLACE_AUTO, PLACE_AUTO, at, len(rgb))]
            status, both = p.call(MsgType.INFER_SHARED, shared_payload(items))
            assert status == 0, both
            assert all({COCO_DOG, COCO_BICYCLE, COCO_CAR} <= classes(r) for r in both["results"])

            end = at + len(rgb)
            status, value = p.call(MsgType.INFER_SHARED, shared_payload([(w, h, 0, 0, 0, end - 10, len(pixels))]))
            assert status == 1 and value["code"] == "bad_payload" and "outside the" in value["message"]
            status, value = p.call(MsgType.INFER_SHARED, shared_payload([(w, h, 0, 0, 0, 100, len(pixels) - 1)]))
            assert status == 1 and value["code"] == "bad_payload" and "needs" in value["message"]
            status, value = p.call(MsgType.INFER_SHARED, shared_payload([(w, h, 3, 0, 0, 100, len(pixels))]))
            assert status == 1 and value["code"] == "bad_format"
            status, value = p.call(MsgType.INFER_SHARED, prefix() + bytes([1]) + b"\0" * 5)
            assert status == 1 and value["code"] == "bad_payload"
            status, again = p.call(MsgType.INFER_SHARED, shared_payload([(w, h, 0, 0, 0, 100, len(pixels))]))
            assert status == 0 and again["results"][0]["detections"] == sent["results"][0]["detections"]
        finally:
            assert p.close() == 0


def test_infer_shared_without_shared_memory_is_refused(pool: PoolProcess) -> None:
    pixels, w, h = dog_placed()
    status, value = pool.call(MsgType.INFER_SHARED, shared_payload([(w, h, 0, 0, 0, 0, len(pixels))]))
    assert status == 1 and value["code"] == "no_shared_memory"
    # A descriptor that is not a regular file: the pool says so, and serves frames sent in the socket.
    read_end, write_end = os.pipe()
    p = PoolProcess("socket", shared=read_end)
    try:
        assert p.configure("openvino", sharedFd=read_end)["sharedMemory"] is False
        status, value = p.call(MsgType.INFER_SHARED, shared_payload([(w, h, 0, 0, 0, 0, len(pixels))]))
        assert status == 1 and value["code"] == "no_shared_memory"
        status, value = p.call(MsgType.INFER_RAW, raw_payload(pixels, w, h, 0, 0, 0))
        assert status == 0 and COCO_DOG in classes(value["results"][0])
    finally:
        os.close(read_end)
        os.close(write_end)
        assert p.close() == 0


@pytest.mark.parametrize("runtime", ["openvino", "onnx-python"])
def test_answers_from_inference_threads_under_load_and_a_failed_decode(runtime: str) -> None:
    """Answers are written by the threads that decode them (OpenVINO's callbacks, ONNX Runtime's
    predict threads), several at once: 48 requests in flight all come back whole, each once; a
    frame whose decoding fails is answered inference_failed from there, and the pool serves on."""
    pixels, w, h = dog_placed()
    wrong = model("yolox_nano")
    # YOLOX's output, [1, 3549, 85], is not the [N, 84, n] a YOLOv8 decoder reads.
    wrong["spec"] = {**wrong["spec"], "name": "wrong", "decoder": {"kind": "yolov8"}}
    p = PoolProcess("socket")
    try:
        p.configure(runtime, models=[model("yolox_nano"), wrong])
        ids = [p.send(MsgType.INFER_RAW, raw_payload(pixels, w, h, 0, 0, 0)) for _ in range(48)]
        answers = dict(p.recv()[0:3:2] for _ in ids)  # a torn or interleaved answer fails to parse here
        assert sorted(answers) == ids
        assert all(COCO_DOG in classes(a["results"][0]) for a in answers.values())
        status, value = p.call(MsgType.INFER_RAW, raw_payload(pixels, w, h, 0, 0, 0, model_idx=1))
        assert status == 1 and value["code"] == "inference_failed"
        assert "OutputLayoutError" in value["message"] and "expects [N, 84, N]" in value["message"]
        status, value = p.call(MsgType.INFER_RAW, raw_payload(pixels, w, h, 0, 0, 0))
        assert status == 0 and COCO_DOG in classes(value["results"][0])
    finally:
        assert p.close() == 0
