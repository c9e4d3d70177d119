"""The OpenVINO backend's reused input canvases: handed out once at a time, given back only after a
run that ended, bounded, and giving the same outputs as fresh arrays."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from pool_client import MODELS, spec

from nvr_pool.config import ModelEntry, parse_config, parse_spec
from nvr_pool.preprocess import prepare_pixels
from nvr_pool.protocol import PLACE_AUTO, PixelFormat, RawImage

pytest.importorskip("openvino")
if not (MODELS / "yolox_nano.onnx").exists():
    pytest.skip(f"no models at {MODELS}", allow_module_level=True)

from nvr_pool.backends.openvino import CANVASES_PER_REQUEST, Factory, OpenVinoBackend

SPEC = parse_spec(spec("yolox_nano"))
SHAPE = (SPEC.input.height, SPEC.input.width, 3)


@pytest.fixture(scope="module")
def backend() -> OpenVinoBackend:
    config = parse_config({"cmd": "configure", "runtime": "openvino", "device": "CPU", "concurrency": 1, "threads": 1})
    with ThreadPoolExecutor(1) as executor:
        loaded = Factory(config, executor).load(ModelEntry(SPEC, str(MODELS / "yolox_nano.onnx")))
    assert isinstance(loaded, OpenVinoBackend) and loaded.takes_pixels
    return loaded


def frame(seed: int) -> RawImage:
    """A 768x576 RGB frame: letterboxed into the 416x416 input, so it is written into a canvas."""
    pixels = np.random.default_rng(seed).integers(0, 256, (576, 768, 3), dtype=np.uint8)
    return RawImage(768, 576, PixelFormat.RGB, PLACE_AUTO, PLACE_AUTO, pixels.tobytes())


def infer(backend: OpenVinoBackend, tensor: np.ndarray) -> np.ndarray:
    async def go() -> np.ndarray:
        out: np.ndarray = await backend.run(tensor[None], lambda outputs, _: next(iter(outputs.values())).copy())
        return out

    return asyncio.run(go())


def test_a_canvas_comes_back_only_when_recycled_and_gives_the_same_outputs(backend: OpenVinoBackend) -> None:
    fresh = [infer(backend, prepare_pixels(frame(s), SPEC.input).tensor) for s in (1, 2, 1)]

    first = prepare_pixels(frame(1), SPEC.input, backend.input_canvas).tensor
    second = backend.input_canvas(SHAPE)
    assert second is not first  # not handed out twice while in use
    backend.recycle([second])
    outputs = [infer(backend, first)]
    backend.recycle([first])
    for seed in (2, 1):
        again = prepare_pixels(frame(seed), SPEC.input, backend.input_canvas).tensor
        assert again is first  # the last one given back comes out first
        outputs.append(infer(backend, again))
        backend.recycle([again])
    for a, b in zip(fresh, outputs):
        np.testing.assert_array_equal(a, b)
    # Each request now holds the canvas's own tensor: set once, not again per frame.
    tensor = backend.canvas_tensors[id(first)][1]
    assert all(held is tensor for held in backend.request_inputs.values())


def test_canvases_are_bounded_and_strangers_are_not_taken_in(backend: OpenVinoBackend) -> None:
    limit = CANVASES_PER_REQUEST * backend.request_count
    assert backend.canvas_limit == limit
    taken = [backend.input_canvas(SHAPE) for _ in range(limit + 3)]
    assert len({id(c) for c in taken}) == len(taken)
    assert len(backend.canvas_tensors) == limit
    pooled = [c for c in taken if id(c) in backend.canvas_tensors]
    backend.recycle([*taken, np.empty(SHAPE, dtype=np.uint8)])
    assert sorted(map(id, backend.free_canvases)) == sorted(map(id, pooled))  # extra and foreign arrays dropped


def test_a_frame_whose_decode_fails_still_gives_its_canvas_back(backend: OpenVinoBackend) -> None:
    canvas = backend.input_canvas(SHAPE)

    def fail(outputs: Any, started: float) -> None:
        raise RuntimeError("decode failed")

    async def go() -> None:
        from nvr_pool.batching import Batcher

        batcher = Batcher(backend, "none", 10, 1)
        answers: list[Any] = []
        await batcher.run([(canvas, lambda outputs, index: fail(outputs, 0.0))], 0.0, answers.append)
        assert isinstance(answers[0][0], RuntimeError)

    free = len(backend.free_canvases)
    asyncio.run(go())
    # The decode failed but the run ended: the runtime no longer reads the canvas, so it is reused.
    assert len(backend.free_canvases) == free + 1 and backend.free_canvases[-1] is canvas
