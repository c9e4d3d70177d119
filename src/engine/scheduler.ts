import type { PreparedImage } from '../models/preprocess';
import type { InputSpec } from '../models/spec';
import { callsInFlight, type DecodeOptions, type FrameResult } from '../runtimes/runtime';
import { decideBatch, DEFAULT_BATCH, type BatchSettings } from './batching';
import { DEFAULT_DETECT_OPTIONS, type DetectOptions, type DetectionResult, type Detector } from './detector';
import { isPrepared, type DroppedFrame, type FrameInput, type Job } from './job';
import { RequestQueue, SchedulerClosedError } from './request-queue';
import { FrameSource } from './source';
import { CountHistogram, LaneStats, type DropReason, type StageTimes, type StatsSnapshot } from './stats';

export interface SchedulerOptions extends BatchSettings {
  /** Camera frames older than this (from capture, when the caller says when that was) are dropped. */
  maxAgeMs: number;
  /** API requests that may wait; one more is refused at once with SchedulerBusyError. */
  requestQueueLimit: number;
  /** Batches prepared ahead of a free runner, so decoding never leaves a runner idle. */
  prefetch: number;
  /** Decode options for camera frames that bring none. */
  detectOptions: DetectOptions;
}

export const DEFAULT_SCHEDULER_OPTIONS: SchedulerOptions = {
  ...DEFAULT_BATCH,
  maxAgeMs: 2_000,
  requestQueueLimit: 32,
  prefetch: 1,
  detectOptions: DEFAULT_DETECT_OPTIONS,
};

export interface FrameMeta {
  /** Capture time, ms since the epoch (Date.now() clock); the frame's age counts from it. */
  timestamp?: number;
  options?: DetectOptions;
}

/** A result plus where its time went, arrival to result. */
export interface ScheduledResult extends DetectionResult {
  latency: StageTimes & { totalMs: number };
}

type Lane = FrameSource | RequestQueue;

interface Batch {
  jobs: Job[];
  detector: Detector;
  preparedAt: number;
}

function sameInput(a: InputSpec, b: InputSpec): boolean {
  return a.width === b.width && a.height === b.height && a.resize === b.resize && a.placement === b.placement;
}

/**
 * One scheduler for every camera and API caller in front of one detector. Cameras are sources
 * with a keep-latest slot, API calls wait in a bounded FIFO; ready frames are taken round robin
 * into batches by the batching rule, prepared (decoded, and resized unless the runtime resizes)
 * while earlier batches run, and run with at most `callsInFlight(runtime.info)` model calls in
 * flight at once (`concurrency` runners, each holding up to `pipelineDepth` calls).
 */
export class DetectionScheduler {
  private options: SchedulerOptions;
  private current?: Detector;
  private readonly sources = new Map<string, FrameSource>();
  private readonly requests: RequestQueue;
  /** Round-robin order: the request queue is one lane among the cameras. */
  private lanes: Lane[] = [];
  private cursor = 0;
  private windowOpenedAt?: number;
  private windowTimer?: NodeJS.Timeout;
  private readonly staged: Batch[] = [];
  private preparing = 0;
  private running = 0;
  private readonly runningBy = new Map<Detector, number>();
  private drainWaiters: { detector?: Detector; resolve: () => void }[] = [];
  private readonly overall: LaneStats;
  private readonly batchSizes = new CountHistogram(64);
  private batches = 0;
  private statsSince = performance.now();
  private closed = false;

  constructor(options: Partial<SchedulerOptions> = {}, detector?: Detector) {
    this.options = { ...DEFAULT_SCHEDULER_OPTIONS, ...options };
    this.requests = new RequestQueue(this.options.requestQueueLimit);
    this.overall = new LaneStats('all');
    this.lanes.push(this.requests);
    this.current = detector;
  }

  get detector(): Detector | undefined {
    return this.current;
  }

  get settings(): Readonly<SchedulerOptions> {
    return this.options;
  }

  /** Changes batching, ages and limits live; frames already picked keep their batch. */
  configure(options: Partial<SchedulerOptions>): void {
    const limit = options.requestQueueLimit;
    this.options = { ...this.options, ...options };
    if (limit !== undefined) this.requests.limit = limit;
    this.pump();
  }

  /**
   * Swaps the model or runtime without losing work: batches already running finish on the old
   * detector, everything after goes to the new one (frames prepared for a different input size
   * are prepared again). Resolves when the old detector has drained, after closing it unless
   * `closePrevious` is false.
   */
  async setDetector(detector: Detector, { closePrevious = true } = {}): Promise<void> {
    const previous = this.current;
    this.current = detector;
    this.pump();
    if (!previous || previous === detector) return;
    await this.drained(previous);
    if (closePrevious) await previous.close();
  }

