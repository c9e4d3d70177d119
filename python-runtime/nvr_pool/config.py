"""The configure command and model specs, parsed into typed values (docs/protocol.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .protocol import DEFAULT_MAX_FRAME, ProtocolError

RUNTIMES = ("openvino", "onnx-python", "coreml")
BATCH_MODES = ("none", "list", "window")
DECODERS = ("yolox", "yolov5", "yolov8", "nms-free")


def _bad(message: str) -> ProtocolError:
    return ProtocolError("bad_command", message)


@dataclass(frozen=True)
class InputSpec:
    name: str
    width: int
    height: int
    layout: str  # nchw | nhwc
    channel_order: str  # rgb | bgr
    scale: float
    resize: str  # letterbox | stretch
    placement: str  # top-left | center
    pad_value: float


@dataclass(frozen=True)
class DecoderSpec:
    kind: str
    strides: tuple[int, ...] = ()
    normalized: bool = False
    box_format: str = "xyxy"
    boxes_output: str | None = None
    scores_output: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """Mirror of `ModelSpec` in src/models/spec.ts (same JSON)."""

    name: str
    input: InputSpec
    output: str
    decoder: DecoderSpec
    labels: tuple[str, ...]


@dataclass(frozen=True)
class ModelEntry:
    spec: ModelSpec
    path: str


@dataclass(frozen=True)
class BatchConfig:
    mode: str = "none"
    window_ms: float = 10.0
    max_batch_size: int = 8


@dataclass(frozen=True)
class PoolConfig:
    runtime: str
    device: str
    threads: int = 0
    concurrency: int = 1
    batch: BatchConfig = field(default_factory=BatchConfig)
    # Raw {spec, path} objects: each is parsed when loaded, so one bad spec fails only its slot.
    models: tuple[Any, ...] = ()
    max_frame_bytes: int = DEFAULT_MAX_FRAME
    cache_frames: int = 64
    max_queue: int = 256
    #: The inherited descriptor of the client's shared frame memory (infer_shared), if any.
    shared_fd: int | None = None


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _bad(f"{where}{key} is missing or not a {getattr(kind, '__name__', kind)}")
    return value


def parse_spec(raw: Any) -> ModelSpec:
    if not isinstance(raw, dict):
        raise _bad("model spec must be an object")
    name = str(raw.get("name") or "?")
    where = f'model spec "{name}": '
    inp = _get(raw, "input", dict, where)
    dec = _get(raw, "decoder", dict, where)
    number = (int, float)
    spec_input = InputSpec(
        name=_get(inp, "name", str, where + "input."),
        width=_get(inp, "width", int, where + "input."),
        height=_get(inp, "height", int, where + "input."),
        layout=_get(inp, "layout", str, where + "input."),
        channel_order=_get(inp, "channelOrder", str, where + "input."),
        scale=float(_get(inp, "scale", number, where + "input.")),
        resize=_get(inp, "resize", str, where + "input."),
        placement=inp.get("placement", "top-left"),
        pad_value=float(_get(inp, "padValue", number, where + "input.")),
    )
    if spec_input.layout not in ("nchw", "nhwc"):
        raise _bad(f"{where}input.layout must be nchw or nhwc")
    if spec_input.channel_order not in ("rgb", "bgr"):
        raise _bad(f"{where}input.channelOrder must be rgb or bgr")
    if spec_input.resize not in ("letterbox", "stretch") or spec_input.placement not in ("top-left", "center"):
        raise _bad(f"{where}input.resize / input.placement invalid")
    if not (8 <= spec_input.width <= 4096 and 8 <= spec_input.height <= 4096):
        raise _bad(f"{where}input size must be in 8..4096")
    kind = _get(dec, "kind", str, where + "decoder.")
    if kind not in DECODERS:
        raise _bad(f'{where}decoder.kind "{kind}" is not one of {", ".join(DECODERS)}')
    decoder = DecoderSpec(
        kind=kind,
        strides=tuple(int(s) for s in dec.get("strides", ())),
        normalized=bool(dec.get("normalized", False)),
        box_format=str(dec.get("boxFormat", "xyxy")),
        boxes_output=dec.get("boxesOutput"),
        scores_output=dec.get("scoresOutput"),
    )
    if kind == "yolox" and (
        not decoder.strides or any(s <= 0 or spec_input.width % s or spec_input.height % s for s in decoder.strides)
    ):
        raise _bad(f"{where}decoder.strides must be positive and divide the input size")
    labels = raw.get("labels")
    if not isinstance(labels, list) or not labels:
        raise _bad(f"{where}labels must be a non-empty list")
    return ModelSpec(
        name=name,
        input=spec_input,
        output=_get(raw, "output", str, where),
        decoder=decoder,
        labels=tuple(str(label) for label in labels),
    )


def parse_model_entry(raw: Any) -> ModelEntry:
    if not isinstance(raw, dict):
        raise _bad("model must be an object {spec, path}")
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        raise _bad("model.path must be a non-empty string")
    return ModelEntry(parse_spec(raw.get("spec")), path)


def parse_config(cmd: dict[str, Any]) -> PoolConfig:
    runtime = cmd.get("runtime")
    if runtime not in RUNTIMES:
        raise ProtocolError("runtime_unavailable", f'runtime "{runtime}" is not one of {", ".join(RUNTIMES)}')
    batch_raw = cmd.get("batch") or {}
    if not isinstance(batch_raw, dict):
        raise _bad("batch must be an object")
    batch = BatchConfig(
        mode=str(batch_raw.get("mode", "none")),
        window_ms=float(batch_raw.get("windowMs", 10.0)),
        max_batch_size=int(batch_raw.get("maxBatchSize", 8)),
    )
    if batch.mode not in BATCH_MODES:
        raise _bad(f'batch.mode "{batch.mode}" is not one of {", ".join(BATCH_MODES)}')
    if not (0 <= batch.window_ms <= 10_000) or not (1 <= batch.max_batch_size <= 255):
        raise _bad("batch.windowMs must be in 0..10000 and batch.maxBatchSize in 1..255")
    models = cmd.get("models", [])
    if not isinstance(models, list):
        raise _bad("models must be a list")
    concurrency = int(cmd.get("concurrency", 1))
    max_frame = int(cmd.get("maxFrameBytes", DEFAULT_MAX_FRAME))
    if not (1 <= concurrency <= 64):
        raise _bad("concurrency must be in 1..64")
    if not (4096 <= max_frame <= 1 << 30):
        raise _bad("maxFrameBytes must be in 4 KiB..1 GiB")
    shared_fd = cmd.get("sharedFd")
    if shared_fd is not None and (not isinstance(shared_fd, int) or isinstance(shared_fd, bool) or shared_fd < 3):
        raise _bad("sharedFd must be a file descriptor number of at least 3")
    return PoolConfig(
        runtime=runtime,
        device=str(cmd.get("device") or "AUTO"),
        threads=int(cmd.get("threads", 0)),
        concurrency=concurrency,
        batch=batch,
        models=tuple(models),
        max_frame_bytes=max_frame,
        cache_frames=max(1, int(cmd.get("cacheFrames", 64))),
        max_queue=max(1, int(cmd.get("maxQueue", 256))),
        shared_fd=shared_fd,
    )
