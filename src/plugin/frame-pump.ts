import {
  ScryptedInterface,
  type Camera, type Image, type MediaObject, type SystemManager, type VideoCamera, type VideoFrame, type VideoFrameGenerator,
} from '@scrypted/sdk';
import type { FrameSourceMode } from './mixin-settings';

/**
 * Takes frames from one camera and hands each to `onFrame`, at most `fps` a second. Capture
 * never waits for inference: `onFrame` converts the frame and gives it to the scheduler's
 * keep-latest slot, then returns; the result arrives later on its own.
 *
 * Frames come from a VideoFrameGenerator (another plugin decoding the camera's stream) when the
 * system has one, otherwise from periodic snapshots (`takePicture`). A stream that fails, ends,
 * stalls or keeps giving unusable frames is restarted with exponential backoff; each failure is
 * reported through `onError` so the camera's settings and console show it.
 */

/** One frame: a Scrypted Image (a decoded video frame) or a snapshot media object. */
export type PumpFrame =
  | { kind: 'image'; image: Image & MediaObject; timestamp: number }
  | { kind: 'media'; media: MediaObject; timestamp: number };

export type PumpState = 'stopped' | 'starting' | 'running' | 'backoff';

export interface PumpTuning {
  /** First retry delay after a failure; doubles per consecutive failure up to `backoffMaxMs`. */
  backoffMinMs: number;
  backoffMaxMs: number;
  /** No frame for this long counts as a failed stream. */
  stallMs: number;
  /** This many unusable frames in a row count as a failed stream (restart with backoff). */
  maxBadFrames: number;
  /** stop() waits this long at most for the frame generator to end. */
  closeWaitMs: number;
}

export const DEFAULT_PUMP_TUNING: PumpTuning = { backoffMinMs: 1_000, backoffMaxMs: 60_000, stallMs: 15_000, maxBadFrames: 10, closeWaitMs: 2_000 };

export type PumpCamera = Partial<Camera & VideoCamera>;

export interface FramePumpOptions {
  camera: PumpCamera;
  /** The camera's interfaces (what `camera` may be asked for). */
  interfaces: readonly string[];
  systemManager: SystemManager;
  mode: FrameSourceMode;
  fps: number;
  onFrame: (frame: PumpFrame) => Promise<void>;
  /**
   * A failure. `retryInMs` is set when the stream failed and will be retried after that delay;
   * absent for one bad frame (the stream goes on).
   */
  onError: (error: Error, retryInMs?: number) => void;
  /** State changes (for status); `running` after a failure means it recovered. */
  onState?: (state: PumpState, via?: 'video' | 'snapshot') => void;
  tuning?: Partial<PumpTuning>;
}

export class FrameSourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FrameSourceError';
  }
}

const STOPPED = Symbol('stopped');

/** The first device offering VideoFrameGenerator, if the system has one. */
export function findVideoFrameGenerator(systemManager: SystemManager): VideoFrameGenerator | undefined {
  const state = systemManager.getSystemState();
  for (const id of Object.keys(state)) {
    const interfaces = state[id]?.interfaces?.value as string[] | undefined;
    if (!interfaces?.includes(ScryptedInterface.VideoFrameGenerator)) continue;
    const device = systemManager.getDeviceById<VideoFrameGenerator>(id);
    if (device) return device;
  }
  return undefined;
}

export class FramePump {
  private readonly tuning: PumpTuning;
  private stopped = true;
  private loop?: Promise<void>;
  private wakeStop?: () => void;
  private stopSignal?: Promise<typeof STOPPED>;
  private generator?: AsyncGenerator<VideoFrame, void>;
  /** The last generator's return(), which stop() waits for. */
  private closing?: Promise<void>;
  private lastDelivered = -Infinity;
  private badStreak = 0;
  private deliveredThisAttempt = 0;
  /** Unusable frames / stream failures, since construction. */
  readonly counts = { badFrames: 0, failures: 0 };
  state: PumpState = 'stopped';
  via?: 'video' | 'snapshot';

  constructor(private readonly options: FramePumpOptions) {
    this.tuning = { ...DEFAULT_PUMP_TUNING, ...options.tuning };
  }

  get running(): boolean {
    return !this.stopped;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopSignal = new Promise((resolve) => (this.wakeStop = () => resolve(STOPPED)));
    this.loop = this.run();
  }

