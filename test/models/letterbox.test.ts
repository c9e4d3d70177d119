import { describe, expect, it } from 'vitest';
import { placeImage, toSourceBox, toXywh, type Placement } from '../../src/models/geometry';
import type { InputSpec } from '../../src/models/spec';
import { fillTensor } from '../../src/models/tensor';
import type { Box } from '../../src/runtimes/runtime';

const input = (width: number, height: number, over: Partial<InputSpec> = {}): InputSpec => ({
  name: 'in', width, height, layout: 'nchw', channelOrder: 'bgr', scale: 1, resize: 'letterbox', placement: 'top-left', padValue: 114, ...over,
});

/** model = src * scale + offset: how a source-pixel box lands in the model input. */
const toModel = (b: Box, p: Placement): Box => [b[0] * p.scaleX + p.offsetX, b[1] * p.scaleY + p.offsetY, b[2] * p.scaleX + p.offsetX, b[3] * p.scaleY + p.offsetY];

function expectRoundTrip(box: Box, p: Placement): void {
  const back = toSourceBox(toModel(box, p), p);
  back.forEach((v, i) => expect(v).toBeCloseTo(box[i], 9));
}

describe('placeImage', () => {
  it('top-left letterbox of dog.jpg (768x576) into 416', () => {
    const p = placeImage(768, 576, input(416, 416));
    expect(p).toMatchObject({ width: 416, height: 312, offsetX: 0, offsetY: 0 });
    expect(p.scaleX).toBeCloseTo(416 / 768, 12);
    expect(p.scaleY).toBeCloseTo(312 / 576, 12);
  });

  it('centred letterbox pads equally (floor on the odd pixel), for tall and wide images', () => {
    expect(placeImage(768, 576, input(416, 416, { placement: 'center' }))).toMatchObject({ width: 416, height: 312, offsetX: 0, offsetY: 52 });
    expect(placeImage(101, 333, input(64, 48, { placement: 'center' }))).toMatchObject({ width: 15, height: 48, offsetX: 24, offsetY: 0 });
    expect(placeImage(333, 101, input(64, 48, { placement: 'center' }))).toMatchObject({ width: 64, height: 19, offsetX: 0, offsetY: 14 });
  });

  it('stretch uses the whole input with two scales', () => {
    const p = placeImage(333, 101, input(64, 48, { resize: 'stretch' }));
    expect(p).toMatchObject({ width: 64, height: 48, offsetX: 0, offsetY: 0, scaleX: 64 / 333, scaleY: 48 / 101 });
  });

  it('never places an image bigger than the input, nor smaller than a pixel', () => {
    const thin = placeImage(10_000, 3, input(416, 416));
    expect(thin.width).toBe(416);
    expect(thin.height).toBe(1);
    const same = placeImage(416, 416, input(416, 416, { placement: 'center' }));
    expect(same).toMatchObject({ width: 416, height: 416, offsetX: 0, offsetY: 0, scaleX: 1, scaleY: 1 });
  });
});

describe('letterbox round trip: a source box maps to the model and back exactly', () => {
  const cases: [string, number, number, InputSpec][] = [
    ['top-left, landscape', 768, 576, input(416, 416)],
    ['centre, landscape', 768, 576, input(640, 640, { placement: 'center' })],
    ['centre, portrait, odd sizes', 333, 777, input(416, 416, { placement: 'center' })],
    ['top-left, odd sizes, non-square input', 1001, 999, input(320, 192)],
    ['stretch, odd sizes', 641, 479, input(416, 256, { resize: 'stretch' })],
    ['upscaling a small image', 37, 23, input(416, 416, { placement: 'center' })],
  ];
  for (const [name, w, h, spec] of cases) {
    it(name, () => {
      const p = placeImage(w, h, spec);
      expectRoundTrip([0, 0, w, h], p);
      expectRoundTrip([w * 0.1, h * 0.2, w * 0.7, h * 0.9], p);
      expectRoundTrip([1, 1, 2, 2], p);
      // The whole source image covers exactly the placed region of the model input.
      const whole = toModel([0, 0, w, h], p);
      whole.forEach((v, i) => expect(v).toBeCloseTo([p.offsetX, p.offsetY, p.offsetX + p.width, p.offsetY + p.height][i], 9));
    });
  }

  it('model boxes reaching into the padding are clamped to the source image', () => {
    const p = placeImage(768, 576, input(640, 640, { placement: 'center' }));
    expect(toSourceBox([-20, 0, 700, 640], p)).toEqual([0, 0, 768, 576]);
  });

  it('toXywh', () => {
    expect(toXywh([10, 20, 40, 80])).toEqual([10, 20, 30, 60]);
  });
});

