import { parseArgs, type ParseArgsConfig } from 'util';
import { Detector } from '../engine/detector';
import { DEFAULT_MODEL_ID } from '../models/catalog';
import { defaultConcurrency, defaultThreads, deviceFor } from '../plugin/settings';

/** Options every command shares: which model, where, on what. */
export const RUNTIME_OPTIONS = {
  model: { type: 'string' },
  runtime: { type: 'string', default: 'onnx' },
  device: { type: 'string' },
  threads: { type: 'string' },
  concurrency: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export class UsageError extends Error {}

export function parseCommandLine<T extends NonNullable<ParseArgsConfig['options']>>(options: T, argv = process.argv.slice(2)) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A numeric option, or undefined when absent; refused with a usage error outside min..max (or not whole, for `integer`). */
export function optionalNumber(name: string, value: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    const unbounded = max === Number.MAX_SAFE_INTEGER && integer && min <= 1;
    const what = unbounded ? (min === 1 ? 'a positive integer' : 'a non-negative integer')
      : `${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`;
    throw new UsageError(`--${name} must be ${what} (got "${value}")`);
  }
  return n;
}

export function numberOption(name: string, value: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER, integer = false): number {
  return optionalNumber(name, value, min, max, integer) ?? fallback;
}

/** A comma-separated list option (`--classes person,car`): items trimmed, empty ones dropped; undefined when the option is absent or "". */
export function listOption(value: string | undefined): string[] | undefined {
  return value ? value.split(',').map((item) => item.trim()).filter(Boolean) : undefined;
}

type RuntimeValues = { model?: string; runtime?: string; device?: string; threads?: string; concurrency?: string };

/** The detector the RUNTIME_OPTIONS ask for, with the plugin's defaults (device `auto` as in its settings). */
export function detectorFromOptions(values: RuntimeValues, onProgress: (message: string) => void): Promise<Detector> {
  const runtime = values.runtime ?? 'onnx';
  return Detector.create({
    model: values.model ?? DEFAULT_MODEL_ID,
    runtime,
    device: deviceFor(runtime, values.device ?? 'auto'),
    threads: numberOption('threads', values.threads, defaultThreads(), 0, 64, true),
    concurrency: numberOption('concurrency', values.concurrency, defaultConcurrency(), 1, 16, true),
    store: { onProgress },
  });
}

/** Runs a command's main, printing errors as one clear line and exiting non-zero. */
export function runMain(main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (e: Error) => {
      console.error(`error: ${e.message}`);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}