  /**
   * Stops taking frames and resolves when the loop has ended and the generator has been
   * returned (waiting at most `closeWaitMs` for a generator that does not answer).
   */
  async stop(): Promise<void> {
    if (this.stopped) return this.loop;
    this.stopped = true;
    this.wakeStop?.();
    this.closeGenerator();
    await this.loop;
    const closing = this.closing;
    this.closing = undefined;
    if (!closing) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closing, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.tuning.closeWaitMs)))]);
    clearTimeout(timer);
  }

  private setState(state: PumpState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onState?.(state, this.via);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.deliveredThisAttempt = 0;
      this.badStreak = 0;
      this.setState('starting');
      try {
        await this.runOnce();
        if (this.stopped) break;
        throw new FrameSourceError(this.via === 'video' ? 'the video stream ended' : 'snapshots stopped');
      } catch (e) {
        if (this.stopped) break;
        failures = this.deliveredThisAttempt > 0 ? 1 : failures + 1;
        this.counts.failures++;
        const delay = Math.min(this.tuning.backoffMaxMs, this.tuning.backoffMinMs * 2 ** (failures - 1));
        this.setState('backoff');
        this.options.onError(e instanceof Error ? e : new Error(String(e)), delay);
        if ((await this.sleep(delay)) === STOPPED) break;
      }
    }
    this.closeGenerator();
    this.setState('stopped');
  }

  private chooseSource(): { via: 'video'; generator: VideoFrameGenerator } | { via: 'snapshot' } {
    const { mode, interfaces, camera } = this.options;
    const hasVideo = interfaces.includes(ScryptedInterface.VideoCamera) && typeof camera.getVideoStream === 'function';
    const hasSnapshot = interfaces.includes(ScryptedInterface.Camera) && typeof camera.takePicture === 'function';
    if (mode !== 'snapshot' && hasVideo) {
      const generator = findVideoFrameGenerator(this.options.systemManager);
      if (generator) return { via: 'video', generator };
      if (mode === 'video') throw new FrameSourceError('frame source is "video" but no VideoFrameGenerator is installed (install Video Analysis, or use snapshots)');
    }
    if (mode === 'video' && !hasVideo) throw new FrameSourceError('frame source is "video" but this camera has no video stream (VideoCamera)');
    if (hasSnapshot) return { via: 'snapshot' };
    throw new FrameSourceError(
      mode === 'snapshot'
        ? 'frame source is "snapshot" but this camera cannot take pictures (Camera)'
        : 'no frames: the camera has no snapshots (Camera) and no VideoFrameGenerator is installed to decode its video',
    );
  }

  private async runOnce(): Promise<void> {
    const source = this.chooseSource();
    this.via = source.via;
    if (source.via === 'video') await this.runVideo(source.generator);
    else await this.runSnapshots();
  }

  private async runVideo(frameGenerator: VideoFrameGenerator): Promise<void> {
    const stream = await this.guard(this.options.camera.getVideoStream!(), 'getting the video stream');
    if (stream === STOPPED) return;
    const generator = await this.guard(frameGenerator.generateVideoFrames(stream, { fps: this.options.fps, queue: 0 }), 'starting frame decoding');
    if (generator === STOPPED) return;
    this.generator = generator;
    if (this.stopped) return this.closeGenerator();
    const minInterval = 1000 / this.options.fps;
    while (!this.stopped) {
      const next = await this.guard(generator.next(), 'waiting for a video frame');
      if (next === STOPPED || next.done) return;
      const now = performance.now();
      // The generator may decode faster than the cap (fps is a hint to it): keep to the cap here.
      if (now - this.lastDelivered < minInterval * 0.9) continue;
      this.lastDelivered = now;
      await this.deliver({ kind: 'image', image: next.value.image, timestamp: frameTime(next.value.timestamp) });
    }
  }

  private async runSnapshots(): Promise<void> {
    const minInterval = 1000 / this.options.fps;
    while (!this.stopped) {
      const started = performance.now();
      const media = await this.guard(
        this.options.camera.takePicture!({ reason: 'event', timeout: this.tuning.stallMs }),
        'taking a snapshot',
      );
      if (media === STOPPED) return;
      if (!media) throw new FrameSourceError('the camera returned no snapshot');
      this.lastDelivered = performance.now();
      await this.deliver({ kind: 'media', media, timestamp: Date.now() });
      if ((await this.sleep(minInterval - (performance.now() - started))) === STOPPED) return;
    }
  }

  /** Hands a frame over; a bad frame is reported and skipped, too many in a row fail the stream. */
  private async deliver(frame: PumpFrame): Promise<void> {
    try {
      // A hand-over that never ends (a model that never loads, a host that never converts)
      // must not keep stop() waiting.
      if ((await Promise.race([this.options.onFrame(frame), this.stopSignal!])) === STOPPED) return;
    } catch (e) {
      if (this.stopped) return;
      const error = e instanceof Error ? e : new Error(String(e));
      this.counts.badFrames++;
      if (++this.badStreak >= this.tuning.maxBadFrames) {
        throw new FrameSourceError(`${this.badStreak} unusable frames in a row (last: ${error.message})`, { cause: error });
      }
      this.options.onError(error);
      return;
    }
    this.deliveredThisAttempt++;
    this.badStreak = 0;
    this.setState('running');
  }

  /** Awaits a camera call, bounded by the stall time and cut short by stop(). */
  private async guard<T>(promise: Promise<T>, what: string): Promise<T | typeof STOPPED> {
    let timer: NodeJS.Timeout | undefined;
    const stall = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new FrameSourceError(`camera stalled: nothing after ${Math.round(this.tuning.stallMs / 100) / 10} s ${what}`)),
        this.tuning.stallMs,
      );
    });
    try {
      return await Promise.race([promise.catch((e: unknown) => {
        throw new FrameSourceError(`${what} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }), stall, this.stopSignal!]);
    } finally {
      clearTimeout(timer);
    }
  }

  private sleep(ms: number): Promise<void | typeof STOPPED> {
    if (ms <= 0) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const slept = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    return Promise.race([slept, this.stopSignal!]).finally(() => clearTimeout(timer));
  }

  private closeGenerator(): void {
    const generator = this.generator;
    this.generator = undefined;
    // Ends the decoder on the generator's side (for an RPC generator, in the other plugin).
    if (generator) this.closing = generator.return(undefined).then(() => undefined, () => undefined);
  }
}

/** A frame's timestamp when it is on the wall clock, otherwise capture time now. */
function frameTime(timestamp: number | undefined): number {
  const now = Date.now();
  return typeof timestamp === 'number' && Math.abs(now - timestamp) < 24 * 3600_000 ? timestamp : now;
}