/**
 * The obvious, slow definition of the tensor fill, to compare fillTensor against element by
 * element. The scale is a float32, and each value the float32 product of a byte and it.
 */
function referenceFill(pixels: Uint8Array, pw: number, ph: number, ox: number, oy: number, W: number, H: number, nchw: boolean, bgr: boolean, scale: number, pad: number): Float32Array {
  const out = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        const inside = x >= ox && x < ox + pw && y >= oy && y < oy + ph;
        const srcChannel = bgr ? 2 - c : c;
        const value = inside ? pixels[((y - oy) * pw + (x - ox)) * 3 + srcChannel] : pad;
        out[nchw ? c * W * H + y * W + x : (y * W + x) * 3 + c] = Math.fround(value * Math.fround(scale));
      }
    }
  }
  return out;
}

/** Bilinear resize by its definition (OpenCV's INTER_LINEAR: half-pixel centres, edges clamped), in floating point. */
function referenceResize(src: Uint8Array, sw: number, sh: number, dw: number, dh: number): Float64Array {
  const out = new Float64Array(dw * dh * 3);
  const tap = (i: number, dst: number, n: number) => {
    const at = Math.min(n - 1, Math.max(0, (i + 0.5) * (n / dst) - 0.5));
    const a = Math.floor(at);
    return [a, Math.min(a + 1, n - 1), at - a];
  };
  for (let y = 0; y < dh; y++) {
    const [y0, y1, fy] = tap(y, dh, sh);
    for (let x = 0; x < dw; x++) {
      const [x0, x1, fx] = tap(x, dw, sw);
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => src[(yy * sw + xx) * 3 + c];
        const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
        const bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
        out[(y * dw + x) * 3 + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

describe('fillTensor', () => {
  // A 3x2 image whose every byte is different: R = 10 + i, G = 100 + i, B = 200 + i for pixel i.
  const pw = 3;
  const ph = 2;
  const pixels = new Uint8Array(pw * ph * 3);
  for (let i = 0; i < pw * ph; i++) pixels.set([10 + i, 100 + i, 200 + i], i * 3);

  for (const nchw of [true, false]) {
    for (const bgr of [true, false]) {
      for (const [ox, oy] of [[0, 0], [2, 1], [1, 3]]) {
        it(`${nchw ? 'NCHW' : 'NHWC'} ${bgr ? 'BGR' : 'RGB'}, image at (${ox}, ${oy}) in 5x5, scale 1/255, pad 114`, () => {
          const W = 5;
          const H = 5;
          const scale = 1 / 255;
          const size = W * H * 3;
          // Batch slot 1 of 2, surrounded by sentinels that must survive.
          const out = new Float32Array(size * 2 + 1).fill(-1);
          fillTensor(out, size, { pixels, width: pw, height: ph, offsetX: ox, offsetY: oy }, { width: W, height: H, nchw, bgr, scale, padValue: 114 });
          expect(Array.from(out.subarray(size, size * 2))).toEqual(Array.from(referenceFill(pixels, pw, ph, ox, oy, W, H, nchw, bgr, scale, 114)));
          expect(out.subarray(0, size).every((v) => v === -1)).toBe(true);
          expect(out[size * 2]).toBe(-1);
        });
      }
    }
  }

  for (const nchw of [true, false]) {
    for (const bgr of [true, false]) {
      it(`${nchw ? 'NCHW' : 'NHWC'} ${bgr ? 'BGR' : 'RGB'}: rows read four pixels at a time, and the rest one by one, at an odd offset in the buffer`, () => {
        const [w, h, W, H] = [7, 3, 9, 5];
        // One byte in: the 32-bit reads are unaligned.
        const buffer = new Uint8Array(1 + w * h * 3).map((_, i) => (i * 53 + 11) % 256);
        const image = buffer.subarray(1);
        const out = new Float32Array(W * H * 3);
        fillTensor(out, 0, { pixels: image, width: w, height: h, offsetX: 1, offsetY: 2 }, { width: W, height: H, nchw, bgr, scale: 0.5, padValue: 114 });
        expect(Array.from(out)).toEqual(Array.from(referenceFill(image, w, h, 1, 2, W, H, nchw, bgr, 0.5, 114)));
      });
    }
  }

  it('spot checks by hand: NCHW BGR, scale 1 (YOLOX)', () => {
    const out = new Float32Array(4 * 3 * 3);
    fillTensor(out, 0, { pixels, width: pw, height: ph, offsetX: 1, offsetY: 1 }, { width: 4, height: 3, nchw: true, bgr: true, scale: 1, padValue: 114 });
    const plane = 12;
    expect(out[0]).toBe(114); // (0,0) is padding in every channel
    expect(out[plane + 0]).toBe(114);
    // pixel 0 of the image sits at (x=1, y=1): B first
    expect(out[0 * plane + 1 * 4 + 1]).toBe(200);
    expect(out[1 * plane + 1 * 4 + 1]).toBe(100);
    expect(out[2 * plane + 1 * 4 + 1]).toBe(10);
    // pixel 5 (last) at (x=3, y=2)
    expect(out[2 * plane + 2 * 4 + 3]).toBe(15);
  });

  for (const nchw of [true, false]) {
    it(`${nchw ? 'NCHW' : 'NHWC'}: padDone writes the image and leaves every pad element as it is`, () => {
      const W = 5;
      const H = 5;
      const out = new Float32Array(W * H * 3).fill(-7);
      fillTensor(out, 0, { pixels, width: pw, height: ph, offsetX: 2, offsetY: 1 }, { width: W, height: H, nchw, bgr: true, scale: 1, padValue: 114 }, true);
      const full = referenceFill(pixels, pw, ph, 2, 1, W, H, nchw, true, 1, 114);
      const marker = referenceFill(new Uint8Array(pw * ph * 3).fill(1), pw, ph, 2, 1, W, H, nchw, true, 1, 0);
      out.forEach((v, i) => expect(v, `element ${i}`).toBe(marker[i] === 1 ? full[i] : -7));
    });
  }

  it('a zero-sized image gives an all-pad tensor (the warm-up frame)', () => {
    const out = new Float32Array(8 * 8 * 3).fill(NaN);
    fillTensor(out, 0, { pixels: new Uint8Array(0), width: 0, height: 0, offsetX: 0, offsetY: 0 }, { width: 8, height: 8, nchw: true, bgr: false, scale: 0.5, padValue: 114 });
    expect(out.every((v) => v === 57)).toBe(true);
  });

  // Shrinks up to 2x, enlargements, the smallest sources (2 pixels: every pair at the edge) and placements off the origin.
  const resizes: [number, number, number, number, number, number][] = [
    [13, 9, 7, 5, 0, 0], [8, 6, 8, 3, 1, 2], [5, 4, 9, 7, 0, 1], [2, 6, 4, 3, 2, 0], [7, 2, 4, 2, 0, 0], [2, 2, 3, 3, 1, 1],
  ];
  for (const [sw, sh, dw, dh, ox, oy] of resizes) {
    for (const nchw of [true, false]) {
      it(`${nchw ? 'NCHW' : 'NHWC'} BGR: a ${sw}x${sh} source resized to ${dw}x${dh} at (${ox}, ${oy}) matches bilinear by definition, pad exact`, () => {
        const W = 10;
        const H = 9;
        const source = new Uint8Array(sw * sh * 3).map((_, i) => (i * 89 + 7) % 256);
        const scale = 1 / 255;
        const out = new Float32Array(W * H * 3).fill(-1);
        fillTensor(out, 0, { pixels: source, width: dw, height: dh, offsetX: ox, offsetY: oy, source: { width: sw, height: sh } }, { width: W, height: H, nchw, bgr: true, scale, padValue: 114 });
        // The expected tensor: the reference resize, written by the (already checked) plain fill, values unrounded.
        const resized = referenceResize(source, sw, sh, dw, dh);
        const marker = referenceFill(new Uint8Array(dw * dh * 3).fill(1), dw, dh, ox, oy, W, H, nchw, true, 1, 0);
        const expected = new Float64Array(W * H * 3).fill(114 * scale);
        const order = new Float64Array(dw * dh * 3);
        for (let i = 0; i < dw * dh; i++) for (let c = 0; c < 3; c++) order[i * 3 + c] = resized[i * 3 + 2 - c] * scale;
        // marker is 1 exactly where the image goes.
        const positions: number[] = [];
        marker.forEach((v, i) => v === 1 && positions.push(i));
        const at = (x: number, y: number, c: number) => (nchw ? c * W * H + (y + oy) * W + x + ox : ((y + oy) * W + x + ox) * 3 + c);
        for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) for (let c = 0; c < 3; c++) expected[at(x, y, c)] = order[(y * dw + x) * 3 + c];
        expect(positions.length).toBe(dw * dh * 3);
        for (const i of positions) {
          expect(Math.abs(out[i] - expected[i]), `element ${i}`).toBeLessThanOrEqual(0.25 * scale);
        }
        out.forEach((v, i) => marker[i] !== 1 && expect(v, `pad ${i}`).toBe(Math.fround(114 * Math.fround(scale))));
      });
    }
  }
});
