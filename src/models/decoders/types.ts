import type { DecodeOptions, RawDetection } from '../../runtimes/runtime';
import type { ModelSpec } from '../spec';

/** One output tensor of a model call; dims[0] is the batch. */
export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

export type ModelOutputs = Record<string, OutputTensor>;

/** Decodes image `batchIndex` of a model call into candidate boxes in model-input pixels (before NMS). */
export type Decoder = (spec: ModelSpec, outputs: ModelOutputs, batchIndex: number, options: DecodeOptions) => RawDetection[];

export class OutputLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputLayoutError';
  }
}

export function requireOutput(spec: ModelSpec, outputs: ModelOutputs, name: string): OutputTensor {
  const tensor = outputs[name];
  if (!tensor) {
    throw new OutputLayoutError(`model "${spec.name}" has no output named "${name}" (outputs: ${Object.keys(outputs).join(', ') || 'none'})`);
  }
  return tensor;
}

/** Checks a tensor's shape against what the spec implies; -1 matches any size. */
export function expectDims(spec: ModelSpec, name: string, tensor: OutputTensor, expected: number[], batchIndex: number): void {
  const dims = tensor.dims;
  const matches = dims.length === expected.length && expected.every((e, i) => e === -1 || e === dims[i]);
  if (!matches || batchIndex >= dims[0]) {
    const want = expected.map((e) => (e === -1 ? 'N' : String(e))).join(', ');
    throw new OutputLayoutError(
      `model "${spec.name}" output "${name}" has shape [${dims.join(', ')}] but its spec (${spec.decoder.kind} decoder, ` +
        `${spec.input.width}x${spec.input.height}, ${spec.labels.length} classes) expects [${want}]`,
    );
  }
}

/** The best class of a row of class scores: returns [classId, score]. */
export function bestClass(data: Float32Array, start: number, count: number, stride = 1): [number, number] {
  let best = 0;
  let bestScore = data[start];
  for (let c = 1; c < count; c++) {
    const s = data[start + c * stride];
    if (s > bestScore) {
      bestScore = s;
      best = c;
    }
  }
  return [best, bestScore];
}
