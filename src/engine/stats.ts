import { CountHistogram, LatencyHistogram, RateMeter, round, type LatencySummary } from './histogram';

/** Why a frame was not processed. Requests are never dropped: they are answered or failed. */
export type DropReason = 'replaced' | 'stale' | 'closed';
export const DROP_REASONS: readonly DropReason[] = ['replaced', 'stale', 'closed'];

/**
 * Where a frame's time went, arrival to result:
 * - queue: waiting in its slot or the request queue, the batching window, and for a free runner
 * - preprocess: decode/resize (libvips) plus the runtime's tensor fill
 * - inference: the model call (for a batch run as a loop, the loop's model time)
 * - postprocess: decoding, NMS and mapping boxes back to the image
 * - transfer: the rest of the runtime call (thread/process hand-off, waiting behind batch-mates)
 */
export type Stage = 'queue' | 'preprocess' | 'inference' | 'postprocess' | 'transfer';
export const STAGES: readonly Stage[] = ['queue', 'preprocess', 'inference', 'postprocess', 'transfer'];

export type StageTimes = Record<Stage, number>;

export interface LaneSnapshot {
  id: string;
  framesIn: number;
  processed: number;
  failed: number;
  dropped: Record<DropReason, number>;
  /** Per second since the lane opened (or stats were reset). */
  fpsIn: number;
  fps: number;
  /** Processed per second over the last 10 s. */
  recentFps: number;
  /** Arrival to result, ms. */
  latency: LatencySummary;
  stages: Record<Stage, LatencySummary>;
}

export interface StatsSnapshot {
  at: string;
  elapsedS: number;
  overall: LaneSnapshot;
  sources: LaneSnapshot[];
  requests: LaneSnapshot & { queued: number; busyRejected: number };
  batchSizes: Record<string, number>;
  meanBatch: number;
  batches: number;
  /** Batches inside the runtime / prepared and waiting for a runner, at snapshot time. */
  running: number;
  staged: number;
}

/** Counters and histograms for one source (or the requests, or everything): fixed memory. */
export class LaneStats {
  framesIn = 0;
  processed = 0;
  failed = 0;
  readonly dropped: Record<DropReason, number> = { replaced: 0, stale: 0, closed: 0 };
  readonly latency = new LatencyHistogram();
  readonly stages = Object.fromEntries(STAGES.map((s) => [s, new LatencyHistogram()])) as Record<Stage, LatencyHistogram>;
  private readonly recent = new RateMeter(10);
  since: number;

  constructor(readonly id: string, now = performance.now()) {
    this.since = now;
  }

  arrived(): void {
    this.framesIn++;
  }

  drop(reason: DropReason): void {
    this.dropped[reason]++;
  }

  fail(): void {
    this.failed++;
  }

  done(now: number, totalMs: number, stages: StageTimes): void {
    this.processed++;
    this.recent.mark(now);
    this.latency.record(totalMs);
    for (const s of STAGES) this.stages[s].record(stages[s]);
  }

  reset(now = performance.now()): void {
    this.framesIn = this.processed = this.failed = 0;
    for (const r of DROP_REASONS) this.dropped[r] = 0;
    this.latency.reset();
    for (const s of STAGES) this.stages[s].reset();
    this.recent.reset();
    this.since = now;
  }

  snapshot(now = performance.now()): LaneSnapshot {
    const seconds = Math.max(1e-3, (now - this.since) / 1000);
    return {
      id: this.id,
      framesIn: this.framesIn,
      processed: this.processed,
      failed: this.failed,
      dropped: { ...this.dropped },
      fpsIn: round(this.framesIn / seconds),
      fps: round(this.processed / seconds),
      recentFps: round(this.recent.rate(now, this.since)),
      latency: this.latency.summary(),
      stages: Object.fromEntries(STAGES.map((s) => [s, this.stages[s].summary()])) as Record<Stage, LatencySummary>,
    };
  }
}

export function totalDropped(lane: LaneSnapshot): number {
  return DROP_REASONS.reduce((n, r) => n + lane.dropped[r], 0);
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

/** One line for the plugin's console, logged every minute. */
export function formatSummary(s: StatsSnapshot): string {
  const o = s.overall;
  const drops = totalDropped(o);
  const reasons = DROP_REASONS.filter((r) => o.dropped[r]).map((r) => `${r} ${o.dropped[r]}`).join(', ');
  const st = o.stages;
  const worst = s.sources.length
    ? s.sources.reduce((a, b) => (b.fps < a.fps ? b : a))
    : undefined;
  return [
    `${s.sources.length} source(s) over ${s.elapsedS.toFixed(0)}s: ${o.fps.toFixed(1)} fps processed of ${o.fpsIn.toFixed(1)} in`,
    `dropped ${drops}${reasons ? ` (${reasons})` : ''}${o.failed ? `, failed ${o.failed}` : ''}`,
    `latency p50 ${ms(o.latency.p50)} p95 ${ms(o.latency.p95)} p99 ${ms(o.latency.p99)} ms`,
    `(queue ${ms(st.queue.p50)} / pre ${ms(st.preprocess.p50)} / infer ${ms(st.inference.p50)} / post ${ms(st.postprocess.p50)} / xfer ${ms(st.transfer.p50)} ms p50)`,
    `batch avg ${s.meanBatch.toFixed(2)}`,
    `requests ${s.requests.processed} done, ${s.requests.queued} queued, ${s.requests.busyRejected} busy`,
    ...(worst && s.sources.length > 1 ? [`slowest ${worst.id} ${worst.fps.toFixed(1)} fps`] : []),
  ].join(', ');
}

export { CountHistogram };
