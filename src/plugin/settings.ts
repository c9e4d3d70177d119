import fs from 'fs';
import os from 'os';
import { BATCH_MODES as ENGINE_BATCH_MODES } from '../engine/batching';
import { CATALOG, catalogEntry } from '../models/catalog';
import { RUNTIME_NAMES } from '../runtimes';

/** Thrown for a setting value that is refused; the settings UI shows the message. */
export class SettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingError';
  }
}

export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'coreml', 'dml'];
/** The names the runtime registry and the batching engine accept, as settings choices. */
export const RUNTIMES: readonly string[] = RUNTIME_NAMES;
export const BATCH_MODES: readonly string[] = ENGINE_BATCH_MODES;

/** Devices each runtime offers; `auto` picks the runtime's own default (see deviceFor). */
export const DEVICES: Record<string, string[]> = {
  onnx: ['auto', ...EXECUTION_PROVIDERS],
  openvino: ['auto', 'CPU', 'GPU', 'NPU'],
  'onnx-python': ['auto', ...EXECUTION_PROVIDERS],
  coreml: ['auto', 'ALL', 'CPU_AND_NE', 'CPU_AND_GPU', 'CPU_ONLY'],
};

/** The device name a runtime is given for a device setting. */
export function deviceFor(runtime: string, device: string): string {
  if (device.toLowerCase() !== 'auto') return device;
  return runtime === 'onnx' ? 'cpu' : runtime === 'onnx-python' ? 'auto' : 'AUTO';
}

/** Defaults sized for the machine: on 2 cores, 2 workers x 1 thread beat 1 worker x 2 threads (119 vs 98 runs/s). */
export function defaultConcurrency(cores = os.availableParallelism?.() ?? os.cpus().length): number {
  return Math.max(1, Math.min(2, cores));
}

export function defaultThreads(cores = os.availableParallelism?.() ?? os.cpus().length): number {
  return Math.max(1, Math.floor(cores / defaultConcurrency(cores)));
}

/** A number within [min, max] (a whole one when `integer`), from a number or its text; otherwise a SettingError. */
export function numberIn(key: string, value: unknown, min: number, max: number, integer = false): number {
  const n = typeof value === 'number' ? value : Number(String(value ?? '').trim());
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new SettingError(`${key} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (got "${String(value)}")`);
  }
  return n;
}

/** Checks and normalises a value for a setting; throws SettingError with a message for people. */
export const validators: Record<string, (value: unknown, labels: readonly string[]) => unknown> = {
  model: (value) => {
    const ref = String(value ?? '').trim();
    if (!ref) throw new SettingError('model must be a catalog model or the path of an .onnx file');
    if (catalogEntry(ref)) return ref;
    if (!fs.existsSync(ref) || !fs.statSync(ref).isFile()) {
      throw new SettingError(`model "${ref}" is neither a known model (${CATALOG.map((e) => e.id).join(', ')}) nor an existing file`);
    }
    return ref;
  },
  confidence: (value) => numberIn('confidence', value, 0.01, 0.99),
  nmsIou: (value) => numberIn('NMS IoU', value, 0.05, 0.95),
  threads: (value) => numberIn('threads', value, 0, 64, true),
  concurrency: (value) => numberIn('concurrency', value, 1, 16, true),
  runtime: (value) => {
    const runtime = String(value ?? '');
    if (!RUNTIMES.includes(runtime)) throw new SettingError(`runtime must be one of ${RUNTIMES.join(', ')} (got "${runtime}")`);
    return runtime;
  },
  batchMode: (value) => {
    const mode = String(value ?? '');
    if (!BATCH_MODES.includes(mode)) throw new SettingError(`batch mode must be one of ${BATCH_MODES.join(', ')} (got "${mode}")`);
    return mode;
  },
  batchWindowMs: (value) => numberIn('batch window (ms)', value, 1, 1000, true),
  maxBatch: (value) => numberIn('max batch size', value, 1, 64, true),
  maxAgeMs: (value) => numberIn('maximum frame age (ms)', value, 100, 60_000, true),
  pythonPath: (value) => {
    const python = String(value ?? '').trim();
    if (python && !fs.existsSync(python)) throw new SettingError(`Python "${python}" does not exist (leave empty to use python3 from the PATH)`);
    return python;
  },
  classes: (value, labels) => {
    let list: unknown[] = [];
    try {
      list = Array.isArray(value) ? value : typeof value === 'string' && value ? JSON.parse(value) : [];
    } catch {
      throw new SettingError(`classes must be a list of class names (got "${String(value)}")`);
    }
    const unknown = list.filter((c) => !labels.includes(String(c)));
    if (unknown.length) throw new SettingError(`unknown class(es) ${unknown.join(', ')}: the model knows ${labels.slice(0, 8).join(', ')}, ...`);
    return list.map(String);
  },
};

/** A device must be one its runtime offers (GPU.1-style OpenVINO device ids too). */
export function validateDevice(runtime: string, value: unknown): string {
  const device = String(value ?? '').trim();
  const offered = DEVICES[runtime] ?? [];
  const match = offered.find((d) => d.toLowerCase() === device.toLowerCase());
  if (match) return match;
  if (runtime === 'openvino' && /^(GPU|NPU)\.\d+$/i.test(device)) return device.toUpperCase();
  throw new SettingError(`device for ${runtime} must be one of ${offered.join(', ')} (got "${device}")`);
}

export function validateSetting(key: string, value: unknown, labels: readonly string[]): unknown {
  const validate = validators[key];
  return validate ? validate(value, labels) : value;
}
