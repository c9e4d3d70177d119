/**
 * Layouts with no real model file (YOLOv8, NMS-free), end to end: tiny ONNX models made in code
 * whose outputs are hand-made constants, loaded from a file by the real store (spec inferred from
 * the graph, or a sidecar), run by the real onnx runtime, decoded and mapped back to the source.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Detector } from '../../src/engine/detector';
import type { ModelSpec } from '../../src/models/spec';
import { RuntimeError } from '../../src/runtimes/runtime';
import { tinyOnnx, type TinyOutput } from '../fixtures/tiny-onnx';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvr-tiny-'));
const detectors: Detector[] = [];
afterAll(async () => {
  await Promise.all(detectors.map((d) => d.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function load(name: string, outputs: TinyOutput[], sidecar?: ModelSpec): Promise<Detector> {
  const file = path.join(dir, `${name}.onnx`);
  fs.writeFileSync(file, tinyOnnx({ name: 'images', dims: [1, 3, 64, 64] }, outputs));
  if (sidecar) fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(sidecar));
  const detector = await Detector.create({ model: file, runtime: 'onnx', device: 'cpu', threads: 1, concurrency: 1 });
  detectors.push(detector);
  return detector;
}

/** A 128x64 grey frame: letterboxed into 64x64 at scale 0.5, centred, so 16 rows of pad above. */
const wide = { kind: 'raw' as const, data: new Uint8Array(128 * 64 * 3).fill(90), width: 128, height: 64, channels: 3 as const };
const options = { confidence: 0.25, iou: 0.45, maxDetections: 100 };

describe('YOLOv8 layout [1, 4 + nc, N], spec inferred from the file', () => {
  it('decodes, suppresses per class, and maps boxes back through the centred letterbox', async () => {
    const n = 8; // candidates; more than 4 + nc, as in every real export (8400 vs 84)
    const values = new Float32Array(7 * n);
    const set = (j: number, box: number[], cls: number, score: number) => {
      box.forEach((v, c) => (values[c * n + j] = v));
      values[(4 + cls) * n + j] = score;
    };
    set(0, [32, 32, 20, 10], 1, 0.9); // source [44, 22, 40, 20]
    set(1, [33, 32, 20, 10], 1, 0.6); // same class, IoU 0.9: suppressed
    set(2, [33, 32, 20, 10], 2, 0.5); // other class, same place: kept
    set(3, [10, 10, 4, 4], 0, 0.2); // below threshold
    const detector = await load('v8', [{ name: 'output0', dims: [1, 7, n], values }]); // columns 4..7: all zero
    expect(detector.spec.decoder).toEqual({ kind: 'yolov8' });
    expect(detector.spec.input).toMatchObject({ width: 64, height: 64, placement: 'center', channelOrder: 'rgb' });

    const result = await detector.detect(wide, options);
    expect(result.inputDimensions).toEqual([128, 64]);
    expect(result.detections.map((d) => [d.className, d.score])).toEqual([['class1', expect.closeTo(0.9, 6)], ['class2', 0.5]]);
    result.detections[0].boundingBox.forEach((v, i) => expect(v).toBeCloseTo([44, 22, 40, 20][i], 4));
    result.detections[1].boundingBox.forEach((v, i) => expect(v).toBeCloseTo([46, 22, 40, 20][i], 4));
    expect((await detector.detect(wide, { ...options, classes: ['class2'] })).detections.map((d) => d.className)).toEqual(['class2']);
  });
});

describe('NMS-free layouts', () => {
  it('[1, N, 6] (YOLOv10 style), spec inferred: boxes kept as the model gave them', async () => {
    const values = Float32Array.from([
      22, 27, 42, 37, 0.8, 5,
      22, 27, 42, 37, 0.7, 5, // a duplicate the model chose to give: not suppressed
      0, 0, 10, 10, 0.1, 3,
    ]);
    const detector = await load('v10', [{ name: 'output0', dims: [1, 3, 6], values }]);
    expect(detector.spec.decoder).toMatchObject({ kind: 'nms-free', boxFormat: 'xyxy', normalized: false });
    const result = await detector.detect(wide, options);
    expect(result.detections.map((d) => [d.className, d.score])).toEqual([['bus', expect.closeTo(0.8, 6)], ['bus', expect.closeTo(0.7, 6)]]);
    result.detections[0].boundingBox.forEach((v, i) => expect(v).toBeCloseTo([44, 22, 40, 20][i], 4));
  });

  it('separate boxes [1, N, 4] (normalised cxcywh) and scores [1, N, nc] with a sidecar spec', async () => {
    const spec: ModelSpec = {
      name: 'detr',
      input: { name: 'images', width: 64, height: 64, layout: 'nchw', channelOrder: 'rgb', scale: 1 / 255, resize: 'stretch', placement: 'top-left', padValue: 0 },
      output: 'boxes',
      decoder: { kind: 'nms-free', boxFormat: 'cxcywh', normalized: true, boxesOutput: 'boxes', scoresOutput: 'scores' },
      labels: ['cat', 'dog'],
    };
    const detector = await load('detr', [
      { name: 'boxes', dims: [1, 2, 4], values: Float32Array.from([0.5, 0.5, 0.25, 0.5, 0.1, 0.1, 0.1, 0.1]) },
      { name: 'scores', dims: [1, 2, 2], values: Float32Array.from([0.1, 0.95, 0.2, 0.1]) },
    ], spec);
    const result = await detector.detect(wide, options);
    // stretch: 128x64 -> 64x64; box cx 32, cy 32, w 16, h 32 in the model -> x 48..80 of 128, y 16..48 of 64
    expect(result.detections).toHaveLength(1);
    expect(result.detections[0].className).toBe('dog');
    result.detections[0].boundingBox.forEach((v, i) => expect(v).toBeCloseTo([48, 16, 32, 32][i], 4));
  });
});

describe('a tiny model whose outputs disagree with its sidecar spec', () => {
  it('is refused at load with the shapes named', async () => {
    const spec: ModelSpec = {
      name: 'liar',
      input: { name: 'images', width: 64, height: 64, layout: 'nchw', channelOrder: 'bgr', scale: 1, resize: 'letterbox', placement: 'top-left', padValue: 114 },
      output: 'output0',
      decoder: { kind: 'yolox', strides: [8, 16, 32] },
      labels: ['a', 'b', 'c'],
    };
    const error = await load('liar', [{ name: 'output0', dims: [1, 7, 4], values: new Float32Array(28) }], spec).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/does not work with its spec: model "liar" output "output0" has shape \[1, 7, 4\] .*expects \[N, 84, 8\]/);
  });
});
