import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { prepareImage } from '../../src/models/preprocess';
import { fillTensor, tensorLayout, type TensorLayout } from '../../src/models/tensor';
import { SimdTensor } from '../../src/models/tensor-simd';
import type { PreparedFrame } from '../../src/runtimes/runtime';
// @ts-expect-error: a plain ES module of the build scripts, without types
import { WASM_MODULE_TS, WAT_SOURCE, wasmModuleSource } from '../../scripts/wasm.mjs';
import { REPO } from '../paths';
import { media, rawPhoto, YOLOV5, YOLOX } from './helpers';
import { specForFile } from '../../src/models/store';

/** What fillTensor (checked against the fill's definition in letterbox.test.ts) writes. */
function expected(frames: PreparedFrame[], layout: TensorLayout, fill = -1): Float32Array {
  const plane = 3 * layout.width * layout.height;
  const out = new Float32Array(plane * frames.length).fill(fill);
  frames.forEach((frame, i) => fillTensor(out, i * plane, frame, layout));
  return out;
}

const bytes = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 89 + seed * 31 + 7) % 256);

/** With padDone, the fill writes the image (as fillTensor does) and leaves every pad element as it was. */
function padDoneKeepsPad(layout: TensorLayout, frame: PreparedFrame, simd = new SimdTensor(layout)): void {
  const tensor = simd.tensor(1).fill(-7);
  simd.fill(0, frame, true);
  const full = expected([frame], layout);
  const inside = expected([{ ...frame, pixels: new Uint8Array(frame.pixels.length).fill(1) }], { ...layout, scale: 1, padValue: 0 });
  tensor.forEach((v, i) => expect(v, `element ${i}`).toBe(inside[i] > 0 ? full[i] : -7));
}

