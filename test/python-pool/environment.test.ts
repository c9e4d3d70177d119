import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensurePythonEnvironment, findPython, locateRuntimeDir, PythonEnvironmentError } from '../../src/runtimes/python-pool/environment';
import { REPO } from '../paths';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'nvr-env-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('python environment', () => {
  it('locates python-runtime from the env var, the cwd, or the repository', () => {
    expect(locateRuntimeDir({})).toBe(path.join(REPO, 'python-runtime'));
    expect(locateRuntimeDir({ NVR_PYTHON_RUNTIME_DIR: path.join(REPO, 'python-runtime') })).toBe(path.join(REPO, 'python-runtime'));
  });

  it('finds a Python 3.9+ on PATH, and refuses an explicit path that does not work', async () => {
    const found = await findPython();
    expect(found.version[0]).toBe(3);
    expect(found.version[1]).toBeGreaterThanOrEqual(9);
    await expect(findPython('/no/such/python')).rejects.toThrow(/no Python 3.9\+ found.*Python path setting/);
  });

  it('uses NVR_PYTHON as-is', async () => {
    const env = await ensurePythonEnvironment({ runtime: 'openvino', dataDir: tmp, env: { NVR_PYTHON: '/opt/py/bin/python' } });
    expect(env).toMatchObject({ python: '/opt/py/bin/python', reused: true });
  });

  it('creates a venv under venvs/<runtime>-<hash>, reuses it, and re-installs when the requirements change', async () => {
    // A stand-in python-runtime whose requirements install nothing (no network needed).
    const runtimeDir = path.join(tmp, 'rt');
    mkdirSync(path.join(runtimeDir, 'nvr_pool'), { recursive: true });
    writeFileSync(path.join(runtimeDir, 'nvr_pool', '__main__.py'), '');
    writeFileSync(path.join(runtimeDir, 'requirements-onnx-python.txt'), '# nothing\n');
    const lines: string[] = [];
    const opts = { runtime: 'onnx-python' as const, dataDir: path.join(tmp, 'data'), runtimeDir, env: {}, onProgress: (l: string) => lines.push(l) };
    const first = await ensurePythonEnvironment(opts);
    expect(first.reused).toBe(false);
    expect(path.relative(opts.dataDir, first.venvDir!)).toMatch(/^venvs[/\\]onnx-python-[0-9a-f]{10}$/);
    expect(existsSync(first.python)).toBe(true);
    expect(lines.some((l) => l.includes('creating a Python'))).toBe(true);
    const second = await ensurePythonEnvironment(opts);
    expect(second).toMatchObject({ python: first.python, reused: true });
    writeFileSync(path.join(runtimeDir, 'requirements-onnx-python.txt'), '# nothing, changed\n');
    const third = await ensurePythonEnvironment(opts);
    expect(third.reused).toBe(false);
    expect(lines.some((l) => l.includes('installing requirements-onnx-python.txt'))).toBe(true);
  }, 120_000);

  it('reports pip failures with pip\'s last lines', async () => {
    const runtimeDir = path.join(tmp, 'rt-bad');
    mkdirSync(path.join(runtimeDir, 'nvr_pool'), { recursive: true });
    writeFileSync(path.join(runtimeDir, 'nvr_pool', '__main__.py'), '');
    writeFileSync(path.join(runtimeDir, 'requirements-openvino.txt'), 'this is not a requirement ===\n');
    const err = await ensurePythonEnvironment({ runtime: 'openvino', dataDir: path.join(tmp, 'data'), runtimeDir, env: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(PythonEnvironmentError);
    expect(err.message).toMatch(/pip install -r requirements-openvino.txt failed/);
  }, 120_000);
});
