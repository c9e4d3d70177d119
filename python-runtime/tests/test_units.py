"""Pure parts: config and spec parsing, backend option mapping (CoreML testable off macOS), placement."""

from __future__ import annotations

import numpy as np
import pytest
from pool_client import spec

from nvr_pool.backends import RuntimeUnavailableError
from nvr_pool.backends.coreml import compute_units_name, import_coremltools, model_kind
from nvr_pool.backends.onnx import providers_for
from nvr_pool.config import parse_config, parse_spec
from nvr_pool.preprocess import prepare, prepare_pixels
from nvr_pool.protocol import PLACE_AUTO, EncodedImage, PixelFormat, ProtocolError, RawImage
from nvr_pool.server import _cheap_to_place


def test_spec_parses_the_typescript_model_spec() -> None:
    s = parse_spec(spec("yolox_nano"))
    assert (s.input.width, s.input.layout, s.input.channel_order, s.decoder.strides) == (
        416,
        "nchw",
        "bgr",
        (8, 16, 32),
    )
    assert len(s.labels) == 80


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"decoder": {"kind": "ssd"}}, "decoder.kind"),
        ({"decoder": {"kind": "yolox", "strides": [7]}}, "strides"),
        ({"labels": []}, "labels"),
    ],
)
def test_bad_spec_names_the_field(patch: dict, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_spec({**spec("yolox_nano"), **patch})


def test_config_defaults_and_errors() -> None:
    c = parse_config({"cmd": "configure", "runtime": "openvino", "batch": {"mode": "window", "windowMs": 5}})
    assert (c.batch.mode, c.batch.window_ms, c.batch.max_batch_size, c.concurrency) == ("window", 5.0, 8, 1)
    with pytest.raises(ProtocolError, match=r"batch\.mode"):
        parse_config({"runtime": "openvino", "batch": {"mode": "sometimes"}})
    with pytest.raises(ProtocolError) as err:
        parse_config({"runtime": "tensorrt"})
    assert err.value.code == "runtime_unavailable"


def test_coreml_option_mapping_and_guard() -> None:
    assert compute_units_name("AUTO") == "ALL"
    assert compute_units_name("npu") == "CPU_AND_NE"
    assert compute_units_name("CPU_AND_GPU") == "CPU_AND_GPU"
    with pytest.raises(RuntimeUnavailableError):
        compute_units_name("TPU")
    assert model_kind("/m/yolo.mlpackage/") == "coreml"
    assert model_kind("/m/yolo.onnx") == "onnx"
    with pytest.raises(RuntimeUnavailableError, match="CoreML needs macOS"):
        import_coremltools("linux")


def test_onnx_providers() -> None:
    assert providers_for("cpu", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert providers_for("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])[0] == "CUDAExecutionProvider"
    with pytest.raises(RuntimeUnavailableError, match="not in this onnxruntime build"):
        providers_for("cuda", ["CPUExecutionProvider"])


def test_placed_frame_is_padded_and_converted_without_resampling() -> None:
    s = parse_spec(spec("yolox_nano")).input  # BGR, NCHW, pad 114, scale 1
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0] = 200  # red
    p = prepare(RawImage(3, 2, PixelFormat.RGB, 5, 7, rgb.tobytes()), s)
    t = p.tensor
    assert t.shape == (3, 416, 416)
    assert t[2, 7, 5] == 200 and t[0, 7, 5] == 0  # red lands in the R plane of a BGR model
    assert t[0, 0, 0] == 114 and t[2, 9, 8] == 114
    assert p.placement.to_source((5, 7, 8, 9)) == (0, 0, 3, 2)


def test_auto_letterbox_matches_typescript_place_image() -> None:
    s = parse_spec(spec("yolov5s")).input  # 640, centred, NHWC, RGB, 1/255
    img = np.full((576, 768, 3), 255, np.uint8)
    p = prepare(RawImage(768, 576, PixelFormat.RGB, PLACE_AUTO, PLACE_AUTO, img.tobytes()), s)
    assert p.tensor.shape == (640, 640, 3)
    assert (p.placement.offset_x, p.placement.offset_y) == (0, 80)  # 640x480 centred
    assert p.tensor[80, 0, 0] == pytest.approx(1.0) and p.tensor[79, 0, 0] == pytest.approx(114 / 255)


def test_cheap_placements_run_on_the_event_loop() -> None:
    """Placed raw pixels and auto placement from at most 2x the input skip the thread hops; the rest do not."""
    s = parse_spec(spec("yolox_nano")).input  # 416 x 416

    def raw(w: int, h: int, auto: bool) -> RawImage:
        at = PLACE_AUTO if auto else 0
        return RawImage(w, h, PixelFormat.RGB, at, at, bytes(w * h * 3))

    assert _cheap_to_place(raw(416, 312, auto=False), s)
    assert _cheap_to_place(raw(768, 576, auto=True), s)
    assert _cheap_to_place(raw(832, 832, auto=True), s)
    assert not _cheap_to_place(raw(833, 576, auto=True), s)
    assert not _cheap_to_place(raw(1920, 1080, auto=True), s)
    assert not _cheap_to_place(EncodedImage(b"\xff\xd8"), s)


@pytest.mark.parametrize("model", ["yolox_nano", "yolov5s"])
@pytest.mark.parametrize("fmt", [PixelFormat.RGB, PixelFormat.BGR, PixelFormat.GRAY])
@pytest.mark.parametrize("size", [(768, 576), (576, 768), (416, 312), (300, 200)])
def test_pixels_for_the_model_match_its_float_tensor(model: str, fmt: PixelFormat, size: tuple[int, int]) -> None:
    """prepare_pixels (resized straight into the canvas where it can) writes what prepare writes, as bytes."""
    s = parse_spec(spec(model)).input
    w, h = size
    channels = 1 if fmt == PixelFormat.GRAY else 3
    pixels = np.random.default_rng(w + h).integers(0, 256, (h, w, channels), dtype=np.uint8)
    for x, y in [(PLACE_AUTO, PLACE_AUTO), (0, 0)] if w <= s.width and h <= s.height else [(PLACE_AUTO, PLACE_AUTO)]:
        image = RawImage(w, h, fmt, x, y, pixels.tobytes())
        as_bytes = prepare_pixels(image, s)
        as_float = prepare(image, s)
        tensor = as_float.tensor.transpose(1, 2, 0) if s.layout == "nchw" else as_float.tensor
        assert as_bytes.tensor.shape == (s.height, s.width, 3)
        np.testing.assert_array_equal(as_bytes.tensor, np.rint(tensor / s.scale).astype(np.uint8))
        assert as_bytes.placement == as_float.placement