describe('the SIMD tensor fill (tensor-simd.wat)', () => {
  it('tensor-simd-wasm.ts is what npm run build:wasm makes of tensor-simd.wat', async () => {
    const wat = fs.readFileSync(path.join(REPO, WAT_SOURCE), 'utf8');
    expect(fs.readFileSync(path.join(REPO, WASM_MODULE_TS), 'utf8')).toBe(await wasmModuleSource(wat));
  });

  // Widths around the 16-pixel step (none, a remainder only, exact, step plus remainder), at every kind of placement.
  const cases: [number, number, number, number][] = [[0, 0, 0, 0], [1, 1, 3, 2], [7, 3, 1, 2], [16, 4, 0, 5], [17, 5, 2, 0], [35, 6, 5, 4], [40, 9, 0, 0]];
  // Interleaved inputs in BGR order are fillTensor's (a test below).
  for (const [nchw, bgr] of [[true, true], [true, false], [false, false]]) {
    for (const scale of [1, 1 / 255, 0.5]) {
      it(`${nchw ? 'NCHW' : 'NHWC'} ${bgr ? 'BGR' : 'RGB'}, scale ${scale.toPrecision(3)}: equals fillTensor to the bit, for every width and placement, in batch slot 1 of 2`, () => {
        const layout: TensorLayout = { width: 40, height: 9, nchw, bgr, scale, padValue: 114 };
        const simd = new SimdTensor(layout);
        const plane = 3 * 40 * 9;
        for (const [w, h, x, y] of cases) {
          const frame: PreparedFrame = { pixels: bytes(w * h * 3, w), width: w, height: h, offsetX: x, offsetY: y };
          expect(simd.takes(frame)).toBe(true);
          const tensor = simd.tensor(2);
          tensor.fill(-1);
          simd.fill(1, frame);
          expect(tensor.subarray(0, plane).every((v) => v === -1), `${w}x${h}: slot 0 untouched`).toBe(true);
          expect(Array.from(tensor.subarray(plane)), `${w}x${h} at (${x}, ${y})`).toEqual(Array.from(expected([frame], layout)));
        }
      });
    }
  }

  for (const nchw of [true, false]) {
    it(`${nchw ? 'NCHW' : 'NHWC'}: padDone writes the image and leaves every pad element as it is`, () => {
      padDoneKeepsPad({ width: 40, height: 9, nchw, bgr: nchw, scale: 1 / 255, padValue: 114 }, { pixels: bytes(35 * 6 * 3, 1), width: 35, height: 6, offsetX: 5, offsetY: 2 });
    });
  }

  it('a larger tensor grows the memory and keeps what frame 0 holds', () => {
    const layout: TensorLayout = { width: 64, height: 64, nchw: true, bgr: false, scale: 1 / 255, padValue: 114 };
    const simd = new SimdTensor(layout);
    const frame: PreparedFrame = { pixels: bytes(60 * 50 * 3, 2), width: 60, height: 50, offsetX: 2, offsetY: 7 };
    simd.fill(0, frame);
    const eight = simd.tensor(8);
    expect(eight.length).toBe(8 * 3 * 64 * 64);
    expect(Array.from(eight.subarray(0, 3 * 64 * 64))).toEqual(Array.from(expected([frame], layout)));
  });

  it('leaves to fillTensor what it does not take: a frame at its placed size into an interleaved BGR input, and sources over twice the placed size', () => {
    const layout = (nchw: boolean, bgr: boolean) => new SimdTensor({ width: 8, height: 8, nchw, bgr, scale: 1, padValue: 0 });
    const frame: PreparedFrame = { pixels: bytes(4 * 4 * 3, 3), width: 4, height: 4, offsetX: 0, offsetY: 0 };
    const resized: PreparedFrame = { ...frame, width: 2, height: 2, source: { width: 4, height: 4 } };
    for (const [nchw, bgr] of [[true, true], [true, false], [false, false]]) expect(layout(nchw, bgr).takes(frame)).toBe(true);
    expect(layout(false, true).takes(frame)).toBe(false);
    expect(() => layout(false, true).fill(0, frame)).toThrow(/does not take a 4x4 frame into a interleaved BGR input/);
    for (const [nchw, bgr] of [[true, true], [false, true]]) expect(layout(nchw, bgr).takes(resized)).toBe(true);
    expect(layout(true, true).takes({ ...resized, height: 1 })).toBe(false);
  });

  // Shrinks up to 2x, enlargements, the smallest sources (every pair at the edge), row lengths
  // around the 16-byte step of the row blend, placements off the origin.
  const resizes: [number, number, number, number, number, number][] = [
    [13, 9, 7, 5, 0, 0], [8, 6, 8, 3, 1, 2], [5, 4, 9, 7, 0, 1], [2, 6, 4, 3, 2, 0], [7, 2, 4, 2, 0, 0], [2, 2, 3, 3, 1, 1],
    [16, 5, 9, 4, 0, 3], [22, 11, 12, 6, 3, 1], [37, 17, 20, 9, 1, 0],
  ];
  for (const [nchw, bgr] of [[true, true], [true, false], [false, true], [false, false]]) {
    for (const scale of [1, 1 / 255]) {
      it(`${nchw ? 'NCHW' : 'NHWC'} ${bgr ? 'BGR' : 'RGB'}, scale ${scale.toPrecision(3)}: resizing equals fillTensor's bilinear to the bit, in batch slot 1 of 2`, () => {
        const layout: TensorLayout = { width: 24, height: 12, nchw, bgr, scale, padValue: 114 };
        const simd = new SimdTensor(layout);
        const plane = 3 * 24 * 12;
        for (const [sw, sh, dw, dh, x, y] of resizes) {
          const frame: PreparedFrame = { pixels: bytes(sw * sh * 3, sw + sh), width: dw, height: dh, offsetX: x, offsetY: y, source: { width: sw, height: sh } };
          const tensor = simd.tensor(2);
          tensor.fill(-1);
          simd.fill(1, frame);
          expect(tensor.subarray(0, plane).every((v) => v === -1), `${sw}x${sh}: slot 0 untouched`).toBe(true);
          expect(Array.from(tensor.subarray(plane)), `${sw}x${sh} to ${dw}x${dh} at (${x}, ${y})`).toEqual(Array.from(expected([frame], layout)));
        }
      });
    }
  }

  for (const nchw of [true, false]) {
    it(`${nchw ? 'NCHW' : 'NHWC'}: a resized frame with padDone leaves every pad element as it is; frames of other sizes in between get their own taps`, () => {
      const layout: TensorLayout = { width: 24, height: 12, nchw, bgr: true, scale: 1 / 255, padValue: 114 };
      const simd = new SimdTensor(layout);
      const frame: PreparedFrame = { pixels: bytes(30 * 14 * 3, 5), width: 20, height: 9, offsetX: 2, offsetY: 1, source: { width: 30, height: 14 } };
      simd.fill(0, frame);
      simd.fill(0, { pixels: bytes(9 * 9 * 3, 6), width: 5, height: 6, offsetX: 0, offsetY: 0, source: { width: 9, height: 9 } });
      padDoneKeepsPad(layout, frame, simd);
    });
  }

  it('a resize after the tensor grew (which moves the scratch room) writes its taps again', () => {
    const layout: TensorLayout = { width: 24, height: 12, nchw: true, bgr: true, scale: 1 / 255, padValue: 114 };
    const simd = new SimdTensor(layout);
    const frame: PreparedFrame = { pixels: bytes(30 * 14 * 3, 7), width: 20, height: 9, offsetX: 2, offsetY: 1, source: { width: 30, height: 14 } };
    simd.fill(0, frame);
    simd.tensor(4).fill(-1);
    simd.fill(0, frame);
    expect(Array.from(simd.tensor(1))).toEqual(Array.from(expected([frame], layout)));
  });

  // YOLOX-Nano takes a planar BGR input, YOLOv5s here an interleaved RGB one.
  for (const model of [YOLOX, YOLOV5]) {
    const spec = () => specForFile(model, new Uint8Array(fs.readFileSync(model)));
    const same = (frame: PreparedFrame) => {
      const layout = tensorLayout(spec().input);
      const simd = new SimdTensor(layout);
      expect(simd.takes(frame)).toBe(true);
      simd.fill(0, frame);
      const tensor = simd.tensor(1);
      return Buffer.compare(Buffer.from(tensor.buffer, tensor.byteOffset, tensor.byteLength), Buffer.from(expected([frame], layout).buffer)) === 0;
    };

    it(`a real photo prepared for ${path.basename(model)} equals fillTensor's tensor`, async () => {
      const { frame } = await prepareImage({ kind: 'encoded', data: fs.readFileSync(media('dog.jpg')) }, spec().input);
      expect(same(frame)).toBe(true);
    });

    it(`a real photo at its own size, resized for ${path.basename(model)}, equals fillTensor's tensor`, async () => {
      const { frame } = await prepareImage(await rawPhoto('dog.jpg'), spec().input, { runtimeResizes: true });
      expect(frame.source).toEqual({ width: 768, height: 576 });
      expect(same(frame)).toBe(true);
    });
  }
});
