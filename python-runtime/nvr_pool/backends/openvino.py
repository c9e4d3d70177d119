"""OpenVINO (runtime `openvino`): AUTO / CPU / GPU / NPU, async infer requests, ONNX read directly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from ..config import InputSpec, ModelEntry, PoolConfig
from . import Backend, BackendFactory, ModelLoadError, Outputs, RuntimeUnavailableError, T
from .openvino_options import new_core, openvino_properties

try:
    import openvino as ov
except ImportError as err:  # pragma: no cover - depends on the venv
    raise RuntimeUnavailableError(f"openvino is not installed: {err}") from err

DEVICES = ("AUTO", "CPU", "GPU", "NPU")
#: How often running infer requests are asked whether they failed (see OpenVinoBackend.check).
FAILURE_CHECK_S = 1.0
#: Infer requests per stream. With one, a stream idles from the moment its inference ends until
#: the pool has decoded it, woken its event loop and started the next one: 5-8% of throughput at
#: full load on 2 cores, in runs alternating one and two. With two, the next one is already queued.
REQUESTS_PER_RUNNER = 2
#: Input canvases kept for reuse per infer request, each with its ov.Tensor (a 416x416 frame: 0.5 MB).
CANVASES_PER_REQUEST = 2


def try_dynamic_batch(model: Any, input_name: str) -> bool:
    """Makes the batch axis dynamic when the graph really carries it through.

    Some exports (YOLOX-nano's among them) fold the batch into another axis inside the graph:
    reshaping succeeds but the output's batch stays 1. Keep the reshape only if every output's
    first axis becomes dynamic and its other axes keep their sizes.
    """
    before = [o.get_partial_shape() for o in model.outputs]
    shape = model.input(input_name).get_partial_shape()
    if shape.rank.is_dynamic or shape[0].is_dynamic:
        return True
    dims = [ov.Dimension(-1)] + [shape[i] for i in range(1, shape.rank.get_length())]
    try:
        model.reshape({input_name: ov.PartialShape(dims)})
    except Exception:  # noqa: BLE001 - reshape refuses graphs with hard batch reshapes
        return False
    after = [o.get_partial_shape() for o in model.outputs]
    for old, new in zip(before, after):
        if new.rank.is_dynamic or new.rank.get_length() != old.rank.get_length() or not new[0].is_dynamic:
            return False
        if any(str(new[i]) != str(old[i]) for i in range(1, old.rank.get_length())):
            return False
    return True


def takes_pixels(spec_input: InputSpec) -> bool:
    """Pixels can go in as uint8 when the letterbox padding is a uint8 value too."""
    pad = spec_input.pad_value
    return pad == int(pad) and 0 <= pad <= 255


def pixel_input(model: Any, spec_input: InputSpec) -> Any:
    """Puts the uint8 -> float conversion, the HWC -> CHW transpose and the scale inside the model,
    where OpenVINO fuses them into its first layer's input: the pool then sends the frame's own
    bytes instead of building a float tensor four times their size with numpy.
    """
    ppp = ov.preprocess.PrePostProcessor(model)
    put = ppp.input(spec_input.name)
    put.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
    put.model().set_layout(ov.Layout("NCHW" if spec_input.layout == "nchw" else "NHWC"))
    steps = put.preprocess().convert_element_type(ov.Type.f32)
    if spec_input.scale != 1.0:
        steps.scale(1.0 / spec_input.scale)
    return ppp.build()


class _Run:
    """One inference in flight: what its completion callback needs (OpenVINO hands it over as userdata)."""

    __slots__ = ("consume", "done", "loop", "request", "started")

    def __init__(self, request: Any, consume: Callable[[Outputs, float], Any], loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self.consume = consume
        self.loop = loop
        self.done: asyncio.Future[Any] = loop.create_future()
        self.started = 0.0


class OpenVinoBackend(Backend):
    """One compiled model with `requests` infer requests used through start_async."""

    def __init__(self, compiled: Any, requests: int, max_batch: int, device: str, pixels: bool) -> None:
        self.compiled = compiled
        self.max_batch = max_batch
        self.device = device
        self.takes_pixels = pixels
        self.output_names = [o.get_any_name() for o in compiled.outputs]
        self.idle: asyncio.Queue[Any] | None = None
        self.request_count = requests
        #: Infer requests started and not yet answered, with the future their callers wait on.
        self.running: dict[Any, asyncio.Future[Any]] = {}
        self.check_timer: asyncio.TimerHandle | None = None
        # Letterboxed frames are written into canvases that come back once their run has ended, each
        # wrapped in its ov.Tensor once, and set on an infer request only when it holds another one.
        # At one camera that saves ~0.2 ms a frame on a CPU that idled between frames: a fresh 0.5 MB
        # array's page faults, the ov.Tensor and set_input_tensor. Canvases lost to a failed request
        # are not replaced: past the limit, frames get fresh arrays as before.
        self.canvas_limit = CANVASES_PER_REQUEST * requests
        self.canvas_tensors: dict[int, tuple[np.ndarray, Any]] = {}
        self.free_canvases: list[np.ndarray] = []
        self.request_inputs: dict[Any, Any] = {}

    def _idle(self) -> asyncio.Queue[Any]:
        # Created lazily: the model is compiled off the event loop, the queue belongs to it.
        if self.idle is None:
            self.idle = asyncio.Queue()
            for _ in range(self.request_count):
                request = self.compiled.create_infer_request()
                request.set_callback(self._finished, None)  # each run passes its _Run as userdata
                self.idle.put_nowait(request)
        return self.idle

    def input_canvas(self, shape: tuple[int, int, int]) -> np.ndarray:
        """A canvas given back by `recycle` (one model: always the same shape), a new one while there
        are fewer than the limit, else a fresh array. Called from the event loop and the prepare
        threads: list.pop is atomic."""
        try:
            return self.free_canvases.pop()
        except IndexError:
            canvas = np.empty(shape, dtype=np.uint8)
            if len(self.canvas_tensors) < self.canvas_limit:
                self.canvas_tensors[id(canvas)] = (canvas, ov.Tensor(canvas[None], shared_memory=True))
            return canvas

    def recycle(self, inputs: Sequence[np.ndarray]) -> None:
        self.free_canvases.extend(array for array in inputs if self._canvas_tensor(array) is not None)

    def _canvas_tensor(self, array: np.ndarray | None) -> Any:
        """The ov.Tensor of `array` if it is one of this backend's canvases, else None."""
        entry = self.canvas_tensors.get(id(array))
        return entry[1] if entry is not None and entry[0] is array else None

    def _input_tensor(self, tensor: np.ndarray) -> Any:
        """The ov.Tensor over `tensor` (for a [1, H, W, 3] view of a canvas, the canvas's own), which
        the request reads where it lies (no copy; the caller keeps it referenced until done)."""
        pooled = self._canvas_tensor(tensor.base) if len(tensor) == 1 else None
        return pooled if pooled is not None else ov.Tensor(tensor, shared_memory=True)

    def _finished(self, run: _Run) -> None:
        """On an OpenVINO thread, before the request can be reused: its output tensors are read in
        place, and only what `consume` returns leaves this function."""
        try:
            outputs = {name: run.request.get_output_tensor(i).data for i, name in enumerate(self.output_names)}
            run.loop.call_soon_threadsafe(_settle, run.done, run.consume(outputs, run.started), None)
        except Exception as err:  # noqa: BLE001
            run.loop.call_soon_threadsafe(_settle, run.done, None, err)

    async def run(self, tensor: np.ndarray, consume: Callable[[Outputs, float], T]) -> T:
        idle = self._idle()
        request = await idle.get()
        loop = asyncio.get_running_loop()
        run = _Run(request, consume, loop)
        try:
            # Setting the tensor directly skips the generic input dispatcher (~40 us).
            tensor_in = self._input_tensor(tensor)
            if self.request_inputs.get(request) is not tensor_in:
                request.set_input_tensor(tensor_in)
                self.request_inputs[request] = tensor_in
            run.started = time.perf_counter()
            request.start_async(None, run)
            self.running[request] = run.done
            if self.check_timer is None:
                self.check_timer = loop.call_later(FAILURE_CHECK_S, self.check)
            result: T = await run.done
            return result
        finally:
            self.running.pop(request, None)
            idle.put_nowait(request)

    def check(self) -> None:
        """OpenVINO calls the completion callback only when an inference succeeds: one that fails
        (a device error, a cancel) would leave its caller waiting and its infer request taken for
        ever. Once a second while any run, each running request is asked; a failed one raises."""
        self.check_timer = None
        for request, done in list(self.running.items()):
            try:
                request.wait_for(0)  # False while running, True when done; raises if it failed
            except Exception as err:  # noqa: BLE001 - handed to the caller
                _settle(done, None, err)
        if self.running:
            self.check_timer = asyncio.get_running_loop().call_later(FAILURE_CHECK_S, self.check)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Factory(BackendFactory):
    def __init__(self, config: PoolConfig, predict_executor: Executor) -> None:
        super().__init__(config, predict_executor)
        self.device = config.device.upper() or "AUTO"
        if self.device.split(":")[0].split(".")[0] not in DEVICES:
            raise RuntimeUnavailableError(f'openvino device "{config.device}" is not one of {", ".join(DEVICES)}')
        self.core = new_core()

    def load(self, entry: ModelEntry) -> Backend:
        try:
            model = self.core.read_model(entry.path)
        except Exception as err:
            raise ModelLoadError(f"openvino cannot read {entry.path}: {err}") from err
        names = {n for i in model.inputs for n in i.get_names()}
        if entry.spec.input.name not in names:
            raise ModelLoadError(
                f'model inputs are {sorted(names)} but the spec "{entry.spec.name}" says "{entry.spec.input.name}"'
            )
        batched = self.config.batch.mode != "none" and self.config.batch.max_batch_size > 1
        if batched and not try_dynamic_batch(model, entry.spec.input.name):
            model = self.core.read_model(entry.path)  # undo a reshape that did not carry the batch
            batched = False
        pixels = takes_pixels(entry.spec.input)
        if pixels:
            model = pixel_input(model, entry.spec.input)
        properties = openvino_properties(self.device, self.config.threads, self.config.concurrency)
        try:
            compiled = self.core.compile_model(model, self.device, properties)
        except Exception as err:
            raise ModelLoadError(f"openvino cannot compile {entry.path} for {self.device}: {err}") from err
        try:
            devices = compiled.get_property("EXECUTION_DEVICES")
            device = ",".join(devices) if isinstance(devices, list) else str(devices)
        except Exception:  # noqa: BLE001 - not every plugin reports it
            device = self.device
        max_batch = self.config.batch.max_batch_size if batched else 1
        return OpenVinoBackend(compiled, REQUESTS_PER_RUNNER * self.config.concurrency, max_batch, device, pixels)