  openSource(id: string): void {
    if (this.closed) throw new SchedulerClosedError();
    if (this.sources.has(id)) return;
    const source = new FrameSource(id);
    this.sources.set(id, source);
    this.lanes.push(source);
  }

  /** Drops the waiting frame (counted `closed`); frames already running are still answered. */
  closeSource(id: string): void {
    const source = this.sources.get(id);
    if (!source) return;
    const job = source.take();
    if (job) this.drop(source, job, 'closed');
    this.sources.delete(id);
    const at = this.lanes.indexOf(source);
    this.lanes.splice(at, 1);
    if (this.cursor > at) this.cursor--;
  }

  hasSource(id: string): boolean {
    return this.sources.has(id);
  }

  /**
   * A camera frame. Never waits for inference: it takes the source's slot (opening the source on
   * first use), replacing a frame that has not started. Resolves with the result, or with
   * `{ dropped }` when a newer frame replaced it, it grew too old, or its source closed.
   */
  submitFrame(sourceId: string, input: FrameInput, meta: FrameMeta = {}): Promise<ScheduledResult | DroppedFrame> {
    if (this.closed) return Promise.reject(new SchedulerClosedError());
    if (!this.sources.has(sourceId)) this.openSource(sourceId);
    const source = this.sources.get(sourceId)!;
    const now = performance.now();
    const age = meta.timestamp === undefined ? 0 : Math.max(0, Date.now() - meta.timestamp);
    return new Promise((resolve, reject) => {
      const job: Job = {
        laneId: sourceId, input, options: meta.options ?? this.options.detectOptions,
        arrival: now, captured: now - age, resolve: resolve as Job['resolve'], reject,
      };
      source.stats.arrived();
      this.overall.arrived();
      if (age > this.options.maxAgeMs) {
        this.drop(source, job, 'stale');
        return;
      }
      const replaced = source.offer(job);
      if (replaced) this.drop(source, replaced, 'replaced');
      this.windowOpenedAt ??= now;
      this.pump();
    });
  }

  /**
   * An API request (detectObjects): queued first in first out and always answered, in order.
   * Rejects at once with SchedulerBusyError when the queue is full.
   */
  request(input: FrameInput, options: DetectOptions = DEFAULT_DETECT_OPTIONS): Promise<ScheduledResult> {
    if (this.closed) return Promise.reject(new SchedulerClosedError());
    const now = performance.now();
    return new Promise((resolve, reject) => {
      const job: Job = {
        laneId: this.requests.id, isRequest: true, input, options, arrival: now, captured: now,
        resolve: resolve as Job['resolve'], reject,
      };
      this.requests.push(job); // throws SchedulerBusyError, which rejects this promise
      this.requests.stats.arrived();
      this.overall.arrived();
      this.windowOpenedAt ??= now;
      this.pump();
    });
  }

  stats(): StatsSnapshot {
    const now = performance.now();
    const requests = this.requests.stats.snapshot(now);
    return {
      at: new Date().toISOString(),
      elapsedS: Math.round((now - this.statsSince) / 10) / 100,
      overall: this.overall.snapshot(now),
      sources: [...this.sources.values()].map((s) => s.stats.snapshot(now)),
      requests: { ...requests, queued: this.requests.length, busyRejected: this.requests.busyRejected },
      batchSizes: this.batchSizes.toJSON(),
      meanBatch: Math.round(this.batchSizes.mean() * 100) / 100,
      batches: this.batches,
      running: this.running,
      staged: this.staged.length + this.preparing,
    };
  }

  resetStats(): void {
    const now = performance.now();
    this.statsSince = now;
    this.overall.reset(now);
    this.requests.stats.reset(now);
    this.requests.busyRejected = 0;
    for (const s of this.sources.values()) s.stats.reset(now);
    this.batchSizes.reset();
    this.batches = 0;
  }

