import { describe, expect, it } from 'vitest';
import { iou } from '../../src/models/geometry';
import { nonMaxSuppression } from '../../src/models/nms';
import type { Box, RawDetection } from '../../src/runtimes/runtime';

const det = (classId: number, score: number, box: Box): RawDetection => ({ classId, score, box });

describe('per-class NMS', () => {
  it('keeps overlapping boxes of different classes', () => {
    const a = det(0, 0.9, [0, 0, 10, 10]);
    const b = det(2, 0.8, [0, 0, 10, 10]);
    expect(nonMaxSuppression([a, b], 0.45, 10)).toEqual([a, b]);
  });

  it('suppresses a same-class box above the IoU threshold, keeps one at or below it', () => {
    const top = det(1, 0.9, [0, 0, 10, 10]);
    const heavy = det(1, 0.8, [1, 0, 11, 10]); // IoU 90/110 = 0.818
    const half = det(1, 0.7, [0, 0, 10, 20]); // IoU with top exactly 0.5
    expect(iou(top.box, half.box)).toBeCloseTo(0.5, 12);
    expect(nonMaxSuppression([half, heavy, top], 0.5, 10)).toEqual([top, half]);
    expect(nonMaxSuppression([half, heavy, top], 0.49, 10)).toEqual([top]);
    expect(nonMaxSuppression([half, heavy, top], 0.9, 10)).toEqual([top, heavy, half]);
  });

  it('compares only against kept boxes (a suppressed box suppresses nothing)', () => {
    const a = det(0, 0.9, [0, 0, 10, 10]);
    const b = det(0, 0.8, [5, 0, 15, 10]); // IoU with a = 1/3 > 0.3: suppressed
    const c = det(0, 0.7, [10, 0, 20, 10]); // IoU with a = 0, with b = 1/3
    expect(nonMaxSuppression([a, b, c], 0.3, 10)).toEqual([a, c]);
  });

  it('orders by score, best first, and stops at maxDetections', () => {
    const boxes = [0.3, 0.9, 0.5, 0.7].map((s, i) => det(i % 2, s, [i * 20, 0, i * 20 + 10, 10]));
    const kept = nonMaxSuppression(boxes, 0.45, 3);
    expect(kept.map((k) => k.score)).toEqual([0.9, 0.7, 0.5]);
    expect(nonMaxSuppression(boxes, 0.45, 0)).toEqual([]);
    expect(nonMaxSuppression([], 0.45, 10)).toEqual([]);
  });

  it('does not modify its input', () => {
    const input = [det(0, 0.1, [0, 0, 1, 1]), det(0, 0.9, [0, 0, 1, 1])];
    const copy = structuredClone(input);
    nonMaxSuppression(input, 0.45, 10);
    expect(input).toEqual(copy);
  });
});
