import type { RawDetection } from '../../runtimes/runtime';
import { bestClass, expectDims, requireOutput, type Decoder } from './types';

/**
 * Ultralytics YOLOv8 / YOLO11 / YOLOv9 output [B, 4 + nc, N], channel-major: cx, cy, w, h in
 * input pixels, then nc class scores; no objectness.
 */
export const decodeYolov8: Decoder = (spec, outputs, batchIndex, options) => {
  const nc = spec.labels.length;
  const tensor = requireOutput(spec, outputs, spec.output);
  expectDims(spec, spec.output, tensor, [-1, 4 + nc, -1], batchIndex);
  const n = tensor.dims[2];
  const data = tensor.data;
  const base = batchIndex * (4 + nc) * n;
  const found: RawDetection[] = [];
  for (let j = 0; j < n; j++) {
    const [classId, score] = bestClass(data, base + 4 * n + j, nc, n);
    if (score < options.confidence) continue;
    const cx = data[base + j];
    const cy = data[base + n + j];
    const w = data[base + 2 * n + j];
    const h = data[base + 3 * n + j];
    found.push({ classId, score, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] });
  }
  return found;
};
