import os from 'os';
import path from 'path';
import type { ModelSpec } from '../models/spec';
import { createOnnxRuntime } from './onnx-node';
import { pythonPoolFactory, type PythonPoolExtras } from './python-pool';
import { RuntimeError, type DetectorRuntime, type RuntimeOptions } from './runtime';

/** Runtimes by the names users pick in settings and on the command line. */
export type RuntimeName = 'onnx' | 'openvino' | 'onnx-python' | 'coreml';
export const RUNTIME_NAMES: RuntimeName[] = ['onnx', 'openvino', 'onnx-python', 'coreml'];

export type RuntimeFactory = (modelPath: string, spec: ModelSpec, options: RuntimeOptions) => Promise<DetectorRuntime>;

const factories = new Map<string, RuntimeFactory>([['onnx', createOnnxRuntime]]);

/**
 * What Python pools start with outside Scrypted (the plugin uses its volume): virtual
 * environments under $NVR_DATA_DIR or ~/.cache/nvr-detect, set-up log on stderr.
 */
export function defaultPoolExtras(): PythonPoolExtras {
  return {
    dataDir: process.env.NVR_DATA_DIR ?? path.join(os.homedir(), '.cache', 'nvr-detect'),
    onLog: (line) => console.error(line),
  };
}

let poolExtras: () => PythonPoolExtras = defaultPoolExtras;

/** Sets what the next Python pools start with: data folder, Python path, batching, callbacks. */
export function configurePythonPool(extras: () => PythonPoolExtras): void {
  poolExtras = extras;
}

for (const name of ['openvino', 'onnx-python', 'coreml'] as const) {
  factories.set(name, pythonPoolFactory(name, () => poolExtras()));
}

export async function createRuntime(name: string, modelPath: string, spec: ModelSpec, options: RuntimeOptions): Promise<DetectorRuntime> {
  const factory = factories.get(name);
  if (!factory) throw new RuntimeError(`unknown runtime "${name}" (available: ${[...factories.keys()].join(', ')})`);
  return factory(modelPath, spec, options);
}
