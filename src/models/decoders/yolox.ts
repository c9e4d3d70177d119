import type { RawDetection } from '../../runtimes/runtime';
import type { ModelSpec, YoloxDecoderSpec } from '../spec';
import { bestClass, expectDims, requireOutput, type Decoder } from './types';

/** Grid cells (x, y, stride) of every row, cached per input size and strides. */
const gridCache = new Map<string, Float32Array>();

function gridFor(width: number, height: number, strides: number[]): Float32Array {
  const key = `${width}x${height}:${strides.join(',')}`;
  let grid = gridCache.get(key);
  if (!grid) {
    const cells: number[] = [];
    for (const stride of strides) {
      const gw = width / stride;
      const gh = height / stride;
      for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) cells.push(x, y, stride);
    }
    grid = Float32Array.from(cells);
    gridCache.set(key, grid);
  }
  return grid;
}

/**
 * YOLOX anchor-free grid output [B, A, 5 + nc]: tx, ty, tw, th, objectness, class scores (both
 * already sigmoid-ed). cx = (tx + gx) * s, w = exp(tw) * s; score = objectness * best class score.
 */
export const decodeYolox: Decoder = (spec: ModelSpec, outputs, batchIndex, options) => {
  const decoder = spec.decoder as YoloxDecoderSpec;
  const grid = gridFor(spec.input.width, spec.input.height, decoder.strides);
  const rows = grid.length / 3;
  const nc = spec.labels.length;
  const stride = 5 + nc;
  const tensor = requireOutput(spec, outputs, spec.output);
  expectDims(spec, spec.output, tensor, [-1, rows, stride], batchIndex);
  const data = tensor.data;
  const base = batchIndex * rows * stride;
  const found: RawDetection[] = [];
  for (let r = 0; r < rows; r++) {
    const o = base + r * stride;
    const objectness = data[o + 4];
    if (objectness < options.confidence) continue; // score <= objectness: cheap early reject
    const [classId, classScore] = bestClass(data, o + 5, nc);
    const score = objectness * classScore;
    if (score < options.confidence) continue;
    const s = grid[r * 3 + 2];
    const cx = (data[o] + grid[r * 3]) * s;
    const cy = (data[o + 1] + grid[r * 3 + 1]) * s;
    const w = Math.exp(data[o + 2]) * s;
    const h = Math.exp(data[o + 3]) * s;
    found.push({ classId, score, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] });
  }
  return found;
};
