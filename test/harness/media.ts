import type { Image, ImageOptions, MediaManager, MediaObject, MediaObjectCreateOptions, FFmpegInput } from '@scrypted/sdk';
import sharp from 'sharp';

/** A media object as the server hands it to a plugin: a MIME type and data behind it. */
export class HostMediaObject implements MediaObject {
  constructor(readonly mimeType: string, readonly data: Buffer | string, readonly sourceId?: string) {}
}

export class ConversionError extends Error {}

/**
 * A Scrypted Image (what VideoFrame.image is): raw pixels the host can resize and convert on
 * request. The server's implementation is backed by its decoder (sharp or libav); this one by
 * sharp, with the same options and results: toBuffer({resize, format}) gives packed pixels.
 */
export class HostImage extends HostMediaObject implements Image {
  closed = false;
  toBufferCalls: ImageOptions[] = [];
  readonly format = 'rgb' as const;

  constructor(readonly pixels: Buffer, readonly width: number, readonly height: number, sourceId?: string) {
    super('x-scrypted/x-scrypted-image', pixels, sourceId);
  }

  async toBuffer(options: ImageOptions = {}): Promise<Buffer> {
    if (this.closed) throw new Error('image is closed');
    this.toBufferCalls.push(options);
    let pipeline = sharp(this.pixels, { raw: { width: this.width, height: this.height, channels: 3 } });
    if (options.crop) pipeline = pipeline.extract(options.crop);
    if (options.resize) pipeline = pipeline.resize(options.resize.width, options.resize.height, { fit: 'fill' });
    switch (options.format ?? 'rgb') {
      case 'rgb':
        return pipeline.raw().toBuffer();
      case 'rgba':
        return pipeline.ensureAlpha().raw().toBuffer();
      case 'gray':
        return pipeline.greyscale().raw().toBuffer();
      case 'jpg':
        return pipeline.jpeg().toBuffer();
      default:
        throw new Error(`unsupported image format ${options.format}`);
    }
  }

  async toImage(options: ImageOptions = {}): Promise<Image & MediaObject> {
    const data = await this.toBuffer({ ...options, format: 'rgb' });
    const { width, height } = await sharp(await this.toBuffer({ ...options, format: 'jpg' })).metadata();
    return new HostImage(data, width!, height!, this.sourceId);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** The server's media manager: converts only what a converter exists for, like the real one. */
export class HostMediaManager implements MediaManager {
  conversions: { from: string; to: string }[] = [];

  async convertMediaObject<T>(mediaObject: MediaObject, toMimeType: string): Promise<T> {
    return (await this.convertMediaObjectToBuffer(mediaObject, toMimeType)) as T;
  }
  async convertMediaObjectToJSON<T>(mediaObject: MediaObject, toMimeType: string): Promise<T> {
    return JSON.parse((await this.convertMediaObjectToBuffer(mediaObject, toMimeType)).toString()) as T;
  }
  async convertMediaObjectToBuffer(mediaObject: MediaObject, toMimeType: string): Promise<Buffer> {
    this.conversions.push({ from: mediaObject.mimeType, to: toMimeType });
    const media = mediaObject as HostMediaObject;
    if (media instanceof HostImage && toMimeType === 'image/jpeg') return media.toBuffer({ format: 'jpg' });
    if (media.mimeType === toMimeType && Buffer.isBuffer(media.data)) return media.data;
    throw new ConversionError(`no converter found for ${media.mimeType} to ${toMimeType}`);
  }
  async convertMediaObjectToInsecureLocalUrl(): Promise<string> {
    throw new ConversionError('URLs are not served by the test host');
  }
  async convertMediaObjectToLocalUrl(): Promise<string> {
    throw new ConversionError('URLs are not served by the test host');
  }
  async convertMediaObjectToUrl(): Promise<string> {
    throw new ConversionError('URLs are not served by the test host');
  }
  async createFFmpegMediaObject<T extends MediaObjectCreateOptions>(ffmpegInput: FFmpegInput, options?: T): Promise<MediaObject & T> {
    return Object.assign(new HostMediaObject('x-scrypted/x-ffmpeg-input', JSON.stringify(ffmpegInput), options?.sourceId), options) as MediaObject & T;
  }
  async createMediaObjectFromUrl<T extends MediaObjectCreateOptions>(data: string, options?: T): Promise<MediaObject & T> {
    return Object.assign(new HostMediaObject('text/x-uri', data, options?.sourceId), options) as MediaObject & T;
  }
  async createMediaObject<T extends MediaObjectCreateOptions>(data: unknown, mimeType: string, options?: T): Promise<MediaObject & T> {
    return Object.assign(new HostMediaObject(mimeType, data as Buffer, options?.sourceId), options) as MediaObject & T;
  }
  async getFFmpegPath(): Promise<string> {
    return 'ffmpeg';
  }
  async getFilesPath(): Promise<string> {
    return process.env.SCRYPTED_PLUGIN_VOLUME ?? '.';
  }
}
