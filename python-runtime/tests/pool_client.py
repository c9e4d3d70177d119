"""A blocking test client for the pool process, built on the package's own codec."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from nvr_pool.protocol import (
    PLACE_AUTO,
    DecodePrefix,
    MsgType,
    encode_batch_item,
    encode_prefix,
    encode_raw_header,
    encode_request,
)

RUNTIME_DIR = Path(__file__).resolve().parents[1]
REPO = RUNTIME_DIR.parent
SHARED = Path(os.environ.get("NVR_SHARED_DIR", REPO.parent / "shared"))
MODELS = SHARED / "models"
MEDIA = SHARED / "media"
GOLDEN = REPO / "test" / "golden"


def spec(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / "models" / f"{name}.spec.json").read_text())


def model(name: str, path: Path | None = None) -> dict[str, Any]:
    return {"spec": spec(name), "path": str(path or MODELS / f"{name}.onnx")}


class PoolProcess:
    """The pool over a pipe on stdin, or over a socket as Node's child_process gives it."""

    def __init__(self, transport: str = "pipe", shared: int | None = None) -> None:
        """`shared`: a descriptor the pool inherits under the same number (configure's sharedFd)."""
        env = dict(os.environ, PYTHONPATH=str(RUNTIME_DIR), NVR_POOL_LOG="WARNING")
        self.sock: socket.socket | None = None
        stdin: Any = subprocess.PIPE
        if transport == "socket":
            self.sock, stdin = socket.socketpair()
        fds = () if shared is None else (shared,)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nvr_pool"], stdin=stdin, stdout=subprocess.PIPE, env=env, pass_fds=fds
        )
        if self.sock is not None:
            stdin.close()
        self.next_id = 1

    def send_raw(self, data: bytes) -> None:
        if self.sock is not None:
            self.sock.sendall(data)
            return
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def end_input(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):  # already shut, or the pool is gone
                self.sock.shutdown(socket.SHUT_WR)
        elif self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def send(self, msg_type: int, payload: bytes, req_id: int | None = None) -> int:
        if req_id is None:
            req_id = self.next_id
            self.next_id += 1
        self.send_raw(encode_request(req_id, msg_type, payload))
        return req_id

    def recv(self) -> tuple[int, int, Any]:
        assert self.proc.stdout is not None
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            raise EOFError("pool closed its output")
        (length,) = struct.unpack("<I", head)
        body = self.proc.stdout.read(length)
        req_id, status = struct.unpack_from("<IB", body)
        return req_id, status, json.loads(body[5:])

    def call(self, msg_type: int, payload: bytes) -> tuple[int, Any]:
        req_id = self.send(msg_type, payload)
        got_id, status, value = self.recv()
        assert got_id == req_id, (got_id, req_id, value)
        return status, value

    def command(self, cmd: dict[str, Any]) -> tuple[int, Any]:
        return self.call(MsgType.COMMAND, json.dumps(cmd).encode())

    def configure(self, runtime: str = "openvino", **extra: Any) -> dict[str, Any]:
        cmd: dict[str, Any] = {
            "cmd": "configure",
            "protocol": 2,
            "runtime": runtime,
            "device": "CPU" if runtime == "openvino" else "cpu",
            "concurrency": 2,
            "batch": {"mode": "none"},
            "models": [model("yolox_nano")],
        }
        cmd.update(extra)
        status, value = self.command(cmd)
        assert status == 0, value
        return value

    def close(self) -> int:
        self.end_input()
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            if self.sock is not None:
                self.sock.close()


def prefix(model_idx: int = 0, confidence: float = 0.3, iou: float = 0.45, max_det: int = 100) -> bytes:
    return encode_prefix(DecodePrefix(model_idx, confidence, iou, max_det))


def raw_payload(
    pixels: bytes, w: int, h: int, fmt: int = 0, x: int = PLACE_AUTO, y: int = PLACE_AUTO, **kw: Any
) -> bytes:
    return prefix(**kw) + encode_raw_header(w, h, fmt, x, y) + pixels


def cache_payload(frame_id: int, pixels: bytes, w: int, h: int) -> bytes:
    """A CACHE_FRAME payload: the frame's id, then RGB pixels placed at (0, 0)."""
    return struct.pack("<I", frame_id) + encode_raw_header(w, h, 0, 0, 0) + pixels


def batch_payload(items: list[tuple[int, int, int, int, int, bytes]], **kw: Any) -> bytes:
    return prefix(**kw) + bytes([len(items)]) + b"".join(encode_batch_item(*item) for item in items)
