import type {
  Camera, ImageOptions, MediaObject, RequestMediaStreamOptions, RequestPictureOptions, ResponseMediaStreamOptions,
  ResponsePictureOptions, VideoCamera, VideoFrame, VideoFrameGenerator, VideoFrameGeneratorOptions,
} from '@scrypted/sdk';
import { execFileSync } from 'child_process';
import sharp from 'sharp';
import { HostImage, HostMediaObject } from './media';
import { VTEST } from '../paths';

export const VTEST_WIDTH = 768;
export const VTEST_HEIGHT = 576;

export interface RawFrame {
  index: number;
  data: Buffer;
  width: number;
  height: number;
}

const decoded = new Map<string, RawFrame[]>();

/** Frames of vtest.avi (rgb24 768x576), decoded once per process with ffmpeg: `count` frames from `start`, every `step`-th. */
export function vtestFrames(start = 0, count = 40, step = 1): RawFrame[] {
  const key = `${start}:${count}:${step}`;
  const cached = decoded.get(key);
  if (cached) return cached;
  const select = `select='gte(n\\,${start})*not(mod(n-${start}\\,${step}))'`;
  const out = execFileSync('ffmpeg', [
    '-v', 'error', '-i', VTEST, '-vf', select, '-vsync', '0', '-frames:v', String(count),
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-',
  ], { maxBuffer: 1 << 30 });
  const size = VTEST_WIDTH * VTEST_HEIGHT * 3;
  const frames: RawFrame[] = [];
  for (let i = 0; i * size + size <= out.length; i++) {
    frames.push({ index: start + i * step, data: out.subarray(i * size, (i + 1) * size), width: VTEST_WIDTH, height: VTEST_HEIGHT });
  }
  if (!frames.length) throw new Error(`ffmpeg gave no frames of ${VTEST}`);
  decoded.set(key, frames);
  return frames;
}

/**
 * How a fake camera misbehaves:
 * - `ok`: serves the frames in a loop;
 * - `static`: serves the first frame over and over (an unchanged scene);
 * - `stream-error`: getVideoStream and takePicture reject;
 * - `generator-throws`: the decoded stream throws after 2 frames;
 * - `zero-bytes`: frames whose pixels are empty (toBuffer gives 0 bytes; snapshots are 0-byte JPEGs);
 * - `wrong-size`: frames whose toBuffer gives half the bytes asked for;
 * - `stall`: the stream opens but no frame ever comes.
 */
export type FakeBehaviour = 'ok' | 'static' | 'stream-error' | 'generator-throws' | 'zero-bytes' | 'wrong-size' | 'stall';

class BrokenImage extends HostImage {
  constructor(pixels: Buffer, width: number, height: number, private readonly broken: 'zero-bytes' | 'wrong-size') {
    super(pixels, width, height);
  }
  override async toBuffer(options: ImageOptions = {}): Promise<Buffer> {
    const good = await super.toBuffer(options);
    return this.broken === 'zero-bytes' ? Buffer.alloc(0) : good.subarray(0, Math.floor(good.length / 2));
  }
}

/** The media object getVideoStream returns: the fake generator reads frames back from its camera. */
export class FakeStream extends HostMediaObject {
  constructor(readonly camera: FakeCamera) {
    super('x-fake/video-stream', `fake stream of ${camera.name}`);
  }
}

/** A camera of another plugin: Camera (JPEG snapshots) and VideoCamera (a stream for a VideoFrameGenerator). */
export class FakeCamera implements Camera, VideoCamera {
  /** Generators started / generators ended (returned, thrown or closed). */
  generatorsStarted = 0;
  generatorsEnded = 0;
  pictures = 0;
  framesServed = 0;
  private cursor = 0;

  constructor(readonly name: string, readonly frames: RawFrame[], readonly behaviour: FakeBehaviour = 'ok', readonly sourceFps = 10) {}

  get activeGenerators(): number {
    return this.generatorsStarted - this.generatorsEnded;
  }

  nextFrame(): RawFrame {
    const frame = this.behaviour === 'static' ? this.frames[0] : this.frames[this.cursor++ % this.frames.length];
    this.framesServed++;
    return frame;
  }

  imageOf(frame: RawFrame): HostImage {
    if (this.behaviour === 'zero-bytes' || this.behaviour === 'wrong-size') return new BrokenImage(frame.data, frame.width, frame.height, this.behaviour);
    return new HostImage(frame.data, frame.width, frame.height);
  }

  async takePicture(_options?: RequestPictureOptions): Promise<MediaObject> {
    if (this.behaviour === 'stream-error') throw new Error(`${this.name}: connection refused`);
    this.pictures++;
    if (this.behaviour === 'zero-bytes') return new HostMediaObject('image/jpeg', Buffer.alloc(0));
    const frame = this.nextFrame();
    const jpeg = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    return new HostMediaObject('image/jpeg', this.behaviour === 'wrong-size' ? jpeg.subarray(0, jpeg.length >> 1) : jpeg);
  }

  async getPictureOptions(): Promise<ResponsePictureOptions[]> {
    return [{ picture: { width: VTEST_WIDTH, height: VTEST_HEIGHT } }];
  }

  async getVideoStream(_options?: RequestMediaStreamOptions): Promise<MediaObject> {
    if (this.behaviour === 'stream-error') throw new Error(`${this.name}: connection refused`);
    return new FakeStream(this);
  }

  async getVideoStreamOptions(): Promise<ResponseMediaStreamOptions[]> {
    return [{ id: 'main', video: { codec: 'rawvideo', width: VTEST_WIDTH, height: VTEST_HEIGHT } }];
  }
}

/** A VideoFrameGenerator (as Video Analysis provides): decodes a FakeStream into VideoFrames at the camera's rate or the fps asked. */
export class FakeVideoFrameGenerator implements VideoFrameGenerator {
  calls: VideoFrameGeneratorOptions[] = [];

  /** `honourFps: false` decodes at the camera's own rate whatever fps is asked (the option is a hint). */
  constructor(private readonly honourFps = true) {}

  async generateVideoFrames(mediaObject: MediaObject, options: VideoFrameGeneratorOptions = {}): Promise<AsyncGenerator<VideoFrame, void>> {
    if (!(mediaObject instanceof FakeStream)) throw new Error(`cannot decode ${mediaObject?.mimeType}`);
    this.calls.push(options);
    return frames(mediaObject.camera, Math.min(mediaObject.camera.sourceFps, this.honourFps ? options.fps ?? Infinity : Infinity));
  }
}

async function* frames(camera: FakeCamera, fps: number): AsyncGenerator<VideoFrame, void> {
  camera.generatorsStarted++;
  try {
    let served = 0;
    while (true) {
      await new Promise((resolve) => setTimeout(resolve, camera.behaviour === 'stall' ? 3_600_000 : 1000 / fps).unref());
      if (camera.behaviour === 'generator-throws' && served >= 2) throw new Error(`${camera.name}: stream decode error (corrupt packet)`);
      const image = camera.imageOf(camera.nextFrame());
      served++;
      yield { __json_copy_serialize_children: true, timestamp: Date.now(), image };
    }
  } finally {
    camera.generatorsEnded++;
  }
}
