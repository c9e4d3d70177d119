import type { ModelSpec } from '../../src/models/spec';
import type { Box } from '../../src/runtimes/runtime';

export { media, MEDIA, MODELS, SHARED, YOLOV5, YOLOX } from '../paths';

/** IoU of two Scrypted [x, y, w, h] boxes. */
export function iouXywh(a: readonly number[], b: readonly number[]): number {
  const iw = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

/** A small spec for hand-made tensors: 64x64 input, `classes` labels. */
export function tinySpec(decoder: ModelSpec['decoder'], classes = 3, overrides: Partial<ModelSpec> = {}): ModelSpec {
  return {
    name: 'tiny',
    input: { name: 'in', width: 64, height: 64, layout: 'nchw', channelOrder: 'rgb', scale: 1 / 255, resize: 'letterbox', placement: 'center', padValue: 114 },
    output: 'out',
    decoder,
    labels: Array.from({ length: classes }, (_, i) => `c${i}`),
    ...overrides,
  };
}

export function expectBox(actual: Box, expected: Box, digits = 4): void {
  for (let i = 0; i < 4; i++) {
    if (Math.abs(actual[i] - expected[i]) > 10 ** -digits) {
      throw new Error(`box [${actual.join(', ')}] != expected [${expected.join(', ')}]`);
    }
  }
}

/** What MODELS.md says YOLOX-Nano finds on dog.jpg, [x, y, w, h] in source pixels. */
export const YOLOX_DOG = [
  { className: 'dog', score: 0.85, box: [133, 205, 190, 337] },
  { className: 'car', score: 0.82, box: [467, 78, 226, 93] },
  { className: 'bicycle', score: 0.82, box: [61, 133, 511, 295] },
];
