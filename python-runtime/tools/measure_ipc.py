"""IPC cost per frame of the pool: round trip minus predict time, infer_raw against infer_cached.

infer_cached runs a frame already held by the pool, so (raw - cached) isolates the cost of moving
the pixels over the pipe and parsing them; (round trip - predictMs) is the whole overhead per
request (framing, JSON, scheduling, preprocessing, decoding). Sequential requests, one in flight.
Usage: python tools/measure_ipc.py [--runtime openvino] [--n 200] [--size 416]
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pool_client import PoolProcess, cache_payload, model, prefix, raw_payload

from nvr_pool.protocol import MsgType


def run(p: PoolProcess, msg_type: int, payload: bytes, n: int) -> tuple[float, float]:
    rtts, overheads = [], []
    for _ in range(n):
        t = time.perf_counter()
        status, value = p.call(msg_type, payload)
        rtt = (time.perf_counter() - t) * 1000
        assert status == 0, value
        rtts.append(rtt)
        overheads.append(rtt - value["results"][0]["timings"]["predictMs"])
    return statistics.median(rtts), statistics.median(overheads)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", default="openvino")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--size", type=int, default=416)
    args = ap.parse_args()
    size = args.size
    frame = np.random.default_rng(1).integers(0, 255, (size, size, 3), dtype=np.uint8).tobytes()
    p = PoolProcess()
    try:
        p.configure(args.runtime, models=[model("yolox_nano")], concurrency=1, batch={"mode": "none"})
        status, _ = p.call(MsgType.CACHE_FRAME, cache_payload(1, frame, size, size))
        assert status == 0
        raw = raw_payload(frame, size, size, 0, 0, 0)
        cached = prefix() + bytes([1]) + struct.pack("<I", 1)
        run(p, MsgType.INFER_RAW, raw, 20)  # warm up
        run(p, MsgType.INFER_CACHED, cached, 20)
        raw_rtt, raw_over = run(p, MsgType.INFER_RAW, raw, args.n)
        cached_rtt, cached_over = run(p, MsgType.INFER_CACHED, cached, args.n)
        print(f"runtime {args.runtime}, {size}x{size} RGB ({len(frame)} bytes), median of {args.n}:")
        print(f"  infer_raw    round trip {raw_rtt:7.3f} ms, minus predict {raw_over:7.3f} ms")
        print(f"  infer_cached round trip {cached_rtt:7.3f} ms, minus predict {cached_over:7.3f} ms")
        print(f"  transfer cost of the frame (raw - cached overhead): {raw_over - cached_over:7.3f} ms")
    finally:
        p.close()


if __name__ == "__main__":
    main()
