import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, type ModelOutputs } from '../../src/models/decoders';
import type { ModelSpec } from '../../src/models/spec';
import type { DecodeOptions } from '../../src/runtimes/runtime';

// The same raw output tensors decode to the same detections in TypeScript and in Python
// (python-runtime/tests/test_decoders.py checks the Python side against this manifest).
const DIR = path.resolve(__dirname, '../golden/decoders');
interface Vector {
  name: string;
  spec: ModelSpec;
  outputs: Record<string, { file: string; dims: number[] }>;
  options: DecodeOptions;
  expected: { classId: number; score: number; box: [number, number, number, number] }[];
}
const manifest = JSON.parse(readFileSync(path.join(DIR, 'manifest.json'), 'utf8')) as { vectors: Vector[] };

function load(v: Vector): ModelOutputs {
  const out: ModelOutputs = {};
  for (const [name, o] of Object.entries(v.outputs)) {
    const buf = readFileSync(path.join(DIR, o.file));
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    expect(data.length).toBe(o.dims.reduce((a, b) => a * b, 1));
    out[name] = { data, dims: o.dims };
  }
  return out;
}

describe('decoder parity with python-runtime (test/golden/decoders)', () => {
  it.each(manifest.vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const got = decode(v.spec, load(v), 0, v.options);
    expect(got.length).toBe(v.expected.length);
    got.forEach((d, i) => {
      const e = v.expected[i];
      expect(d.classId).toBe(e.classId);
      expect(d.score).toBeCloseTo(e.score, 6);
      d.box.forEach((c, k) => expect(Math.abs(c - e.box[k])).toBeLessThan(1e-3));
    });
  });

  it('covers every decoder kind, and the real YOLOX output finds dog, bicycle, car', () => {
    expect(new Set(manifest.vectors.map((v) => v.spec.decoder.kind))).toEqual(new Set(['yolox', 'yolov5', 'yolov8', 'nms-free']));
    const dog = manifest.vectors.find((v) => v.name === 'yolox-dog')!;
    expect(new Set(dog.expected.map((d) => d.classId))).toEqual(new Set([16, 1, 2, 7]));
  });
});
