"""Writes decoder parity vectors to test/golden/decoders/ (run once; commit the output).

Each vector is a raw model output (float32 little-endian .bin), the spec, the decode options and
the expected detections. The expectation is produced by the Python decoders; the TypeScript
decoders must agree (test/python-pool/decoder-parity.test.ts) and so must a re-run of Python
(python-runtime/tests/test_decoders.py).
Usage: python tools/make_decoder_vectors.py   (needs openvino and ../shared/models for the YOLOX one)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python-runtime"))

from nvr_pool.config import parse_spec  # noqa: E402
from nvr_pool.decoders import decode  # noqa: E402

OUT = ROOT / "test" / "golden" / "decoders"
SPECS = ROOT / "test" / "golden" / "models"


def labels(n: int) -> list[str]:
    return [f"class{i}" for i in range(n)]


def small_spec(kind: str, decoder: dict[str, Any], nc: int, output: str = "output") -> dict[str, Any]:
    return {
        "name": f"hand-{kind}",
        "input": {
            "name": "images",
            "width": 64,
            "height": 64,
            "layout": "nchw",
            "channelOrder": "rgb",
            "scale": 1 / 255,
            "resize": "letterbox",
            "placement": "top-left",
            "padValue": 114,
        },
        "output": output,
        "decoder": decoder,
        "labels": labels(nc),
    }


def yolox_dog() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from nvr_pool.backends.openvino_options import new_core
    from nvr_pool.preprocess import prepare
    from nvr_pool.protocol import EncodedImage

    spec = json.loads((SPECS / "yolox_nano.spec.json").read_text())
    jpeg = (ROOT.parent / "shared" / "media" / "dog.jpg").read_bytes()
    tensor = prepare(EncodedImage(jpeg), parse_spec(spec).input).tensor[None]
    compiled = new_core().compile_model(str(ROOT.parent / "shared" / "models" / "yolox_nano.onnx"), "CPU")
    out = compiled.create_infer_request().infer({0: tensor})
    return spec, {"output": np.asarray(next(iter(out.values())), dtype=np.float32)}


def yolov8_hand(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    nc, n = 3, 40
    data = np.zeros((1, 4 + nc, n), np.float32)
    data[0, 0] = rng.uniform(5, 60, n)
    data[0, 1] = rng.uniform(5, 60, n)
    data[0, 2] = rng.uniform(4, 30, n)
    data[0, 3] = rng.uniform(4, 30, n)
    data[0, 4:] = rng.uniform(0, 1, (nc, n)) ** 3
    data[0, 4:, :4] = 0.9  # overlapping near-duplicates of one box: NMS must keep one
    data[0, :4, :4] = np.array(
        [[30, 30.5, 31, 30], [30, 30, 29.5, 31], [20, 20.5, 20, 19], [20, 19, 21, 20]], np.float32
    )
    return small_spec("yolov8", {"kind": "yolov8"}, nc), {"output": data}


def yolov5_hand(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    nc, n = 4, 50
    data = np.zeros((1, n, 5 + nc), np.float32)
    data[0, :, 0:2] = rng.uniform(0.1, 0.9, (n, 2))
    data[0, :, 2:4] = rng.uniform(0.05, 0.5, (n, 2))
    data[0, :, 4] = rng.uniform(0, 1, n)
    data[0, :, 5:] = rng.uniform(0, 1, (n, nc))
    spec = small_spec("yolov5", {"kind": "yolov5", "normalized": True}, nc)
    return spec, {"output": data}


def nms_free_single(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    nc, n = 5, 30
    data = np.zeros((1, n, 6), np.float32)
    xy = rng.uniform(0, 40, (n, 2))
    data[0, :, 0:2] = xy
    data[0, :, 2:4] = xy + rng.uniform(2, 20, (n, 2))
    data[0, :, 4] = rng.uniform(0, 1, n)
    data[0, :, 5] = rng.integers(0, nc + 2, n)  # some class ids out of range: dropped
    spec = small_spec("nms-free-single", {"kind": "nms-free", "boxFormat": "xyxy", "normalized": False}, nc)
    return spec, {"output": data}


def nms_free_split(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    nc, n = 3, 25
    boxes = np.zeros((1, n, 4), np.float32)
    boxes[0, :, 0:2] = rng.uniform(0.2, 0.8, (n, 2))
    boxes[0, :, 2:4] = rng.uniform(0.05, 0.3, (n, 2))
    scores = rng.uniform(0, 1, (1, n, nc)).astype(np.float32)
    decoder = {
        "kind": "nms-free",
        "boxFormat": "cxcywh",
        "normalized": True,
        "boxesOutput": "boxes",
        "scoresOutput": "scores",
    }
    return small_spec("nms-free-split", decoder, nc, output="boxes"), {"boxes": boxes, "scores": scores}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261122)
    dog = yolox_dog()
    cases = {
        "yolox-dog": (dog, {"confidence": 0.3, "iou": 0.45, "maxDetections": 100}),
        "yolox-dog-low": (dog, {"confidence": 0.05, "iou": 0.45, "maxDetections": 50}),
        "yolov8-hand": (yolov8_hand(rng), {"confidence": 0.25, "iou": 0.5, "maxDetections": 100}),
        "yolov5-hand": (yolov5_hand(rng), {"confidence": 0.3, "iou": 0.45, "maxDetections": 10}),
        "nms-free-single": (nms_free_single(rng), {"confidence": 0.4, "iou": 0.5, "maxDetections": 8}),
        "nms-free-split": (nms_free_split(rng), {"confidence": 0.5, "iou": 0.5, "maxDetections": 100}),
    }
    manifest = []
    written: dict[int, str] = {}  # one file per distinct tensor
    for name, ((spec, outputs), options) in cases.items():
        files = {}
        for out_name, array in outputs.items():
            file = written.get(id(array), f"{name}.{out_name}.f32")
            if id(array) not in written:
                (OUT / file).write_bytes(np.ascontiguousarray(array, dtype="<f4").tobytes())
                written[id(array)] = file
            files[out_name] = {"file": file, "dims": list(array.shape)}
        dets = decode(parse_spec(spec), outputs, 0, options["confidence"], options["iou"], options["maxDetections"])
        expected = [{"classId": d.class_id, "score": d.score, "box": list(d.box)} for d in dets]
        manifest.append({"name": name, "spec": spec, "outputs": files, "options": options, "expected": expected})
        print(f"{name}: {len(expected)} detections")
    (OUT / "manifest.json").write_text(json.dumps({"vectors": manifest}, indent=1) + "\n")


if __name__ == "__main__":
    main()
