import type { Box, RawDetection } from '../../runtimes/runtime';
import type { NmsFreeDecoderSpec } from '../spec';
import { bestClass, expectDims, requireOutput, type Decoder } from './types';

/**
 * End-to-end exports whose output is already final boxes: either one [B, N, 6] tensor of
 * x1, y1, x2, y2, score, class (YOLOv10) or boxes [B, N, 4] with scores [B, N, nc] (RT-DETR).
 */
export const decodeNmsFree: Decoder = (spec, outputs, batchIndex, options) => {
  const decoder = spec.decoder as NmsFreeDecoderSpec;
  const sx = decoder.normalized ? spec.input.width : 1;
  const sy = decoder.normalized ? spec.input.height : 1;
  const toBox = (a: number, b: number, c: number, d: number): Box =>
    decoder.boxFormat === 'xyxy'
      ? [a * sx, b * sy, c * sx, d * sy]
      : [(a - c / 2) * sx, (b - d / 2) * sy, (a + c / 2) * sx, (b + d / 2) * sy];
  const found: RawDetection[] = [];
  const nc = spec.labels.length;

  if (decoder.scoresOutput) {
    const boxes = requireOutput(spec, outputs, decoder.boxesOutput ?? spec.output);
    const scores = requireOutput(spec, outputs, decoder.scoresOutput);
    expectDims(spec, decoder.boxesOutput ?? spec.output, boxes, [-1, -1, 4], batchIndex);
    const n = boxes.dims[1];
    expectDims(spec, decoder.scoresOutput, scores, [-1, n, nc], batchIndex);
    for (let i = 0; i < n; i++) {
      const [classId, score] = bestClass(scores.data, (batchIndex * n + i) * nc, nc);
      if (score < options.confidence) continue;
      const o = (batchIndex * n + i) * 4;
      const d = boxes.data;
      found.push({ classId, score, box: toBox(d[o], d[o + 1], d[o + 2], d[o + 3]) });
    }
    return found;
  }

  const tensor = requireOutput(spec, outputs, spec.output);
  expectDims(spec, spec.output, tensor, [-1, -1, 6], batchIndex);
  const n = tensor.dims[1];
  const d = tensor.data;
  for (let i = 0; i < n; i++) {
    const o = (batchIndex * n + i) * 6;
    const score = d[o + 4];
    const classId = Math.round(d[o + 5]);
    if (score < options.confidence || classId < 0 || classId >= nc) continue;
    found.push({ classId, score, box: toBox(d[o], d[o + 1], d[o + 2], d[o + 3]) });
  }
  return found;
};
