import type { RawDetection } from '../runtimes/runtime';
import { iou } from './geometry';

/**
 * Per-class greedy non-maximum suppression: a box suppresses only lower-scored boxes of its own
 * class (suppressing across classes would lose a person standing in front of a car).
 * Returns the kept detections sorted by score, at most maxDetections of them.
 */
export function nonMaxSuppression(candidates: RawDetection[], iouThreshold: number, maxDetections: number): RawDetection[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const keptByClass = new Map<number, RawDetection[]>();
  const kept: RawDetection[] = [];
  for (const candidate of sorted) {
    if (kept.length >= maxDetections) break;
    let sameClass = keptByClass.get(candidate.classId);
    if (!sameClass) {
      sameClass = [];
      keptByClass.set(candidate.classId, sameClass);
    }
    if (sameClass.some((k) => iou(k.box, candidate.box) > iouThreshold)) continue;
    sameClass.push(candidate);
    kept.push(candidate);
  }
  return kept;
}
