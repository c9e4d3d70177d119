import type { RawDetection } from '../../runtimes/runtime';
import type { Yolov5DecoderSpec } from '../spec';
import { bestClass, expectDims, requireOutput, type Decoder } from './types';

/**
 * YOLOv5-style decoded output [B, N, 5 + nc]: cx, cy, w, h (input pixels, or fractions of the
 * input when `normalized`), objectness, class scores. score = objectness * best class score.
 */
export const decodeYolov5: Decoder = (spec, outputs, batchIndex, options) => {
  const { normalized } = spec.decoder as Yolov5DecoderSpec;
  const nc = spec.labels.length;
  const stride = 5 + nc;
  const tensor = requireOutput(spec, outputs, spec.output);
  expectDims(spec, spec.output, tensor, [-1, -1, stride], batchIndex);
  const rows = tensor.dims[1];
  const data = tensor.data;
  const sx = normalized ? spec.input.width : 1;
  const sy = normalized ? spec.input.height : 1;
  const base = batchIndex * rows * stride;
  const found: RawDetection[] = [];
  for (let r = 0; r < rows; r++) {
    const o = base + r * stride;
    const objectness = data[o + 4];
    if (objectness < options.confidence) continue;
    const [classId, classScore] = bestClass(data, o + 5, nc);
    const score = objectness * classScore;
    if (score < options.confidence) continue;
    const cx = data[o] * sx;
    const cy = data[o + 1] * sy;
    const w = data[o + 2] * sx;
    const h = data[o + 3] * sy;
    found.push({ classId, score, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] });
  }
  return found;
};
