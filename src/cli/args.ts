import { parseArgs, type ParseArgsConfig } from 'util';

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

export function numberOption(name: string, value: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max} (got "${value}")`);
  return n;
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
