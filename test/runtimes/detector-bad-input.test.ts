/**
 * Bad input through the engine's Detector: each is refused with a clear error, and the next good
 * request on the same Detector still succeeds.
 */
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Detector, type DetectorConfig } from '../../src/engine/detector';
import { catalogEntry } from '../../src/models/catalog';
import { ImageInputError, type ImageSource } from '../../src/models/preprocess';
import { ModelStoreError } from '../../src/models/store';
import { loadNative } from '../../src/native';
import { RuntimeError } from '../../src/runtimes/runtime';
import { corruptJpeg, hugeJpeg, hugePng } from '../fixtures/bad-images';
import { iouXywh, media, YOLOX, YOLOX_DOG } from '../models/helpers';

const config = (model: string): DetectorConfig => ({ model, runtime: 'onnx', device: 'cpu', threads: 1, concurrency: 1 });
const dog: ImageSource = { kind: 'encoded', data: fs.readFileSync(media('dog.jpg')), mimeType: 'image/jpeg' };
const yoloxSpec = catalogEntry('yolox_nano')!.spec;

let detector: Detector;
beforeAll(async () => {
  detector = await Detector.create(config(YOLOX));
});
afterAll(() => detector?.close());

async function expectStillWorks(): Promise<void> {
  const result = await detector.detect(dog);
  expect(result.inputDimensions).toEqual([768, 576]);
  const found = result.detections.find((d) => d.className === 'dog');
  expect(iouXywh(found!.boundingBox, YOLOX_DOG[0].box)).toBeGreaterThan(0.9);
}

describe('bad images: a clear error, then the next good request succeeds', () => {
  const cases: [string, () => ImageSource, RegExp][] = [
    ['corrupt JPEG', () => ({ kind: 'encoded', data: corruptJpeg(), mimeType: 'image/jpeg' }), /could not (read|decode) image \(image\/jpeg, 22048 bytes\)/],
    ['zero-byte buffer', () => ({ kind: 'encoded', data: Buffer.alloc(0), mimeType: 'image/jpeg' }), /empty image buffer/],
    ['PNG header claiming 30000x30000', () => ({ kind: 'encoded', data: hugePng(), mimeType: 'image/png' }), /image 30000x30000 exceeds the 100 MP limit/],
    ['JPEG header claiming 30000x30000', () => ({ kind: 'encoded', data: hugeJpeg(), mimeType: 'image/jpeg' }), /image 30000x30000 exceeds the 100 MP limit/],
    ['unsupported data', () => ({ kind: 'encoded', data: Buffer.from('%PDF-1.4 not an image'), mimeType: 'application/pdf' }), /could not read image \(application\/pdf.*unsupported image format/],
    ['raw frame of the wrong length', () => ({ kind: 'raw', data: new Uint8Array(10), width: 416, height: 416, channels: 3 }), /needs 519168 bytes, got 10/],
  ];
  for (const [name, source, message] of cases) {
    it(name, async () => {
      const error = await detector.detect(source()).catch((e: Error) => e);
      expect(error).toBeInstanceOf(ImageInputError);
      expect((error as Error).message).toMatch(message);
      await expectStillWorks();
    });
  }

  it('many bad requests in parallel with good ones', async () => {
    const sources = [dog, { kind: 'encoded', data: corruptJpeg() } as ImageSource, dog, { kind: 'encoded', data: hugePng() } as ImageSource, dog];
    const settled = await Promise.allSettled(sources.map((s) => detector.detect(s)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
  });

  it('a raw RGB frame at the model size (Scrypted Image.toBuffer) works', async () => {
    const sharp = loadNative<typeof import('sharp')>('sharp');
    const data = await sharp(dog.data).resize(416, 312, { fit: 'fill' }).raw().toBuffer();
    const result = await detector.detect({ kind: 'raw', data, width: 416, height: 312, channels: 3 });
    expect(result.detections.map((d) => d.className)).toEqual(expect.arrayContaining(['bicycle', 'car', 'dog']));
  });
});

describe('bad models: a clear error at load, and the loaded Detector keeps working', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvr-bad-models-'));
  /** A copy of YOLOX-Nano with a sidecar spec beside it. */
  const withSidecar = (name: string, spec: object, bytes: Uint8Array = fs.readFileSync(YOLOX)) => {
    const file = path.join(dir, `${name}.onnx`);
    fs.writeFileSync(file, bytes);
    fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(spec));
    return file;
  };

  const cases: [string, () => string, new (...args: never[]) => Error, RegExp][] = [
    ['missing model file', () => path.join(dir, 'nope.onnx'), ModelStoreError, /cannot read model file .*nope\.onnx: ENOENT/],
    ['empty model file', () => {
      const file = path.join(dir, 'empty.onnx');
      fs.writeFileSync(file, '');
      return file;
    }, ModelStoreError, /cannot read model file .*empty\.onnx: file is empty/],
    ['corrupt model file (random bytes)', () => {
      const file = path.join(dir, 'random.onnx');
      fs.writeFileSync(file, crypto.randomBytes(64 * 1024));
      return file;
    }, ModelStoreError, /model file .*random\.onnx is not an ONNX model/],
    ['corrupt model file with a valid sidecar spec (the runtime refuses it)', () => withSidecar('random-with-spec', yoloxSpec, crypto.randomBytes(64 * 1024)),
      RuntimeError, /could not load model .*random-with-spec\.onnx on onnx\/cpu/],
    ['truncated model file', () => withSidecar('truncated', yoloxSpec, fs.readFileSync(YOLOX).subarray(0, 1_000_000)),
      RuntimeError, /could not load model .*truncated\.onnx/],
    ['YOLOX-Nano with a spec claiming yolov8', () => withSidecar('claims-yolov8', { ...yoloxSpec, name: 'claims-yolov8', decoder: { kind: 'yolov8' } }),
      RuntimeError, /does not work with its spec: model "claims-yolov8" output "output" has shape \[1, 3549, 85\] .*yolov8 decoder.* expects \[N, 84, N\]/],
    ['YOLOX-Nano with a spec claiming 20 classes', () => withSidecar('twenty', { ...yoloxSpec, name: 'twenty', labels: Array.from({ length: 20 }, (_, i) => `c${i}`) }),
      RuntimeError, /does not work with its spec: .*shape \[1, 3549, 85\].*20 classes.*expects \[N, 3549, 25\]/],
    ['YOLOX-Nano with a spec naming another output', () => withSidecar('other-output', { ...yoloxSpec, name: 'other-output', output: 'detections' }),
      RuntimeError, /no output named "detections" \(outputs: output\)/],
    ['YOLOX-Nano with a spec naming another input', () => withSidecar('other-input', { ...yoloxSpec, name: 'other-input', input: { ...yoloxSpec.input, name: 'image' } }),
      RuntimeError, /has no input named "image" \(inputs: images\); fix input.name in its spec/],
    ['an invalid sidecar spec', () => withSidecar('invalid', { ...yoloxSpec, decoder: { kind: 'yolox', strides: [7] } }),
      ModelStoreError, /invalid\.json is invalid: .*decoder\.strides must be positive and divide the input size/],
  ];
  for (const [name, make, type, message] of cases) {
    it(name, async () => {
      const error = await Detector.create(config(make())).catch((e: Error) => e);
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
      await expectStillWorks();
    });
  }
});
