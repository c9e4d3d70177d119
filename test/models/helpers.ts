import { expect } from 'vitest';
import { iou } from '../../src/models/geometry';
import type { ImageSource } from '../../src/models/preprocess';
import type { ModelSpec } from '../../src/models/spec';
import { loadNative } from '../../src/native';
import type { Box, RawDetection } from '../../src/runtimes/runtime';
import { media } from '../paths';

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

/** A photo from ../shared/media as raw packed RGB at its own size: the frame a caller hands over unresized. */
export async function rawPhoto(name: string): Promise<Extract<ImageSource, { kind: 'raw' }>> {
  const sharp = loadNative<typeof import('sharp')>('sharp');
  const { data, info } = await sharp(media(name)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { kind: 'raw', data, width: info.width, height: info.height, channels: 3 };
}

/**
 * Two runs of one image through differently resized inputs find the same things: every detection
 * of either scoring `minScore` or more has one of the same class in the other, its box overlapping
 * by IoU > 0.85 (model-input pixels). At least `atLeast` such detections, so an empty pair cannot pass.
 */
export function expectSameDetections(a: readonly RawDetection[], b: readonly RawDetection[], atLeast: number, minScore = 0.5): void {
  const sure = (list: readonly RawDetection[]) => list.filter((d) => d.score >= minScore);
  expect(sure(a).length + sure(b).length).toBeGreaterThanOrEqual(2 * atLeast);
  for (const [from, to] of [[a, b], [b, a]]) {
    for (const d of sure(from)) {
      const best = Math.max(0, ...to.filter((o) => o.classId === d.classId).map((o) => iou(o.box, d.box)));
      expect(best, `class ${d.classId} at [${d.box.map(Math.round).join(', ')}], score ${d.score.toFixed(2)}`).toBeGreaterThan(0.85);
    }
  }
}
