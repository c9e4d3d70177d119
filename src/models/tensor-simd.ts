import { MAX_RESIZE_FACTOR, runtimeCanResize, type PreparedFrame } from '../runtimes/runtime';
import { bilinearTaps, BILINEAR_ONE, type TensorLayout } from './tensor';
import { TENSOR_SIMD_WASM } from './tensor-simd-wasm';

// What this file uses of WebAssembly: TypeScript declares it in its DOM library, not the ES one this project builds against.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
};
interface WasmModule { readonly __wasmModule: never }
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

type Fill = (src: number, dst: number, W: number, H: number, ox: number, oy: number, pw: number, ph: number,
  scale: number, padValue: number, bgr: number, padDone: number, nchw: number) => void;
type Resize = (src: number, dst: number, W: number, H: number, ox: number, oy: number, pw: number, ph: number,
  sw: number, taps: number, rowbuf: number, unit: number, padValue: number, bgr: number, padDone: number, nchw: number) => void;

/** The tensor's place in the module's memory: after the swizzle masks at 0. */
const TENSOR_AT = 256;
const PAGE = 65536;
const align = (n: number) => Math.ceil(n / 64) * 64;

let compiled: WasmModule | undefined;

/**
 * Input tensors in WebAssembly memory, for an inference worker: `tensor(n)` is an n-frame input
 * that `fill` writes with tensor-simd.wat for the frames it `takes` (all but a frame at its placed
 * size into an interleaved BGR input), with the values fillTensor writes, to the bit. The pixel
 * copy included, into a planar 416 x 416 input: 0.14 ms against fillTensor's 0.42 for a 416 x
 * 312 frame at its placed size, 0.5 against 1.6 for one resized from 768 x 576; into an
 * interleaved 640 x 640 one: 0.29 against 1.0, and 1.0 against 3.8.
 *
 * Memory: the tensor at a fixed place (a camera's frames keep their pad area from call to call),
 * then scratch room sized for the largest source a runtime may resize: the resize taps, the
 * blended row, and one frame's pixels (4.2 MB in all for a 416 x 416 input).
 */
export class SimdTensor {
  private readonly memory: WasmMemory;
  private readonly wasmFill: Fill;
  private readonly wasmResize: Resize;
  private readonly plane: number;
  /** The scale as a float32, the pad value times it, and a bilinear sum's unit (see fillTensor). */
  private readonly scale: number;
  private readonly pad: number;
  private readonly unit: number;
  /** Scratch room: the taps, then the blended row, then the pixels. */
  private readonly tapsBytes: number;
  private readonly rowBytes: number;
  private readonly scratchBytes: number;
  private frames = 0;
  /** The sizes whose taps are in the scratch room: written again only when a frame's differ (a camera's do not). */
  private tapsKey = '';

  constructor(private readonly layout: TensorLayout) {
    compiled ??= new WebAssembly.Module(Buffer.from(TENSOR_SIMD_WASM, 'base64'));
    const instance = new WebAssembly.Instance(compiled, {});
    this.memory = instance.exports.memory as WasmMemory;
    this.wasmFill = instance.exports.fill as Fill;
    this.wasmResize = instance.exports.resize as Resize;
    const { width: W, height: H } = layout;
    this.plane = 3 * W * H;
    this.scale = Math.fround(layout.scale);
    this.pad = layout.padValue * this.scale;
    this.unit = this.scale / (BILINEAR_ONE * BILINEAR_ONE);
    const sourceWidth = W * MAX_RESIZE_FACTOR;
    this.tapsBytes = align(2 * (W + H) * 4);
    this.rowBytes = align((sourceWidth * 3 + 4) * 4);
    this.scratchBytes = this.tapsBytes + this.rowBytes + align(sourceWidth * H * MAX_RESIZE_FACTOR * 3);
    this.reserve(1);
  }

  /**
   * Whether `fill` writes this frame: one to resize from up to MAX_RESIZE_FACTOR times its size,
   * or one at its placed size into a planar input or an interleaved RGB one.
   */
  takes(frame: PreparedFrame): boolean {
    return frame.source ? runtimeCanResize(frame.source, frame) : this.layout.nchw || !this.layout.bgr;
  }

  /**
   * A tensor of `frames` frames. It is the same memory from call to call, so a frame's pad area
   * written by one call is still there for the next. `fill` never moves it; a larger tensor may.
   */
  tensor(frames: number): Float32Array {
    this.reserve(frames);
    return new Float32Array(this.memory.buffer, TENSOR_AT, frames * this.plane);
  }

  /** Writes frame `index` of the tensor (see `takes`), as fillTensor would. */
  fill(index: number, frame: PreparedFrame, padDone = false): void {
    const { width: W, height: H, bgr, nchw } = this.layout;
    const { pixels, width: pw, height: ph, offsetX: ox, offsetY: oy, source } = frame;
    if (!this.takes(frame)) throw new Error(`the SIMD fill does not take a ${pw}x${ph} frame${source ? ` from ${source.width}x${source.height}` : ''} into a ${nchw ? 'planar' : 'interleaved'} ${bgr ? 'BGR' : 'RGB'} input`);
    this.reserve(index + 1);
    const tapsAt = TENSOR_AT + align(this.frames * this.plane * 4);
    const rowAt = tapsAt + this.tapsBytes;
    const pixelsAt = rowAt + this.rowBytes;
    new Uint8Array(this.memory.buffer, pixelsAt, pixels.length).set(pixels);
    const dst = TENSOR_AT + index * this.plane * 4;
    const [bgrFlag, padFlag, nchwFlag] = [bgr ? 1 : 0, padDone ? 1 : 0, nchw ? 1 : 0];
    if (!source) {
      this.wasmFill(pixelsAt, dst, W, H, ox, oy, pw, ph, this.scale, this.pad, bgrFlag, padFlag, nchwFlag);
      return;
    }
    const key = `${pw}x${ph}<${source.width}x${source.height}`;
    if (this.tapsKey !== key) {
      const taps = new Int32Array(this.memory.buffer, tapsAt, 2 * (pw + ph));
      const columns = bilinearTaps(pw, source.width);
      const rows = bilinearTaps(ph, source.height);
      taps.set(columns.index, 0);
      taps.set(columns.weight, pw);
      taps.set(rows.index, 2 * pw);
      taps.set(rows.weight, 2 * pw + ph);
      this.tapsKey = key;
    }
    this.wasmResize(pixelsAt, dst, W, H, ox, oy, pw, ph, source.width, tapsAt, rowAt, this.unit, this.pad, bgrFlag, padFlag, nchwFlag);
  }

  /** Grows the memory to hold a tensor of `frames` frames and the scratch room after it (which a larger tensor moves). */
  private reserve(frames: number): void {
    if (frames > this.frames) {
      this.frames = frames;
      this.tapsKey = '';
    }
    const bytes = TENSOR_AT + align(this.frames * this.plane * 4) + this.scratchBytes;
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
  }
}
