import type { ModelSpec } from '../models/spec';
import { createOnnxRuntime } from './onnx-node';
import { RuntimeError, type DetectorRuntime, type RuntimeOptions } from './runtime';

/** Runtimes by the names users pick in settings and on the command line. */
export type RuntimeName = 'onnx' | 'openvino' | 'onnx-python' | 'coreml';
export const RUNTIME_NAMES: RuntimeName[] = ['onnx', 'openvino', 'onnx-python', 'coreml'];

export type RuntimeFactory = (modelPath: string, spec: ModelSpec, options: RuntimeOptions) => Promise<DetectorRuntime>;

const factories = new Map<string, RuntimeFactory>([['onnx', createOnnxRuntime]]);

/** Lets a runtime living elsewhere (the Python pool) plug in without this file importing it. */
export function registerRuntime(name: string, factory: RuntimeFactory): void {
  factories.set(name, factory);
}

export async function createRuntime(name: string, modelPath: string, spec: ModelSpec, options: RuntimeOptions): Promise<DetectorRuntime> {
  const factory = factories.get(name);
  if (!factory) throw new RuntimeError(`unknown runtime "${name}" (available: ${[...factories.keys()].join(', ')})`);
  return factory(modelPath, spec, options);
}
