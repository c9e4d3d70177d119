import { CATALOG } from '../../src/models/catalog';
import type { PreparedImage } from '../../src/models/preprocess';
import type { DecodeOptions, DetectorRuntime, FrameResult, PreparedFrame, RuntimeInfo } from '../../src/runtimes/runtime';
import { Detector } from '../../src/engine/detector';

export const SPEC = CATALOG[0].spec;

/** A runtime whose batches finish when the test says so (or after `delayMs`). */
export class FakeRuntime implements DetectorRuntime {
  readonly spec = SPEC;
  info: RuntimeInfo;
  readonly batches: PreparedFrame[][] = [];
  private readonly open: { frames: PreparedFrame[]; finish: () => void; fail: (e: Error) => void }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  closed = false;

  constructor(concurrency = 1, maxBatch = 1, private readonly delayMs?: number) {
    this.info = { runtime: 'fake', device: 'cpu', concurrency, maxBatch };
  }

  detect(frames: PreparedFrame[], _options: DecodeOptions): Promise<FrameResult[]> {
    this.batches.push(frames);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve, reject) => {
      const results = frames.map((f) => ({
        // One detection whose class id tags the frame (its width), so tests can tell frames apart.
        detections: [{ classId: 0, score: 0.9, box: [0, 0, f.width, f.height] as [number, number, number, number] }],
        timings: { tensorMs: 0.1, inferenceMs: 1, postprocessMs: 0.1, batchSize: frames.length },
      }));
      const entry = {
        frames,
        finish: () => { this.inFlight--; resolve(results); },
        fail: (e: Error) => { this.inFlight--; reject(e); },
      };
      if (this.delayMs !== undefined) setTimeout(entry.finish, this.delayMs);
      else this.open.push(entry);
    });
  }

  get waiting(): number {
    return this.open.length;
  }

  /** Finishes the oldest open batch. */
  finishNext(): void {
    this.open.shift()!.finish();
  }

  failNext(error = new Error('boom')): void {
    this.open.shift()!.fail(error);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function fakeDetector(runtime: DetectorRuntime): Detector {
  return new Detector({ path: 'fake.onnx', spec: runtime.spec, sha256: '', source: 'file' }, runtime, {
    model: 'fake', runtime: 'fake', device: 'cpu', threads: 1, concurrency: runtime.info.concurrency,
  });
}

/** A prepared frame tagged by its width (1..416), so tests can see which frame ran. */
export function frame(tag: number): PreparedImage {
  return {
    frame: { pixels: new Uint8Array(0), width: tag, height: 1, offsetX: 0, offsetY: 0 },
    placement: { srcWidth: tag, srcHeight: 1, width: tag, height: 1, offsetX: 0, offsetY: 0, scaleX: 1, scaleY: 1 },
    decodeMs: 0,
  };
}

/** Lets pending promise callbacks (and zero-delay timers) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export const tags = (batch: PreparedFrame[]) => batch.map((f) => f.width);
