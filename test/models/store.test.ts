import crypto from 'crypto';
import fs from 'fs';
import http from 'http';
import type { AddressInfo } from 'net';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG, catalogEntry, inferSpec, SpecInferenceError } from '../../src/models/catalog';
import { OnnxFormatError, readOnnxInfo, type OnnxGraphInfo } from '../../src/models/onnx-info';
import { ModelSpecError } from '../../src/models/spec';
import { ModelStoreError, resolveModel, specForFile } from '../../src/models/store';
import { MODELS, YOLOV5, YOLOX } from './helpers';

const yoloxBytes = fs.readFileSync(YOLOX);
const entry = catalogEntry('yolox_nano')!;
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'nvr-store-'));

describe('catalog', () => {
  it('entries match the shared files (size and sha256)', () => {
    for (const e of CATALOG) {
      const data = fs.readFileSync(path.join(MODELS, e.fileName));
      expect(data.length).toBe(e.size);
      expect(crypto.createHash('sha256').update(data).digest('hex')).toBe(e.sha256);
    }
  });

  it('a catalog id resolves from ../shared/models without downloading', async () => {
    const messages: string[] = [];
    const resolved = await resolveModel('yolox_nano', { cacheDir: tempDir(), searchDirs: [MODELS], onProgress: (m) => messages.push(m) });
    expect(resolved).toMatchObject({ path: YOLOX, source: 'shared', sha256: entry.sha256 });
    expect(resolved.spec.decoder.kind).toBe('yolox');
    expect(messages).toEqual([]);
  });

  it('a file path that is a catalog model gets the catalog spec', async () => {
    const resolved = await resolveModel(YOLOV5);
    expect(resolved).toMatchObject({ path: YOLOV5, source: 'file' });
    expect(resolved.spec).toEqual(catalogEntry('yolov5s')!.spec);
  });
});

