import { describe, expect, it } from 'vitest';
import { decode, OutputLayoutError, type ModelOutputs } from '../../src/models/decoders';
import { expectBox, tinySpec } from './helpers';

const opts = { confidence: 0.25, iou: 0.45, maxDetections: 100 };
const out = (dims: number[], fill: (d: Float32Array) => void, name = 'out'): ModelOutputs => {
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  fill(data);
  return { [name]: { data, dims } };
};

describe('yolox decoder (hand-made grid)', () => {
  // 64x64 input, strides 8/16/32: 8x8 + 4x4 + 2x2 = 84 rows of 5 + 3 values.
  const spec = tinySpec({ kind: 'yolox', strides: [8, 16, 32] });
  const row = (r: number) => r * 8;

  it('decodes grid offsets, exp sizes and the stride of each row', () => {
    const outputs = out([1, 84, 8], (d) => {
      // stride 16 cell (x=1, y=2) is row 64 + 2*4 + 1 = 73
      d.set([0.5, 0.5, Math.log(2), 0, 0.9, 0.1, 0.2, 0.8], row(73));
      // stride 8 cell (x=3, y=0): row 3; objectness high but class low -> score 0.9*0.2 < 0.25
      d.set([0, 0, 0, 0, 0.9, 0.2, 0.1, 0.1], row(3));
      // stride 32 cell (x=1, y=1): last row 83
      d.set([0, 0, 0, 0, 0.6, 0.9, 0, 0], row(83));
    });
    const found = decode(spec, outputs, 0, opts);
    expect(found.map((f) => f.classId)).toEqual([2, 0]);
    expect(found[0].score).toBeCloseTo(0.72, 6);
    expectBox(found[0].box, [8, 32, 40, 48]); // cx 24, cy 40, w 32, h 16
    expect(found[1].score).toBeCloseTo(0.54, 6);
    expectBox(found[1].box, [16, 16, 48, 48]); // cx 32, cy 32, w 32, h 32
  });

  it('reads the right image of a batch', () => {
    const outputs = out([2, 84, 8], (d) => d.set([0, 0, 0, 0, 1, 0, 1, 0], 84 * 8 + row(0)));
    expect(decode(spec, outputs, 0, opts)).toEqual([]);
    const [only] = decode(spec, outputs, 1, opts);
    expect(only.classId).toBe(1);
    expectBox(only.box, [-4, -4, 4, 4]); // cell (0, 0), stride 8: centre 0, size 8
  });

  it('refuses a grid that does not match the input size, naming shapes', () => {
    const outputs = out([1, 80, 8], () => undefined);
    expect(() => decode(spec, outputs, 0, opts)).toThrow(OutputLayoutError);
    expect(() => decode(spec, outputs, 0, opts)).toThrow(/output "out" has shape \[1, 80, 8\].*yolox decoder, 64x64, 3 classes.*expects \[N, 84, 8\]/);
  });
});

describe('yolov5 decoder (hand-made)', () => {
  const rowOf = (cx: number, cy: number, w: number, h: number, obj: number, cls: number[]) => [cx, cy, w, h, obj, ...cls];

  it('pixel coordinates: score = objectness * best class', () => {
    const spec = tinySpec({ kind: 'yolov5', normalized: false });
    const outputs = out([1, 3, 8], (d) => {
      d.set(rowOf(32, 32, 16, 8, 0.8, [0.1, 0.9, 0.3]), 0);
      d.set(rowOf(10, 10, 4, 4, 0.2, [1, 0, 0]), 8); // objectness below threshold
      d.set(rowOf(10, 10, 4, 4, 0.9, [0.2, 0.1, 0.1]), 16); // 0.18 after multiplying
    });
    const found = decode(spec, outputs, 0, opts);
    expect(found).toHaveLength(1);
    expect(found[0].classId).toBe(1);
    expect(found[0].score).toBeCloseTo(0.72, 6);
    expectBox(found[0].box, [24, 28, 40, 36]);
  });

  it('normalised coordinates are scaled by the input width and height', () => {
    const spec = tinySpec({ kind: 'yolov5', normalized: true }, 3, {
      input: { ...tinySpec({ kind: 'yolov5', normalized: true }).input, width: 128, height: 64 },
    });
    const outputs = out([1, 1, 8], (d) => d.set(rowOf(0.5, 0.5, 0.25, 0.5, 1, [0, 0, 1]), 0));
    const [found] = decode(spec, outputs, 0, opts);
    expectBox(found.box, [48, 16, 80, 48]); // cx 64, cy 32, w 32, h 32
  });

  it('refuses a wrong class count', () => {
    const spec = tinySpec({ kind: 'yolov5', normalized: false }, 80);
    expect(() => decode(spec, out([1, 10, 8], () => undefined), 0, opts)).toThrow(/shape \[1, 10, 8\].*80 classes.*expects \[N, N, 85\]/);
  });
});

