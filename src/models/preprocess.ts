import type { Sharp as SharpPipeline } from 'sharp';
import type SharpModule from 'sharp';
import { loadNative } from '../native';
import { runtimeCanResize, type PreparedFrame } from '../runtimes/runtime';
import { placeImage, type Placement } from './geometry';
import type { InputSpec } from './spec';

type Sharp = typeof SharpModule;
let sharpModule: Sharp | undefined;
/** sharp, loaded on first use from where Scrypted installs native modules (never bundled). */
export function sharp(): Sharp {
  sharpModule ??= loadNative<Sharp>('sharp');
  return sharpModule;
}

/** Largest image accepted, in pixels: far above any camera (8K is 33 MP), far below memory trouble. */
export const MAX_INPUT_PIXELS = 100_000_000;

export type ImageSource =
  | { kind: 'encoded'; data: Uint8Array; mimeType?: string }
  | {
      kind: 'raw'; data: Uint8Array; width: number; height: number; channels: 1 | 3 | 4;
      /** The pixels are a resized copy of an image this size (e.g. from `Image.toBuffer({resize})`): report boxes in its pixels. */
      originalSize?: [number, number];
    };

export interface PreparedImage {
  frame: PreparedFrame;
  placement: Placement;
  /** Decoding and resizing, which libvips fuses into one pipeline. */
  decodeMs: number;
}

export class ImageInputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageInputError';
  }
}

function describe(source: ImageSource): string {
  return source.kind === 'encoded'
    ? `${source.mimeType ?? 'encoded image'}, ${source.data.length} bytes`
    : `raw ${source.width}x${source.height}x${source.channels}, ${source.data.length} bytes`;
}

function checkRaw(source: Extract<ImageSource, { kind: 'raw' }>): void {
  const { width, height, channels, data } = source;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageInputError(`raw image has invalid size ${width}x${height}`);
  }
  if (width * height > MAX_INPUT_PIXELS) {
    throw new ImageInputError(`raw image ${width}x${height} exceeds the ${MAX_INPUT_PIXELS / 1e6} MP limit`);
  }
  const expected = width * height * channels;
  if (data.length !== expected) {
    throw new ImageInputError(`raw ${width}x${height} image with ${channels} channel(s) needs ${expected} bytes, got ${data.length}`);
  }
}

/**
 * Turns an encoded or raw image into packed RGB pixels sized for the model (aspect kept for
 * letterbox models). libvips decodes and resizes in one pipeline (with JPEG shrink-on-load);
 * a raw RGB frame that already has the right size (Scrypted's `Image.toBuffer({resize})`)
 * skips libvips entirely, and so does one `runtimeCanResize` (at most 2x the placed size) when
 * `runtimeResizes` (the runtime's info says `resizes`): the runtime resizes it while it builds
 * the tensor, off the event loop, with none of libvips' ~1 ms fixed cost per call. Padding is
 * left to the tensor fill, which writes every element anyway.
 */
export async function prepareImage(source: ImageSource, input: InputSpec, { runtimeResizes = false } = {}): Promise<PreparedImage> {
  const started = performance.now();
  if (!source.data.length) throw new ImageInputError(`empty image buffer (${describe(source)})`);

  // Built on use for raw frames: a frame already at the model's size never touches sharp.
  let pipeline: () => SharpPipeline;
  let srcWidth: number;
  let srcHeight: number;
  try {
    if (source.kind === 'raw') {
      checkRaw(source);
      [srcWidth, srcHeight] = source.originalSize ?? [source.width, source.height];
      const { data, width, height, channels } = source;
      pipeline = () => sharp()(data, { raw: { width, height, channels } });
    } else {
      // libvips' own limit would refuse a huge header with a message that hides its size; the
      // check below refuses it by name, from the header alone, before anything is decoded.
      const decoder = sharp()(source.data, { failOn: 'error', limitInputPixels: false, autoOrient: true });
      pipeline = () => decoder;
      const meta = await decoder.metadata();
      srcWidth = meta.autoOrient?.width ?? meta.width ?? 0;
      srcHeight = meta.autoOrient?.height ?? meta.height ?? 0;
      if (!srcWidth || !srcHeight) throw new ImageInputError('image has no dimensions');
      if (srcWidth * srcHeight > MAX_INPUT_PIXELS) {
        throw new ImageInputError(`image ${srcWidth}x${srcHeight} exceeds the ${MAX_INPUT_PIXELS / 1e6} MP limit`);
      }
    }
  } catch (e) {
    if (e instanceof ImageInputError) throw new ImageInputError(`${e.message} (${describe(source)})`);
    throw new ImageInputError(`could not read image (${describe(source)}): ${(e as Error).message}`, { cause: e });
  }

  const placement = placeImage(srcWidth, srcHeight, input);
  const { width, height } = placement;
  let pixels: Uint8Array;
  let resizeFrom: PreparedFrame['source'];
  const rgb = source.kind === 'raw' && source.channels === 3 ? source : undefined;
  if (rgb && rgb.width === width && rgb.height === height) {
    pixels = rgb.data;
  } else if (rgb && runtimeResizes && runtimeCanResize(rgb, placement)) {
    pixels = rgb.data;
    resizeFrom = { width: rgb.width, height: rgb.height };
  } else {
    try {
      const { data, info } = await pipeline()
        .resize(width, height, { fit: 'fill', kernel: 'linear' })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 3 || info.width !== width || info.height !== height) {
        throw new Error(`libvips produced ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x3`);
      }
      pixels = data;
    } catch (e) {
      throw new ImageInputError(`could not decode image (${describe(source)}): ${(e as Error).message}`, { cause: e });
    }
  }
  return {
    frame: { pixels, width, height, offsetX: placement.offsetX, offsetY: placement.offsetY, ...(resizeFrom && { source: resizeFrom }) },
    placement,
    decodeMs: performance.now() - started,
  };
}
