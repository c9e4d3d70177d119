import { describe, expect, it } from 'vitest';
import { decideBatch } from '../../src/engine/batching';
import { LatencySamples } from '../../src/engine/bench/samples';
import { CountHistogram, LatencyHistogram, RateMeter } from '../../src/engine/histogram';
import { formatSummary, LaneStats } from '../../src/engine/stats';
import { DetectionScheduler } from '../../src/engine/scheduler';
import { FakeRuntime, fakeDetector } from './fake-runtime';

describe('benchmark latency samples', () => {
  it('gives exact percentiles, interpolated between samples like numpy', () => {
    const s = new LatencySamples();
    expect(s.quantile(0.5)).toBe(0);
    expect(s.summary()).toEqual({ count: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 });
    // Recorded out of order: 17.9 and 18.25 lie in the same 2% histogram bucket, their median does not.
    for (const v of [18.25, 17.9, 18.1, 17.95]) s.record(v);
    expect(s.quantile(0.5)).toBeCloseTo(18.025, 9);
    expect(s.quantile(0)).toBe(17.9);
    expect(s.quantile(1)).toBe(18.25);
    expect(s.quantile(0.95)).toBeCloseTo(18.1 + 0.85 * 0.15, 9);
    s.record(20);
    s.record(NaN);
    s.record(-1);
    expect(s.count).toBe(7);
    expect(s.summary()).toEqual({ count: 7, mean: 13.17, p50: 17.95, p95: 19.47, p99: 19.9, max: 20 });
  });
});

describe('latency histogram', () => {
  it('answers percentiles within 2% from fixed memory', () => {
    const h = new LatencyHistogram();
    for (let v = 1; v <= 1000; v++) h.record(v);
    expect(h.count).toBe(1000);
    expect(h.mean).toBeCloseTo(500.5, 6);
    expect(Math.abs(h.quantile(0.5) - 500) / 500).toBeLessThan(0.02);
    expect(Math.abs(h.quantile(0.95) - 950) / 950).toBeLessThan(0.02);
    expect(Math.abs(h.quantile(0.99) - 990) / 990).toBeLessThan(0.02);
    expect(h.quantile(1)).toBe(1000);
    expect(h.summary().max).toBe(1000);
  });

  it('clamps to what was seen and survives odd values', () => {
    const h = new LatencyHistogram();
    expect(h.quantile(0.5)).toBe(0);
    h.record(12.3);
    expect(h.quantile(0.5)).toBe(12.3);
    h.record(-5);
    h.record(NaN);
    h.record(1e9);
    expect(h.count).toBe(4);
    expect(h.max).toBe(1e9);
    h.reset();
    expect(h.summary()).toEqual({ count: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  });

  it('counts batch sizes', () => {
    const c = new CountHistogram(8);
    [1, 1, 2, 4, 4, 4, 20].forEach((v) => c.record(v));
    expect(c.toJSON()).toEqual({ 1: 2, 2: 1, 4: 3, '8+': 1 });
    expect(c.mean()).toBeCloseTo((1 + 1 + 2 + 12 + 8) / 7, 6);
  });

  it('measures a rate over the last seconds', () => {
    const r = new RateMeter(10);
    for (let t = 0; t < 20_000; t += 100) r.mark(t); // 10 per second
    expect(r.rate(20_000)).toBeCloseTo(10, 6);
    expect(r.rate(40_000)).toBe(0); // long idle: the ring has expired
  });
});

describe('lane stats', () => {
  it('adds up frames, drops, fps and stage times', () => {
    const s = new LaneStats('cam', 0);
    for (let i = 0; i < 10; i++) s.arrived();
    s.drop('replaced');
    s.drop('replaced');
    s.drop('stale');
    s.fail();
    for (let i = 0; i < 6; i++) s.done(1000 + i, 20 + i, { queue: 5, preprocess: 2, inference: 10, postprocess: 1, transfer: 2 + i });
    const snap = s.snapshot(2000);
    expect(snap).toMatchObject({ framesIn: 10, processed: 6, failed: 1, dropped: { replaced: 2, stale: 1, closed: 0 }, fpsIn: 5, fps: 3 });
    expect(snap.framesIn).toBe(snap.processed + snap.failed + snap.dropped.replaced + snap.dropped.stale);
    expect(snap.latency.mean).toBeCloseTo(22.5, 2);
    expect(snap.stages.inference.p50).toBeCloseTo(10, 0);
    expect(snap.stages.queue.max).toBe(5);
  });

  it('formats one line and a JSON snapshot from a scheduler', async () => {
    const rt = new FakeRuntime(1, 1, 1);
    const s = new DetectionScheduler({}, fakeDetector(rt));
    const frame = { frame: { pixels: new Uint8Array(0), width: 4, height: 4, offsetX: 0, offsetY: 0 },
      placement: { srcWidth: 4, srcHeight: 4, width: 4, height: 4, offsetX: 0, offsetY: 0, scaleX: 1, scaleY: 1 }, decodeMs: 0 };
    await Promise.all([s.submitFrame('a', frame), s.submitFrame('b', frame), s.request(frame)]);
    const snap = s.stats();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(snap.overall.processed).toBe(3);
    expect(snap.requests.processed).toBe(1);
    const line = formatSummary(snap);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/2 source\(s\).*fps processed.*latency p50 .* p95 .* p99 .*batch avg 1\.00.*requests 1 done/);
    await s.close();
  });
});

describe('decideBatch', () => {
  const w = { mode: 'window' as const, maxBatch: 4, windowMs: 20 };
  it('follows each mode rule', () => {
    expect(decideBatch({ ...w, mode: 'none' }, 5, 0, 0)).toEqual({ take: 1 });
    expect(decideBatch({ ...w, mode: 'list' }, 5, 0, 0)).toEqual({ take: 4 });
    expect(decideBatch({ ...w, mode: 'list' }, 2, 0, 0)).toEqual({ take: 2 });
    expect(decideBatch(w, 0, undefined, 0)).toEqual({ take: 0 });
    expect(decideBatch(w, 2, 100, 105)).toEqual({ waitMs: 15 });
    expect(decideBatch(w, 2, 100, 119.6, true)).toEqual({ take: 2 }); // its timer fired: the window is closed
    expect(decideBatch({ ...w, mode: 'none' }, 5, 0, 0, true)).toEqual({ take: 1 });
    expect(decideBatch(w, 2, 100, 120)).toEqual({ take: 2 });
    expect(decideBatch(w, 6, 100, 101)).toEqual({ take: 4 });
  });
});
