import { round, type LatencySummary } from '../histogram';

/**
 * Every latency of one benchmark run, kept: its percentiles are exact. The plugin's live stats use
 * LatencyHistogram (fixed memory, 2% buckets), but a benchmark compares medians a fraction of a
 * millisecond apart (the one-camera check allows 3 ms over raw predict), where a 2% bucket around
 * 18 ms is 0.36 ms wide. Runs are seconds long: a few thousand samples at most.
 */
export class LatencySamples {
  private values: number[] = [];
  private sorted = true;
  private total = 0;

  record(ms: number): void {
    const v = ms >= 0 ? ms : 0;
    if (this.values.length && v < this.values[this.values.length - 1]) this.sorted = false;
    this.values.push(v);
    this.total += v;
  }

  get count(): number {
    return this.values.length;
  }

  /** The `q` quantile (0..1), interpolated between the two nearest samples (numpy's default); 0 when empty. */
  quantile(q: number): number {
    const n = this.values.length;
    if (!n) return 0;
    if (!this.sorted) {
      this.values.sort((a, b) => a - b);
      this.sorted = true;
    }
    const at = Math.min(1, Math.max(0, q)) * (n - 1);
    const below = Math.floor(at);
    const above = Math.min(n - 1, below + 1);
    return this.values[below] + (this.values[above] - this.values[below]) * (at - below);
  }

  summary(): LatencySummary {
    const n = this.values.length;
    return {
      count: n,
      mean: round(n ? this.total / n : 0),
      p50: round(this.quantile(0.5)),
      p95: round(this.quantile(0.95)),
      p99: round(this.quantile(0.99)),
      max: round(this.quantile(1)),
    };
  }
}
