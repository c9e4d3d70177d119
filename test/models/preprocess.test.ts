import fs from 'fs';
import { describe, expect, it } from 'vitest';
import { catalogEntry } from '../../src/models/catalog';
import { ImageInputError, MAX_INPUT_PIXELS, prepareImage } from '../../src/models/preprocess';
import { fillTensor } from '../../src/models/tensor';
import { loadNative } from '../../src/native';
import { corruptJpeg, hugeJpeg, hugePng } from '../fixtures/bad-images';
import { media } from './helpers';

const sharp = loadNative<typeof import('sharp')>('sharp');
const yolox = catalogEntry('yolox_nano')!.spec.input;
const yolov5 = catalogEntry('yolov5s')!.spec.input;
const dogJpeg = fs.readFileSync(media('dog.jpg'));

const meanAbsDiff = (a: Uint8Array, b: Uint8Array) => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
};

describe('prepareImage', () => {
  it('JPEG: decoded and resized to the placed size, packed RGB', async () => {
    const { frame, placement, decodeMs } = await prepareImage({ kind: 'encoded', data: dogJpeg, mimeType: 'image/jpeg' }, yolox);
    expect(placement).toMatchObject({ srcWidth: 768, srcHeight: 576, width: 416, height: 312, offsetX: 0, offsetY: 0 });
    expect(frame).toMatchObject({ width: 416, height: 312, offsetX: 0, offsetY: 0 });
    expect(frame.pixels.length).toBe(416 * 312 * 3);
    expect(decodeMs).toBeGreaterThan(0);
  });

  it('PNG, centred letterbox', async () => {
    const { frame, placement } = await prepareImage({ kind: 'encoded', data: fs.readFileSync(media('basketball1.png')) }, yolov5);
    expect(placement).toMatchObject({ srcWidth: 640, srcHeight: 480, width: 640, height: 480, offsetX: 0, offsetY: 80 });
    expect(frame.pixels.length).toBe(640 * 480 * 3);
  });

  it('raw RGB, RGBA and GRAY give the same pixels as the JPEG they came from', async () => {
    const fromJpeg = await prepareImage({ kind: 'encoded', data: dogJpeg }, yolox);
    const rgb = await sharp(dogJpeg).raw().toBuffer();
    const rgba = await sharp(dogJpeg).ensureAlpha().raw().toBuffer();
    const fromRgb = await prepareImage({ kind: 'raw', data: rgb, width: 768, height: 576, channels: 3 }, yolox);
    const fromRgba = await prepareImage({ kind: 'raw', data: rgba, width: 768, height: 576, channels: 4 }, yolox);
    expect(meanAbsDiff(fromRgb.frame.pixels, fromJpeg.frame.pixels)).toBeLessThan(0.5);
    expect(Buffer.compare(Buffer.from(fromRgba.frame.pixels), Buffer.from(fromRgb.frame.pixels))).toBe(0);

    const grey = await sharp(dogJpeg).greyscale().raw().toBuffer();
    const fromGrey = await prepareImage({ kind: 'raw', data: grey, width: 768, height: 576, channels: 1 }, yolox);
    const px = fromGrey.frame.pixels;
    expect(px.length).toBe(416 * 312 * 3);
    for (let i = 0; i < px.length; i += 3 * 97) {
      expect(px[i + 1]).toBe(px[i]);
      expect(px[i + 2]).toBe(px[i]);
    }
  });

  it('raw RGB already at the placed size skips resizing: the caller\'s pixels are used as they are', async () => {
    const data = new Uint8Array(416 * 312 * 3).map((_, i) => i & 255);
    const { frame, placement } = await prepareImage({ kind: 'raw', data, width: 416, height: 312, channels: 3 }, yolox);
    expect(frame.pixels).toBe(data);
    expect(placement).toMatchObject({ width: 416, height: 312, scaleX: 1, scaleY: 1 });
    // ...but RGBA of that size still goes through libvips to drop alpha
    const rgba = new Uint8Array(416 * 312 * 4);
    const fromRgba = await prepareImage({ kind: 'raw', data: rgba, width: 416, height: 312, channels: 4 }, yolox);
    expect(fromRgba.frame.pixels.length).toBe(416 * 312 * 3);
  });

  it('with runtimeResizes, raw RGB up to MAX_RESIZE_FACTOR larger goes to the runtime unresized; beyond it, under 2x2 or not RGB, libvips resizes', async () => {
    const rgb = await sharp(dogJpeg).raw().toBuffer(); // 768x576: 1.85x the placed 416x312
    const handed = await prepareImage({ kind: 'raw', data: rgb, width: 768, height: 576, channels: 3 }, yolox, { runtimeResizes: true });
    expect(handed.frame.pixels).toBe(rgb);
    expect(handed.frame).toMatchObject({ width: 416, height: 312, offsetX: 0, offsetY: 0, source: { width: 768, height: 576 } });
    expect(handed.placement).toMatchObject({ srcWidth: 768, srcHeight: 576, width: 416, height: 312 });
    // originalSize sets the placement; the runtime still resizes from the pixels' own size.
    const small = await sharp(dogJpeg).resize(600, 450).raw().toBuffer();
    const resized = await prepareImage({ kind: 'raw', data: small, width: 600, height: 450, channels: 3, originalSize: [1536, 1152] }, yolox, { runtimeResizes: true });
    expect(resized.frame).toMatchObject({ width: 416, height: 312, source: { width: 600, height: 450 } });
    expect(resized.placement).toMatchObject({ srcWidth: 1536, srcHeight: 1152, width: 416, height: 312 });

    const big = await sharp(dogJpeg).resize(1536, 1152).raw().toBuffer(); // 3.7x: libvips
    const shrunk = await prepareImage({ kind: 'raw', data: big, width: 1536, height: 1152, channels: 3 }, yolox, { runtimeResizes: true });
    expect(shrunk.frame.source).toBeUndefined();
    expect(shrunk.frame.pixels.length).toBe(416 * 312 * 3);
    const rgba = await sharp(dogJpeg).ensureAlpha().raw().toBuffer();
    const fromRgba = await prepareImage({ kind: 'raw', data: rgba, width: 768, height: 576, channels: 4 }, yolox, { runtimeResizes: true });
    expect(fromRgba.frame.source).toBeUndefined();
    const thin = await prepareImage({ kind: 'raw', data: new Uint8Array(6), width: 1, height: 2, channels: 3 }, yolox, { runtimeResizes: true });
    expect(thin.frame.source).toBeUndefined(); // under 2x2: libvips
    // Without the option (a runtime that does not resize) nothing changes.
    expect((await prepareImage({ kind: 'raw', data: rgb, width: 768, height: 576, channels: 3 }, yolox)).frame.source).toBeUndefined();
  });

  it('the tensor fill\'s resize of a real photo is close to libvips\' (which smooths a shrink more) on average', async () => {
    const rgb = await sharp(dogJpeg).raw().toBuffer();
    const layout = { width: 416, height: 416, nchw: false, bgr: false, scale: 1, padValue: 0 };
    const ours = new Float32Array(416 * 416 * 3);
    fillTensor(ours, 0, { pixels: rgb, width: 416, height: 312, offsetX: 0, offsetY: 0, source: { width: 768, height: 576 } }, layout);
    const { frame } = await prepareImage({ kind: 'raw', data: rgb, width: 768, height: 576, channels: 3 }, yolox);
    const libvips = Uint8Array.from(frame.pixels);
    const mine = Uint8Array.from(ours.subarray(0, 416 * 312 * 3), (v) => Math.round(v));
    // 2.3 grey levels apart on average: the difference of the kernels; any misplaced row or channel is tens.
    expect(meanAbsDiff(mine, libvips)).toBeLessThan(3);
  });

  it('EXIF orientation is applied before letterboxing', async () => {
    const rotated = await sharp(dogJpeg).withMetadata({ orientation: 6 }).jpeg().toBuffer(); // displayed 576x768
    const { placement } = await prepareImage({ kind: 'encoded', data: rotated }, yolox);
    expect(placement).toMatchObject({ srcWidth: 576, srcHeight: 768, width: 312, height: 416 });
  });

  describe('bad input: clear ImageInputError', () => {
    const cases: [string, () => Parameters<typeof prepareImage>[0], RegExp][] = [
      ['zero-byte buffer', () => ({ kind: 'encoded', data: new Uint8Array(0), mimeType: 'image/jpeg' }), /empty image buffer \(image\/jpeg, 0 bytes\)/],
      ['corrupt JPEG (valid header, garbage body)', () => ({ kind: 'encoded', data: corruptJpeg() }), /could not (read|decode) image/],
      ['truncated JPEG', () => ({ kind: 'encoded', data: dogJpeg.subarray(0, dogJpeg.length >> 1) }), /could not (read|decode) image/],
      ['PNG header claiming 30000x30000', () => ({ kind: 'encoded', data: hugePng(), mimeType: 'image/png' }), /image 30000x30000 exceeds the 100 MP limit/],
      ['JPEG header claiming 30000x30000', () => ({ kind: 'encoded', data: hugeJpeg(), mimeType: 'image/jpeg' }), /image 30000x30000 exceeds the 100 MP limit/],
      ['unsupported data (text)', () => ({ kind: 'encoded', data: Buffer.from('GIF? no, just some text that is not an image'), mimeType: 'text/plain' }), /could not read image \(text\/plain.*unsupported image format/],
      ['raw with the wrong byte count', () => ({ kind: 'raw', data: new Uint8Array(100), width: 10, height: 10, channels: 3 }), /needs 300 bytes, got 100/],
      ['raw with a bad size', () => ({ kind: 'raw', data: new Uint8Array(3), width: 0, height: 1, channels: 3 }), /invalid size 0x1/],
      ['raw over the pixel limit', () => ({ kind: 'raw', data: new Uint8Array(3), width: 30000, height: 30000, channels: 3 }), new RegExp(`exceeds the ${MAX_INPUT_PIXELS / 1e6} MP limit`)],
    ];
    for (const [name, source, message] of cases) {
      it(name, async () => {
        const error = await prepareImage(source(), yolox).catch((e: Error) => e);
        expect(error).toBeInstanceOf(ImageInputError);
        expect((error as Error).message).toMatch(message);
      });
    }
  });
});