describe('yolov8 decoder (hand-made [1, 4 + nc, N])', () => {
  const spec = tinySpec({ kind: 'yolov8' });
  it('reads channel-major columns with no objectness', () => {
    const n = 4;
    const outputs = out([1, 7, n], (d) => {
      const set = (channel: number, j: number, v: number) => (d[channel * n + j] = v);
      // candidate 1: cx 20, cy 30, w 10, h 8, class 2 score 0.9
      [20, 30, 10, 8].forEach((v, c) => set(c, 1, v));
      set(4 + 2, 1, 0.9);
      set(4 + 0, 1, 0.3);
      // candidate 3: below threshold
      [5, 5, 2, 2].forEach((v, c) => set(c, 3, v));
      set(4 + 1, 3, 0.2);
      // candidate 0: class 0 at 0.5
      [40, 40, 20, 20].forEach((v, c) => set(c, 0, v));
      set(4, 0, 0.5);
    });
    const found = decode(spec, outputs, 0, opts);
    expect(found.map((f) => [f.classId, f.score])).toEqual([[2, expect.closeTo(0.9, 6)], [0, 0.5]]);
    expectBox(found[0].box, [15, 26, 25, 34]);
    expectBox(found[1].box, [30, 30, 50, 50]);
  });

  it('refuses the transposed (yolov5-like) layout with a clear message', () => {
    expect(() => decode(spec, out([1, 4, 7], () => undefined), 0, opts)).toThrow(/has shape \[1, 4, 7\].*expects \[N, 7, N\]/);
  });
});

describe('nms-free decoder (hand-made)', () => {
  it('single [1, N, 6] output: xyxy pixels, score, class; sorted, capped, bad classes dropped', () => {
    const spec = tinySpec({ kind: 'nms-free', boxFormat: 'xyxy', normalized: false });
    const outputs = out([1, 5, 6], (d) => {
      d.set([1, 2, 11, 12, 0.5, 0], 0);
      d.set([1, 2, 11, 12, 0.9, 0], 6); // same box, kept too: the model already did NMS
      d.set([5, 5, 9, 9, 0.7, 2], 12);
      d.set([0, 0, 9, 9, 0.95, 7], 18); // class 7 of 3: dropped
      d.set([0, 0, 9, 9, 0.1, 1], 24); // below threshold
    });
    const found = decode(spec, outputs, 0, opts);
    expect(found.map((f) => [f.classId, f.score])).toEqual([[0, expect.closeTo(0.9, 6)], [2, expect.closeTo(0.7, 6)], [0, 0.5]]);
    expectBox(found[0].box, [1, 2, 11, 12]);
    expect(decode(spec, outputs, 0, { ...opts, maxDetections: 2 })).toHaveLength(2);
  });

  it('separate boxes [1, N, 4] (normalised cxcywh) and scores [1, N, nc]', () => {
    const spec = tinySpec({ kind: 'nms-free', boxFormat: 'cxcywh', normalized: true, boxesOutput: 'boxes', scoresOutput: 'scores' });
    const outputs: ModelOutputs = {
      ...out([1, 2, 4], (d) => d.set([0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.1, 0.1])), // named 'out', ignored
      boxes: out([1, 2, 4], (d) => d.set([0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.1, 0.1]), 'boxes').boxes,
      scores: out([1, 2, 3], (d) => d.set([0.1, 0.8, 0.2, 0.3, 0.2, 0.1]), 'scores').scores,
    };
    const found = decode(spec, outputs, 0, opts);
    expect(found.map((f) => f.classId)).toEqual([1, 0]);
    expectBox(found[0].box, [16, 24, 48, 40]);
    expectBox(found[1].box, [12.8, 12.8, 19.2, 19.2]);
  });

  it('a missing output is named, with the outputs that do exist', () => {
    const spec = tinySpec({ kind: 'nms-free', boxFormat: 'xyxy', normalized: false, boxesOutput: 'boxes', scoresOutput: 'scores' });
    expect(() => decode(spec, out([1, 2, 4], () => undefined, 'boxes'), 0, opts)).toThrow(/no output named "scores" \(outputs: boxes\)/);
  });

  it('scores with a different N than boxes are refused', () => {
    const spec = tinySpec({ kind: 'nms-free', boxFormat: 'xyxy', normalized: false, boxesOutput: 'boxes', scoresOutput: 'scores' });
    const outputs = { ...out([1, 2, 4], () => undefined, 'boxes'), ...out([1, 3, 3], () => undefined, 'scores') };
    expect(() => decode(spec, outputs, 0, opts)).toThrow(OutputLayoutError);
  });
});

it('a batch index past the batch is a layout error, not garbage', () => {
  const spec = tinySpec({ kind: 'yolov5', normalized: false });
  expect(() => decode(spec, out([1, 1, 8], () => undefined), 1, opts)).toThrow(OutputLayoutError);
});
