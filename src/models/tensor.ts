import type { PreparedFrame } from '../runtimes/runtime';
import type { InputSpec } from './spec';

/** The model input a frame is written into: W x H, layout, channel order, scale and pad value. */
export interface TensorLayout {
  width: number;
  height: number;
  nchw: boolean;
  bgr: boolean;
  scale: number;
  padValue: number;
}

export function tensorLayout(input: InputSpec): TensorLayout {
  return { width: input.width, height: input.height, nchw: input.layout === 'nchw', bgr: input.channelOrder === 'bgr', scale: input.scale, padValue: input.padValue };
}

/**
 * Writes one prepared frame (packed RGB bytes, HWC) into a float32 model input at element offset
 * `offset`: the image goes at (offsetX, offsetY) with size width x height, the pad value
 * everywhere else, converting channel order, scale and layout in the same single pass. A frame
 * whose pixels are another size (`frame.source`) is resized on the way, bilinear with half-pixel
 * centres (OpenCV's INTER_LINEAR), so no separate resized copy is ever made. With `padDone`, the
 * pad area is left as it is: a reused buffer that last held a frame placed the same way has it already.
 */
export function fillTensor(out: Float32Array, offset: number, frame: PreparedFrame, layout: TensorLayout, padDone = false): void {
  const { pixels, width: pw, height: ph, offsetX: ox, offsetY: oy } = frame;
  const sw = frame.source?.width ?? pw;
  const sh = frame.source?.height ?? ph;
  const { width: W, height: H, nchw } = layout;
  // The scale is a float32, as the model's arithmetic is (and tensor-simd.wat's, which must agree to the bit).
  const scale = Math.fround(layout.scale);
  const pad = layout.padValue * scale;
  const plane = W * H;
  // Element strides: from one pixel to the next, from one channel to the next, from one row to the next.
  const px = nchw ? 1 : 3;
  const ch = nchw ? plane : 1;
  const rowStride = W * px;
  // The pad fill's plane stride (0: interleaved, one run per row span).
  const planes = nchw ? plane : 0;
  // Where R and B go from a pixel's first element (G is always `ch` on).
  const red = layout.bgr ? 2 * ch : 0;
  const blue = layout.bgr ? 0 : 2 * ch;
  // Pixels are read several bytes at once, little-endian (R G B R' ... ): a third of the reads.
  const view = new DataView(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  // Takes everything as arguments: a variable a closure captures lives in a context object, and
  // the hot loops below would read `out` through it.
  const padColumns = (o: Float32Array, value: number, row: number, from: number, to: number, planes: number) => {
    if (from >= to) return;
    if (!planes) {
      o.fill(value, row + from * 3, row + to * 3);
      return;
    }
    for (let c = 0; c < 3; c++) o.fill(value, row + c * planes + from, row + c * planes + to);
  };
  const resize = sw !== pw || sh !== ph;
  // Scaling through a 256-entry table is ~20% faster than a multiply per element in V8.
  const lut = new Float32Array(256);
  for (let i = 0; i < 256; i++) lut[i] = i * scale;
  // Bilinear in fixed point (bilinearTaps; integer arithmetic is ~1.5x faster here than floating point).
  const columns = resize ? bilinearTaps(pw, sw) : undefined;
  const rows = resize ? bilinearTaps(ph, sh) : undefined;
  const left = columns ? columns.index.map((a) => a * 3) : new Int32Array(0);
  const weightRight = columns?.weight ?? new Int32Array(0);
  const weightLeft = weightRight.map((w) => BILINEAR_ONE - w);
  const below = sw * 3;
  // The sum of a pixel's four weighted bytes is an integer up to 255 x 2048 x 2048; its value is
  // that sum, rounded to a float32, times the float32 `unit` (exact: a power of two below `scale`),
  // as tensor-simd.wat computes it.
  const unit = scale / (BILINEAR_ONE * BILINEAR_ONE);
  for (let y = 0; y < H; y++) {
    const row = offset + y * rowStride;
    const sy = y - oy;
    if (sy < 0 || sy >= ph) {
      if (!padDone) padColumns(out, pad, row, 0, W, planes);
      continue;
    }
    if (!padDone) {
      padColumns(out, pad, row, 0, ox, planes);
      padColumns(out, pad, row, ox + pw, W, planes);
    }
    let d = row + ox * px;
    if (!resize) {
      let x = 0;
      let s = sy * pw * 3;
      // Four pixels, twelve bytes, in three reads: twice as fast as byte by byte.
      for (; x + 4 <= pw; x += 4, s += 12, d += 4 * px) {
        const a = view.getUint32(s, true);
        const b = view.getUint32(s + 4, true);
        const c = view.getUint32(s + 8, true);
        out[d + red] = lut[a & 255];
        out[d + ch] = lut[(a >>> 8) & 255];
        out[d + blue] = lut[(a >>> 16) & 255];
        const d1 = d + px;
        out[d1 + red] = lut[a >>> 24];
        out[d1 + ch] = lut[b & 255];
        out[d1 + blue] = lut[(b >>> 8) & 255];
        const d2 = d1 + px;
        out[d2 + red] = lut[(b >>> 16) & 255];
        out[d2 + ch] = lut[b >>> 24];
        out[d2 + blue] = lut[c & 255];
        const d3 = d2 + px;
        out[d3 + red] = lut[(c >>> 8) & 255];
        out[d3 + ch] = lut[(c >>> 16) & 255];
        out[d3 + blue] = lut[c >>> 24];
      }
      for (; x < pw; x++, s += 3, d += px) {
        out[d + red] = lut[pixels[s]];
        out[d + ch] = lut[pixels[s + 1]];
        out[d + blue] = lut[pixels[s + 2]];
      }
      continue;
    }
    const y0 = rows!.index[sy];
    const fy = rows!.weight[sy];
    const gy = BILINEAR_ONE - fy;
    const r0 = y0 * below;
    for (let x = 0; x < pw; x++, d += px) {
      const gx = weightLeft[x];
      const fx = weightRight[x];
      const a = r0 + left[x];
      // Both pixels of a pair, six bytes, in two reads: R G B R' and G' B'.
      const top = view.getUint32(a, true);
      const top2 = view.getUint16(a + 4, true);
      const bottom = view.getUint32(a + below, true);
      const bottom2 = view.getUint16(a + below + 4, true);
      out[d + red] = Math.fround(((top & 255) * gx + (top >>> 24) * fx) * gy + ((bottom & 255) * gx + (bottom >>> 24) * fx) * fy) * unit;
      out[d + ch] = Math.fround((((top >>> 8) & 255) * gx + (top2 & 255) * fx) * gy + (((bottom >>> 8) & 255) * gx + (bottom2 & 255) * fx) * fy) * unit;
      out[d + blue] = Math.fround((((top >>> 16) & 255) * gx + (top2 >>> 8) * fx) * gy + (((bottom >>> 16) & 255) * gx + (bottom2 >>> 8) * fx) * fy) * unit;
    }
  }
}

/** The weight of a whole bilinear tap: 11-bit fixed point, as OpenCV's. */
export const BILINEAR_ONE = 2048;

/**
 * Bilinear taps from `src` samples to `dst`, half-pixel centres (OpenCV's INTER_LINEAR): output
 * i reads source `index[i]` and the next one, the next one weighted `weight[i]` of BILINEAR_ONE.
 * At the last source sample the pair steps back one, with all the weight on the second, so the
 * source has at least 2 samples.
 */
export function bilinearTaps(dst: number, src: number): { index: Int32Array; weight: Int32Array } {
  const index = new Int32Array(dst);
  const weight = new Int32Array(dst);
  for (let i = 0; i < dst; i++) {
    const at = Math.min(src - 1, Math.max(0, (i + 0.5) * (src / dst) - 0.5));
    index[i] = Math.min(Math.floor(at), src - 2);
    weight[i] = Math.round((at - index[i]) * BILINEAR_ONE);
  }
  return { index, weight };
}
