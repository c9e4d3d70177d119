import AdmZip from 'adm-zip';
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, SHARED, YOLOX } from '../paths';

const zipPath = path.join(REPO, 'dist', 'plugin.zip');

describe.skipIf(!fs.existsSync(YOLOX))('the built plugin bundle', () => {
  beforeAll(() => {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'pipe' });
  }, 180_000);

  it('packs main.nodejs.js with its source map and fs/, and never inlines native modules', () => {
    const names = new AdmZip(zipPath).getEntries().map((e) => e.entryName);
    expect(names).toEqual(expect.arrayContaining(['main.nodejs.js', 'main.nodejs.js.map', 'fs/README.txt']));
    expect(names.some((n) => n.startsWith('fs/python-runtime/'))).toBe(true);
    const main = fs.readFileSync(path.join(REPO, 'dist', 'main.nodejs.js'), 'utf8');
    // Inlined, onnxruntime-node would bring its binding loader and sharp its libvips loader.
    expect(main).not.toMatch(/onnxruntime_binding\.node|sharp-\$\{|libvips-cpp/);
    // The SDK probes import.meta; left in, Node 20.19+ would take the bundle for an ES module.
    expect(main.replace(/\/\/.*$/gm, "")).not.toMatch(/import\.meta/);
  });

  it('loads in a Scrypted-like host and detects with native modules from the plugin volume', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nvr-bundle-'));
    const output = execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/harness/run-bundle.ts'), zipPath, work, SHARED], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const result = JSON.parse(output.trim().split('\n').pop()!);
    expect(result.model.name).toBe('yolox_nano');
    expect(result.model.inputSize).toEqual([416, 416, 3]);
    expect(result.jpeg.inputDimensions).toEqual([768, 576]);
    expect(result.jpeg.detections.map((d: { className: string }) => d.className)).toEqual(expect.arrayContaining(['dog', 'bicycle', 'car']));
    expect(result.raw.inputDimensions).toEqual([640, 480]);
    expect(result.badError).toMatch(/could not read image/);
    expect(result.filtered.detections.map((d: { className: string }) => d.className)).toEqual(['dog']);
    expect(result.settingKeys).toEqual(expect.arrayContaining(['model', 'confidence', 'nmsIou', 'classes', 'threads', 'device', 'runtime', 'batchMode', 'statistics']));
    expect(result.status).toMatch(/^Serving yolox_nano/);
    fs.rmSync(work, { recursive: true, force: true });
  }, 150_000);
});
