"""The raw runtime alone, for `npm run bench`: back-to-back inference of one model, batch 1,
with no pool code around it (no protocol, no pre/post-processing), on `runners` parallel
infer requests (OpenVINO) or threads with one session each (ONNX Runtime). Prints one JSON
line: runs/s and per-run latency percentiles. Compiled with the same options the pool uses.

With --pace-fps, one request at a time at that rate instead: the raw predict time of a single
camera, whose runs start on a CPU that has been idle (slower than back to back). With --start-on-stdin
as well, it prints `{"ready": true}` once warmed up and starts at the wall-clock time (seconds since
the epoch) read from stdin: the benchmark interleaves these runs with its own camera's frames, so
both are timed under the same conditions on a shared machine. Runs in the first --skip-seconds are
not counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nvr_pool.backends.openvino_options import new_core, openvino_properties


def openvino_runner(model: str, device: str, threads: int, runners: int) -> Any:
    core = new_core()
    properties = openvino_properties(device, threads, runners)
    compiled = core.compile_model(core.read_model(model), device, properties)
    shape = [d if d > 0 else 1 for d in compiled.inputs[0].get_partial_shape().get_min_shape()]
    data = np.full(shape, 114, dtype=np.float32)
    requests = [compiled.create_infer_request() for _ in range(runners)]
    return lambda i: requests[i].infer({0: data})


def onnx_providers(device: str) -> list[str]:
    """The pool's provider list for `device`: a device setting (cpu, cuda, auto, ...) or the name
    of the provider the pool reports it runs on (e.g. CUDAExecutionProvider)."""
    import onnxruntime as ort

    from nvr_pool.backends.onnx import providers_for

    if device.endswith("ExecutionProvider"):
        return list(dict.fromkeys([device, "CPUExecutionProvider"]))  # CPU's own name: CPU alone
    return providers_for(device, ort.get_available_providers())


def onnx_runner(model: str, device: str, threads: int, runners: int) -> Any:
    import onnxruntime as ort

    from nvr_pool.backends.onnx import session_options

    options = session_options(threads)
    options.inter_op_num_threads = 1
    providers = onnx_providers(device)
    sessions = [ort.InferenceSession(model, sess_options=options, providers=providers) for _ in range(runners)]
    first = sessions[0].get_inputs()[0]
    data = np.full([d if isinstance(d, int) and d > 0 else 1 for d in first.shape], 114, dtype=np.float32)
    return lambda i: sessions[i].run(None, {first.name: data})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runtime", choices=["openvino", "onnx-python"], required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--device", default="CPU")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runners", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--pace-fps", type=float, default=0)
    parser.add_argument("--skip-seconds", type=float, default=0)
    parser.add_argument("--start-on-stdin", action="store_true")
    args = parser.parse_args()
    make = openvino_runner if args.runtime == "openvino" else onnx_runner
    device = (args.device.upper() or "AUTO") if args.runtime == "openvino" else args.device
    run = make(args.model, device, args.threads, args.runners)
    for i in range(args.runners):
        for _ in range(3):
            run(i)
    times: list[list[float]] = [[] for _ in range(args.runners)]
    period = 1 / args.pace_fps if args.pace_fps > 0 else 0.0
    if args.start_on_stdin:
        print(json.dumps({"ready": True}), flush=True)
        time.sleep(max(0.0, float(sys.stdin.readline()) - time.time()))
    started = time.perf_counter()
    counted_from = started + args.skip_seconds
    deadline = counted_from + args.seconds

    def loop(i: int) -> None:
        tick = started  # paced: the first run at once, then one per period
        while True:
            if period:
                time.sleep(max(0.0, tick - time.perf_counter()))
                tick += period
            t = time.perf_counter()
            if t >= deadline:
                return
            run(i)  # both runtimes release the GIL while they infer
            if t >= counted_from:
                times[i].append((time.perf_counter() - t) * 1000)

    loops = 1 if period else args.runners
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(loops)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = args.seconds if period else time.perf_counter() - counted_from
    all_times = np.array([x for ts in times for x in ts])
    print(
        json.dumps(
            {
                "runsPerSecond": round(len(all_times) / elapsed, 2),
                "p50": round(float(np.percentile(all_times, 50)), 2),
                "p95": round(float(np.percentile(all_times, 95)), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
