/**
 * Fixed-memory histograms. Latency is recorded for every frame of every camera for as long as the
 * plugin runs, so samples are never kept: a log-bucketed histogram answers percentiles within
 * its bucket resolution (2%) from a few kilobytes, however long the run.
 */

const MIN_MS = 0.01;
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets up to ten minutes; anything slower lands in the last one (max is still exact). */
const BUCKETS = 2 + Math.ceil(Math.log(600_000 / MIN_MS) / LOG_GROWTH);

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(ms: number): void {
    if (!(ms >= 0)) ms = 0;
    const index = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.counts[index]++;
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  /** The value below which a fraction `q` (0..1) of the samples fall, to within 2%; 0 when empty. */
  quantile(q: number): number {
    if (!this.count) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        // Geometric middle of the bucket, clamped to what was actually seen.
        const mid = i === 0 ? MIN_MS : MIN_MS * Math.pow(GROWTH, i - 0.5);
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  get mean(): number {
    return this.count ? this.sum / this.count : 0;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      mean: round(this.mean),
      p50: round(this.quantile(0.5)),
      p95: round(this.quantile(0.95)),
      p99: round(this.quantile(0.99)),
      max: round(this.count ? this.max : 0),
    };
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = 0;
  }
}

/** Counts of small integers (batch sizes); values above the top bucket share it. */
export class CountHistogram {
  private readonly counts: Uint32Array;

  constructor(readonly top = 64) {
    this.counts = new Uint32Array(top + 1);
  }

  record(value: number): void {
    this.counts[Math.max(0, Math.min(this.top, Math.round(value)))]++;
  }

  /** Non-empty buckets as { "value": count }. */
  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    this.counts.forEach((c, v) => {
      if (c) out[v === this.top ? `${v}+` : String(v)] = c;
    });
    return out;
  }

  mean(): number {
    let n = 0;
    let sum = 0;
    this.counts.forEach((c, v) => {
      n += c;
      sum += c * v;
    });
    return n ? sum / n : 0;
  }

  reset(): void {
    this.counts.fill(0);
  }
}

/** Events per second over the last `seconds`, from a ring of per-second counters. */
export class RateMeter {
  private readonly ring: Float64Array;
  private readonly stamps: Float64Array;

  constructor(private readonly seconds = 10) {
    this.ring = new Float64Array(seconds);
    this.stamps = new Float64Array(seconds).fill(-1);
  }

  mark(nowMs: number, n = 1): void {
    const second = Math.floor(nowMs / 1000);
    const at = second % this.seconds;
    if (this.stamps[at] !== second) {
      this.stamps[at] = second;
      this.ring[at] = 0;
    }
    this.ring[at] += n;
  }

  /** Rate over the completed seconds of the window (the current partial second is left out). */
  rate(nowMs: number, sinceMs = -Infinity): number {
    const current = Math.floor(nowMs / 1000);
    const first = Math.max(current - this.seconds + 1, Math.floor(sinceMs / 1000) + 1);
    const span = current - first;
    if (span <= 0) return 0;
    let total = 0;
    for (let s = first; s < current; s++) {
      const at = ((s % this.seconds) + this.seconds) % this.seconds;
      if (this.stamps[at] === s) total += this.ring[at];
    }
    return total / span;
  }

  reset(): void {
    this.ring.fill(0);
    this.stamps.fill(-1);
  }
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
