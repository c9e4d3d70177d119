import type { ImageSource } from '../../models/preprocess';

/** Decoded frames shared by every simulated camera (decoded once: cameras cost no decoding). */
export interface FrameSet {
  width: number;
  height: number;
  frames: Uint8Array[];
}

export function frameSource(set: FrameSet, index: number): ImageSource {
  return { kind: 'raw', data: set.frames[index % set.frames.length], width: set.width, height: set.height, channels: 3 };
}

/**
 * N cameras at `fps` each, phases spread evenly, driven from wall time: a late timer delivers
 * the frames that fell due (as a camera's buffered frames would arrive in a burst).
 */
export class CameraSimulator {
  private timer?: NodeJS.Timeout;
  private readonly next: number[];
  private readonly counts: number[];
  private stopped = false;

  /** `firstAt`: when camera 0 delivers its first frame (performance.now() clock). */
  constructor(readonly cameras: number, readonly fps: number, private readonly emit: (camera: number, frame: number) => void, firstAt = performance.now()) {
    const period = 1000 / fps;
    this.next = Array.from({ length: cameras }, (_, i) => firstAt + (i * period) / cameras);
    this.counts = new Array(cameras).fill(0);
  }

  start(): void {
    this.tick();
  }

  private tick = (): void => {
    if (this.stopped) return;
    const period = 1000 / this.fps;
    const now = performance.now();
    let soonest = Infinity;
    for (let c = 0; c < this.cameras; c++) {
      while (this.next[c] <= now) {
        this.emit(c, this.counts[c]++);
        this.next[c] += period;
      }
      soonest = Math.min(soonest, this.next[c]);
    }
    this.timer = setTimeout(this.tick, Math.max(0, soonest - performance.now()));
  };

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

/** Samples RSS at a fixed period into a bounded list (one sample per period of the run). */
export class MemorySampler {
  readonly samples: number[] = [];
  private timer?: NodeJS.Timeout;
  peak = 0;

  start(periodMs = 500): void {
    const sample = () => {
      const rss = process.memoryUsage().rss;
      this.peak = Math.max(this.peak, rss);
      if (this.samples.length < 10_000) this.samples.push(rss);
    };
    sample();
    this.timer = setInterval(sample, periodMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** MB: peak, and the mean of the last third less the mean of the first third (growth). */
  summary(): { peakMb: number; firstThirdMb: number; lastThirdMb: number; growthMb: number } {
    const mb = (v: number) => Math.round((v / 2 ** 20) * 10) / 10;
    const n = this.samples.length;
    const third = Math.max(1, Math.floor(n / 3));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const first = mean(this.samples.slice(0, third));
    const last = mean(this.samples.slice(n - third));
    return { peakMb: mb(this.peak), firstThirdMb: mb(first), lastThirdMb: mb(last), growthMb: mb(last - first) };
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