describe('download (local HTTP server)', () => {
  let server: http.Server;
  let base = '';
  const hits: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits.push(req.url!);
      if (req.url === '/good.onnx') {
        res.writeHead(200, { 'content-length': yoloxBytes.length });
        // In pieces, so progress has something to report.
        for (let o = 0; o < yoloxBytes.length; o += 256 * 1024) res.write(yoloxBytes.subarray(o, o + 256 * 1024));
        res.end();
      } else if (req.url === '/redirect.onnx') {
        res.writeHead(302, { location: '/good.onnx' }).end();
      } else if (req.url === '/short.onnx') {
        res.writeHead(200).end(yoloxBytes.subarray(0, 1_000_000)); // no content-length: ends early, cleanly
      } else if (req.url === '/corrupt.onnx') {
        const bad = Buffer.from(yoloxBytes);
        bad[bad.length >> 1] ^= 0xff;
        res.writeHead(200).end(bad);
      } else if (req.url === '/long.onnx') {
        res.writeHead(200).end(Buffer.concat([yoloxBytes, Buffer.alloc(10)]));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('downloads with progress, verifies size and sha256, caches; the second resolve does not download', async () => {
    const cacheDir = tempDir();
    const messages: string[] = [];
    const first = await resolveModel('yolox_nano', { cacheDir, searchDirs: [], downloadUrl: `${base}/redirect.onnx`, onProgress: (m) => messages.push(m) });
    expect(first).toMatchObject({ source: 'download', path: path.join(cacheDir, 'yolox_nano.onnx'), sha256: entry.sha256 });
    expect(fs.readFileSync(first.path).equals(yoloxBytes)).toBe(true);
    expect(messages[0]).toMatch(/downloading yolox_nano \(3678356 bytes\) from http:\/\/127\.0\.0\.1/);
    expect(messages.some((m) => /downloading yolox_nano: \d+% \(\d+ of 3678356 bytes\)/.test(m))).toBe(true);
    expect(messages).toContain('downloading yolox_nano: 100% (3678356 of 3678356 bytes)');
    expect(messages.at(-1)).toMatch(/downloaded yolox_nano, checked and cached at/);
    expect(fs.readdirSync(cacheDir)).toEqual(['yolox_nano.onnx']); // no partial file left

    const before = hits.length;
    const again = await resolveModel('yolox_nano', { cacheDir, searchDirs: [], downloadUrl: `${base}/good.onnx`, onProgress: (m) => messages.push(m) });
    expect(again.source).toBe('cache');
    expect(hits.length).toBe(before);
  });

  for (const [name, url, message] of [
    ['a short download', '/short.onnx', /is 1000000 bytes, expected 3678356/],
    ['a corrupt download (right size, wrong bytes)', '/corrupt.onnx', /has sha256 [0-9a-f]{64}, expected e8af0749/],
    ['a download larger than expected', '/long.onnx', /larger than the expected 3678356 bytes/],
    ['an HTTP error', '/missing.onnx', /failed: HTTP 404/],
  ] as const) {
    it(`${name} is refused and not cached`, async () => {
      const cacheDir = tempDir();
      const error = await resolveModel('yolox_nano', { cacheDir, searchDirs: [], downloadUrl: base + url }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(ModelStoreError);
      expect((error as Error).message).toMatch(message);
      expect(fs.readdirSync(cacheDir)).toEqual([]);
    });
  }

  it('a corrupt file already in the cache is not trusted: it is downloaded again', async () => {
    const cacheDir = tempDir();
    fs.writeFileSync(path.join(cacheDir, 'yolox_nano.onnx'), crypto.randomBytes(1000));
    const resolved = await resolveModel('yolox_nano', { cacheDir, searchDirs: [], downloadUrl: `${base}/good.onnx` });
    expect(resolved.source).toBe('download');
    expect(fs.readFileSync(resolved.path).equals(yoloxBytes)).toBe(true);
  });

  it('no server at all: a clear error', async () => {
    const error = await resolveModel('yolox_nano', { cacheDir: tempDir(), searchDirs: [], downloadUrl: 'http://127.0.0.1:9/yolox_nano.onnx' }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ModelStoreError);
    expect((error as Error).message).toMatch(/download of yolox_nano from http:\/\/127\.0\.0\.1:9\/yolox_nano\.onnx failed/);
  });
});

describe('readOnnxInfo', () => {
  it('YOLOX-Nano', () => {
    expect(readOnnxInfo(yoloxBytes)).toEqual({ inputs: [{ name: 'images', dims: [1, 3, 416, 416] }], outputs: [{ name: 'output', dims: [1, 3549, 85] }] });
  });
  it('YOLOv5s', () => {
    const info = readOnnxInfo(fs.readFileSync(YOLOV5));
    expect(info.inputs).toEqual([{ name: 'input_1', dims: [1, 640, 640, 3] }]);
    // This TF.js conversion declares no output shape in its graph (ORT infers it at load), so
    // inference from the file alone cannot work for it: the catalog spec (by sha256) covers it.
    expect(info.outputs).toEqual([{ name: 'Identity', dims: [] }]);
  });
  it('random bytes, text and a truncated model are OnnxFormatErrors', () => {
    expect(() => readOnnxInfo(crypto.randomBytes(4096))).toThrow(OnnxFormatError);
    expect(() => readOnnxInfo(Buffer.from('hello, I am not a model'))).toThrow(/not an ONNX model/);
    expect(() => readOnnxInfo(yoloxBytes.subarray(0, 10_000))).toThrow(OnnxFormatError);
  });
});

describe('inferSpec from shapes', () => {
  const info = (input: number[], ...outputs: [string, number[]][]): OnnxGraphInfo => ({
    inputs: [{ name: 'images', dims: input }],
    outputs: outputs.map(([name, dims]) => ({ name, dims })),
  });

  it('YOLOX grid: [1, 3549, 85] at 416 -> yolox, BGR 0..255, top-left', () => {
    const spec = inferSpec('nano', info([1, 3, 416, 416], ['output', [1, 3549, 85]]));
    expect(spec.decoder).toEqual({ kind: 'yolox', strides: [8, 16, 32] });
    expect(spec.input).toMatchObject({ width: 416, height: 416, layout: 'nchw', channelOrder: 'bgr', scale: 1, placement: 'top-left' });
    expect(spec.labels).toHaveLength(80);
    expect(spec.labels[16]).toBe('dog');
  });

  it('YOLOX with 2 classes at 640x384', () => {
    const rows = (80 * 48) + (40 * 24) + (20 * 12);
    const spec = inferSpec('two', info([1, 3, 384, 640], ['output', [1, rows, 7]]));
    expect(spec.decoder.kind).toBe('yolox');
    expect(spec.input).toMatchObject({ width: 640, height: 384 });
    expect(spec.labels).toEqual(['class0', 'class1']);
  });

  it('YOLOv5: [1, 25200, 85] NHWC -> yolov5 (pixel coordinates), RGB 0..1, centred', () => {
    const spec = inferSpec('v5', info([1, 640, 640, 3], ['out', [1, 25200, 85]]));
    expect(spec.decoder).toEqual({ kind: 'yolov5', normalized: false });
    expect(spec.input).toMatchObject({ name: 'images', layout: 'nhwc', channelOrder: 'rgb', scale: 1 / 255, placement: 'center' });
  });

  it('YOLOv8: [1, 84, 8400] -> yolov8 with 80 classes', () => {
    const spec = inferSpec('v8', info([1, 3, 640, 640], ['output0', [1, 84, 8400]]));
    expect(spec.decoder).toEqual({ kind: 'yolov8' });
    expect(spec.output).toBe('output0');
    expect(spec.labels).toHaveLength(80);
  });

  it('NMS-free: [1, 300, 6] -> nms-free xyxy', () => {
    const spec = inferSpec('v10', info([1, 3, 640, 640], ['output0', [1, 300, 6]]));
    expect(spec.decoder).toMatchObject({ kind: 'nms-free', boxFormat: 'xyxy', normalized: false });
  });

  it('shapes it cannot read are refused, pointing at the sidecar', () => {
    expect(() => inferSpec('x', info([1, 3, -1, -1], ['o', [1, 100, 85]]))).toThrow(/dynamic size.*x\.json/);
    expect(() => inferSpec('x', info([1, 1, 64, 64], ['o', [1, 100, 85]]))).toThrow(SpecInferenceError);
    expect(() => inferSpec('x', info([1, 3, 64, 64], ['o', [1, 100]]))).toThrow(/output "o" has shape \[1, 100\], which matches no known layout/);
  });
});

describe('specForFile', () => {
  it('an unknown file gets its spec inferred from its graph', () => {
    // The YOLOX bytes under another hash: one byte flipped inside the weights.
    const data = Buffer.from(yoloxBytes);
    data[data.length - 100] ^= 1;
    const spec = specForFile(path.join(tempDir(), 'mystery.onnx'), data);
    expect(spec.name).toBe('mystery');
    expect(spec.decoder.kind).toBe('yolox');
    expect(spec.input).toMatchObject({ name: 'images', width: 416, height: 416, channelOrder: 'bgr' });
  });

  it('a sidecar JSON overrides inference, and the catalog too', () => {
    const dir = tempDir();
    const file = path.join(dir, 'custom.onnx');
    const sidecar = { ...entry.spec, name: 'custom', labels: ['a', 'b'], input: { ...entry.spec.input, padValue: 0 } };
    fs.writeFileSync(path.join(dir, 'custom.json'), JSON.stringify(sidecar));
    expect(specForFile(file, crypto.randomBytes(100))).toEqual(sidecar);
    expect(specForFile(file, yoloxBytes)).toEqual(sidecar);
  });

  it('an invalid sidecar is refused, naming the file and the field', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ ...entry.spec, input: { ...entry.spec.input, layout: 'chw' } }));
    const error = (() => {
      try {
        specForFile(path.join(dir, 'bad.onnx'), yoloxBytes);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(ModelStoreError);
    expect(error!.message).toMatch(/model spec .*bad\.json is invalid: .*input\.layout must be nchw or nhwc/);
    expect(error!.cause).toBeInstanceOf(ModelSpecError);
  });

  it('random bytes are refused, naming the file', () => {
    expect(() => specForFile('/models/junk.onnx', crypto.randomBytes(5000))).toThrow(/model file \/models\/junk\.onnx is not an ONNX model/);
  });
});