  /**
   * Stops taking frames: waiting frames are dropped (`closed`), queued requests fail with
   * SchedulerClosedError, batches already picked are finished. Closes the detector unless told not to.
   */
  async close({ closeDetector = true } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.windowTimer) clearTimeout(this.windowTimer);
    for (const id of [...this.sources.keys()]) this.closeSource(id);
    for (const job of this.requests.drain()) job.reject(new SchedulerClosedError('detector scheduler closed before this request ran'));
    await this.drained();
    if (closeDetector) await this.current?.close();
  }

  // ---- dispatch ------------------------------------------------------------------------------

  /** Model calls kept in flight: every runner busy, plus the next call waiting in it where the runtime pipelines. */
  private get runners(): number {
    const info = this.current?.runtime.info;
    return info ? Math.max(1, callsInFlight(info)) : 1;
  }

  /** Runners of the current detector in use (a detector being swapped out has its own). */
  private get busyRunners(): number {
    return this.current ? this.runningBy.get(this.current) ?? 0 : 0;
  }

  private drop(source: FrameSource, job: Job, reason: DropReason): void {
    source.stats.drop(reason);
    this.overall.drop(reason);
    job.resolve({ dropped: reason });
  }

  /** Drops frames that have waited past the maximum age; returns how many are ready. */
  private sweep(now: number): number {
    let ready = this.requests.length;
    const oldest = now - this.options.maxAgeMs;
    for (const source of this.sources.values()) {
      const job = source.peek();
      if (!job) continue;
      if (job.captured < oldest) this.drop(source, source.take()!, 'stale');
      else ready++;
    }
    return ready;
  }

  /** Takes up to `n` jobs round robin across lanes, starting after the lane served last. */
  private pick(n: number): Job[] {
    const jobs: Job[] = [];
    let took = true;
    while (jobs.length < n && took && this.lanes.length) {
      took = false;
      for (let k = 0; k < this.lanes.length && jobs.length < n; k++) {
        const at = (this.cursor + k) % this.lanes.length;
        const job = this.lanes[at].take();
        if (!job) continue;
        jobs.push(job);
        took = true;
        this.cursor = (at + 1) % this.lanes.length;
        // Restart the scan from the new cursor so the order stays a strict rotation.
        break;
      }
    }
    return jobs;
  }

  /** `windowClosed`: called by the window's timer, which closes the window it was set for. */
  private pump(windowClosed = false): void {
    if (!this.current) return;
    if (this.closed) {
      this.dispatch(); // batches already picked are still answered
      return;
    }
    const now = performance.now();
    let ready = this.sweep(now);
    if (!ready) this.windowOpenedAt = undefined;
    while (ready > 0 && this.busyRunners + this.staged.length + this.preparing < this.runners + this.options.prefetch) {
      const decision = decideBatch(this.options, ready, this.windowOpenedAt, now, windowClosed);
      if ('waitMs' in decision) {
        this.armWindow(decision.waitMs);
        return;
      }
      const jobs = this.pick(decision.take);
      if (!jobs.length) break;
      windowClosed = false; // the frames left over open a window of their own
      ready -= jobs.length;
      // The frames left over start the next window, which counts from the oldest of them.
      this.windowOpenedAt = ready > 0 ? this.oldestWaiting() : undefined;
      if (this.windowTimer) {
        clearTimeout(this.windowTimer);
        this.windowTimer = undefined;
      }
      void this.prepareBatch(jobs, this.current, now);
    }
    this.dispatch();
  }

  private oldestWaiting(): number | undefined {
    let oldest: number | undefined;
    for (const lane of this.lanes) {
      const since = lane.waitingSince;
      if (since !== undefined && (oldest === undefined || since < oldest)) oldest = since;
    }
    return oldest;
  }

  private armWindow(ms: number): void {
    if (this.windowTimer) return;
    this.windowTimer = setTimeout(() => {
      this.windowTimer = undefined;
      this.pump(true);
    }, Math.max(0, Math.ceil(ms)));
  }

  private async prepareOne(job: Job, detector: Detector): Promise<void> {
    const started = performance.now();
    let input = job.input;
    if (typeof input === 'function') input = job.input = await input();
    let prepared: PreparedImage;
    if (isPrepared(input)) {
      prepared = input;
    } else {
      prepared = await detector.prepare(input);
    }
    job.prepared = prepared;
    job.prepareMs = (job.prepareMs ?? 0) + (performance.now() - started);
  }

  private async prepareBatch(jobs: Job[], detector: Detector, pickedAt: number): Promise<void> {
    this.preparing++;
    for (const job of jobs) job.picked ??= pickedAt;
    const outcomes = await Promise.allSettled(jobs.map((job) => this.prepareOne(job, detector)));
    this.preparing--;
    const ok: Job[] = [];
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') ok.push(jobs[i]);
      else this.fail(jobs[i], outcome.reason as Error);
    });
    if (ok.length) this.staged.push({ jobs: ok, detector, preparedAt: performance.now() });
    this.pump();
    this.notifyDrained();
  }

  private dispatch(): void {
    while (this.staged.length && this.current && this.busyRunners < this.runners) {
      const batch = this.staged.shift()!;
      const detector = this.current;
      if (batch.detector !== detector && !sameInput(batch.detector.spec.input, detector.spec.input)) {
        // Hot swap to a model with another input: prepare these frames again for it.
        const raw: Job[] = [];
        for (const job of batch.jobs) {
          if (typeof job.input !== 'function' && isPrepared(job.input)) this.fail(job, new Error('frame was prepared for a model that has since been replaced'));
          else raw.push(job);
        }
        if (raw.length) void this.prepareBatch(raw, detector, performance.now());
        continue;
      }
      void this.run(batch, detector);
    }
  }

  private async run(batch: Batch, detector: Detector): Promise<void> {
    this.running++;
    this.runningBy.set(detector, (this.runningBy.get(detector) ?? 0) + 1);
    const { jobs } = batch;
    this.batches++;
    this.batchSizes.record(jobs.length);
    const decode = this.decodeOptions(jobs);
    const sent = performance.now();
    let results: FrameResult[] | undefined;
    let error: Error | undefined;
    try {
      results = await detector.runtime.detect(jobs.map((j) => j.prepared!.frame), decode);
    } catch (e) {
      error = e instanceof Error ? e : new Error(String(e));
    }
    const returned = performance.now();
    this.running--;
    const left = this.runningBy.get(detector)! - 1;
    if (left) this.runningBy.set(detector, left);
    else this.runningBy.delete(detector);
    if (error || !results) {
      for (const job of jobs) this.fail(job, error ?? new Error('runtime returned no results'));
    } else {
      jobs.forEach((job, i) => this.complete(job, detector, results[i], sent, returned, batch.preparedAt));
    }
    this.notifyDrained();
    this.pump();
  }

  /** One decode for the whole batch: the loosest of its frames' options, tightened per frame after. */
  private decodeOptions(jobs: Job[]): DecodeOptions {
    const first = jobs[0].options;
    let confidence = first.confidence;
    let maxDetections = first.maxDetections;
    for (const j of jobs) {
      confidence = Math.min(confidence, j.options.confidence);
      maxDetections = Math.max(maxDetections, j.options.maxDetections);
    }
    return { confidence, iou: first.iou, maxDetections };
  }

  private complete(job: Job, detector: Detector, raw: FrameResult, sent: number, returned: number, preparedAt: number): void {
    const lane = this.laneOf(job);
    const prepared = job.prepared!;
    const finishStarted = performance.now();
    let result: DetectionResult;
    try {
      result = detector.finish(prepared.placement, raw, job.prepareMs ?? prepared.decodeMs, job.options);
    } catch (e) {
      this.fail(job, e as Error);
      return;
    }
    const { confidence, maxDetections } = job.options;
    let detections = result.detections.filter((d) => d.score >= confidence);
    if (detections.length > maxDetections) detections = detections.sort((a, b) => b.score - a.score).slice(0, maxDetections);
    const now = performance.now();
    const t = raw.timings;
    const times: StageTimes = {
      queue: (job.picked! - job.arrival) + Math.max(0, sent - preparedAt),
      preprocess: (job.prepareMs ?? 0) + t.tensorMs,
      inference: t.inferenceMs,
      postprocess: t.postprocessMs + (now - finishStarted),
      transfer: Math.max(0, returned - sent - t.tensorMs - t.inferenceMs - t.postprocessMs),
    };
    const totalMs = now - job.arrival;
    lane?.stats.done(now, totalMs, times);
    this.overall.done(now, totalMs, times);
    const answer: ScheduledResult = { ...result, detections, latency: { ...times, totalMs } };
    job.resolve(answer);
  }

  private laneOf(job: Job): Lane | undefined {
    return job.isRequest ? this.requests : this.sources.get(job.laneId);
  }

  private fail(job: Job, error: Error): void {
    const lane = this.laneOf(job);
    lane?.stats.fail();
    this.overall.fail();
    job.reject(error);
  }

  /** Resolves when nothing is running (on `detector`, or at all) and nothing is being prepared. */
  private drained(detector?: Detector): Promise<void> {
    if (this.isDrained(detector)) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push({ detector, resolve }));
  }

  private isDrained(detector?: Detector): boolean {
    if (detector) return !(this.runningBy.get(detector) ?? 0);
    return this.running === 0 && this.preparing === 0 && this.staged.length === 0;
  }

  private notifyDrained(): void {
    if (!this.drainWaiters.length) return;
    this.drainWaiters = this.drainWaiters.filter((w) => {
      if (!this.isDrained(w.detector)) return true;
      w.resolve();
      return false;
    });
  }
}

