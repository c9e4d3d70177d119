import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { PoolRuntimeName } from './supervisor';

export class PythonEnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PythonEnvironmentError';
  }
}

export interface PythonEnvironmentOptions {
  runtime: PoolRuntimeName;
  /**
   * Where virtual environments live (the plugin volume in Scrypted). They go in
   * `<dataDir>/venvs/<runtime>-<hash>`: Scrypted deletes folders of the plugin volume whose
   * names start with python, node, linux, darwin or win32, so none of ours do.
   */
  dataDir: string;
  /** The Python path setting; empty means python3 / python from PATH. */
  pythonPath?: string;
  /** The python-runtime folder; found by locateRuntimeDir() when absent. */
  runtimeDir?: string;
  /** Progress lines (venv creation, pip output) for the plugin console. */
  onProgress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface PythonEnvironment {
  /** The interpreter to run the pool with. */
  python: string;
  runtimeDir: string;
  /** Absent when NVR_PYTHON was used as-is. */
  venvDir?: string;
  /** True when an existing environment was reused without installing. */
  reused: boolean;
}

export const MIN_PYTHON: [number, number] = [3, 9];

/**
 * The python-runtime folder: $NVR_PYTHON_RUNTIME_DIR, else <cwd>/python-runtime (inside the
 * plugin zip it ships as fs/python-runtime and Scrypted's cwd is the unzipped fs/), else the
 * repository's copy relative to this file (development and tests).
 */
export function locateRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [
    env.NVR_PYTHON_RUNTIME_DIR,
    path.join(process.cwd(), 'python-runtime'),
    path.resolve(__dirname, '..', '..', '..', 'python-runtime'),
    path.resolve(__dirname, 'python-runtime'),
  ].filter((c): c is string => !!c);
  const found = candidates.find((c) => existsSync(path.join(c, 'nvr_pool', '__main__.py')));
  if (!found) throw new PythonEnvironmentError(`python-runtime folder not found (looked in ${candidates.join(', ')})`);
  return found;
}

interface RunResult {
  code: number | null;
  lines: string[];
}

function run(cmd: string, args: string[], onLine?: (line: string) => void, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    const lines: string[] = [];
    let child;
    try {
      child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    } catch (err) {
      resolve({ code: -1, lines: [(err as Error).message] });
      return;
    }
    const collect = (line: string) => {
      lines.push(line);
      if (lines.length > 200) lines.shift();
      onLine?.(line);
    };
    createInterface({ input: child.stdout }).on('line', collect);
    createInterface({ input: child.stderr }).on('line', collect);
    child.once('error', (err) => resolve({ code: -1, lines: [err.message] }));
    child.once('close', (code) => resolve({ code, lines }));
  });
}

/** Runs `python -c` to read its version; undefined when it cannot be run. */
export async function pythonVersion(python: string): Promise<[number, number, number] | undefined> {
  const r = await run(python, ['-c', 'import sys; print("%d %d %d" % sys.version_info[:3])']);
  const m = r.code === 0 ? /^(\d+) (\d+) (\d+)$/.exec(r.lines.at(-1) ?? '') : null;
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function newEnough(v: [number, number, number]): boolean {
  return v[0] > MIN_PYTHON[0] || (v[0] === MIN_PYTHON[0] && v[1] >= MIN_PYTHON[1]);
}

/** The explicit path if given (it must work), else the first of python3, python on PATH that is 3.9+. */
export async function findPython(explicit?: string): Promise<{ path: string; version: [number, number, number] }> {
  const candidates = explicit ? [explicit] : ['python3', 'python'];
  const seen: string[] = [];
  for (const candidate of candidates) {
    const version = await pythonVersion(candidate);
    if (version && newEnough(version)) return { path: candidate, version };
    seen.push(`${candidate}: ${version ? version.join('.') : 'not runnable'}`);
  }
  const where = explicit ? `the Python path setting (${seen.join('; ')})` : `PATH (${seen.join('; ')})`;
  throw new PythonEnvironmentError(`no Python ${MIN_PYTHON.join('.')}+ found in ${where}; set the Python path setting to a Python 3.9 or newer`);
}

function venvPython(venvDir: string): string {
  return process.platform === 'win32' ? path.join(venvDir, 'Scripts', 'python.exe') : path.join(venvDir, 'bin', 'python');
}

const installs = new Map<string, Promise<PythonEnvironment>>();

/**
 * A Python that can run the pool for `runtime`: $NVR_PYTHON as-is when set (tests, CI, experts),
 * else a virtual environment in the data folder, created and filled from
 * python-runtime/requirements-<runtime>.txt on first use and re-filled when that file changes.
 */
export function ensurePythonEnvironment(options: PythonEnvironmentOptions): Promise<PythonEnvironment> {
  const env = options.env ?? process.env;
  const runtimeDir = options.runtimeDir ?? locateRuntimeDir(env);
  if (env.NVR_PYTHON) return Promise.resolve({ python: env.NVR_PYTHON, runtimeDir, reused: true });
  const key = `${options.dataDir}:${options.runtime}:${options.pythonPath ?? ''}`;
  let pending = installs.get(key);
  if (!pending) {
    pending = prepareVenv(options, runtimeDir).finally(() => installs.delete(key));
    installs.set(key, pending);
  }
  return pending;
}

async function prepareVenv(options: PythonEnvironmentOptions, runtimeDir: string): Promise<PythonEnvironment> {
  const progress = options.onProgress ?? (() => undefined);
  const requirements = path.join(runtimeDir, `requirements-${options.runtime}.txt`);
  let reqText: string;
  try {
    reqText = await fsp.readFile(requirements, 'utf8');
  } catch {
    throw new PythonEnvironmentError(`no requirements file for runtime "${options.runtime}" (${requirements})`);
  }
  const reqHash = createHash('sha256').update(reqText).digest('hex');
  const base = await findPython(options.pythonPath || undefined);
  const interpreterHash = createHash('sha256').update(`${base.path}\0${base.version.join('.')}`).digest('hex').slice(0, 10);
  const venvDir = path.join(options.dataDir, 'venvs', `${options.runtime}-${interpreterHash}`);
  const python = venvPython(venvDir);
  const marker = path.join(venvDir, 'nvr-requirements.sha256');
  const installed = await fsp.readFile(marker, 'utf8').catch(() => '');
  if (installed.trim() === reqHash && existsSync(python)) {
    return { python, runtimeDir, venvDir, reused: true };
  }
  await fsp.mkdir(path.dirname(venvDir), { recursive: true });
  if (!existsSync(python)) {
    progress(`creating a Python ${base.version.join('.')} virtual environment in ${venvDir}`);
    const r = await run(base.path, ['-m', 'venv', venvDir], progress);
    if (r.code !== 0) {
      throw new PythonEnvironmentError(`creating the virtual environment with ${base.path} failed: ${r.lines.slice(-5).join(' | ')} (Debian/Ubuntu: apt install python3-venv)`);
    }
  }
  progress(`installing ${path.basename(requirements)} (first use or requirements changed; this can take minutes)`);
  const r = await run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', requirements], progress, options.env);
  if (r.code !== 0) {
    throw new PythonEnvironmentError(`pip install -r ${path.basename(requirements)} failed (exit ${r.code}): ${r.lines.slice(-8).join(' | ')}`);
  }
  await fsp.writeFile(marker, `${reqHash}\n`);
  progress(`python environment for ${options.runtime} ready`);
  return { python, runtimeDir, venvDir, reused: false };
}
