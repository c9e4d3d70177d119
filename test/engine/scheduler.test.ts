import { describe, expect, it, vi } from 'vitest';
import { isDropped } from '../../src/engine/job';
import { SchedulerBusyError, SchedulerClosedError } from '../../src/engine/request-queue';
import { DetectionScheduler, type ScheduledResult } from '../../src/engine/scheduler';
import { detectStream } from '../../src/engine/stream';
import { FakeRuntime, fakeDetector, frame, settle, tags } from './fake-runtime';

function scheduler(runtime: FakeRuntime, options: ConstructorParameters<typeof DetectionScheduler>[0] = {}) {
  return new DetectionScheduler({ prefetch: 0, ...options }, fakeDetector(runtime));
}

describe('keep-latest sources', () => {
  it('replaces a frame that has not started and counts it dropped', async () => {
    const rt = new FakeRuntime(1);
    const s = scheduler(rt);
    const first = s.submitFrame('cam', frame(1)); // starts at once
    await settle();
    const second = s.submitFrame('cam', frame(2));
    const third = s.submitFrame('cam', frame(3)); // replaces 2
    await expect(second).resolves.toEqual({ dropped: 'replaced' });
    rt.finishNext();
    await settle();
    rt.finishNext();
    const [a, c] = (await Promise.all([first, third])) as ScheduledResult[];
    expect(a.inputDimensions).toEqual([1, 1]);
    expect(c.inputDimensions).toEqual([3, 1]);
    expect(rt.batches.map(tags)).toEqual([[1], [3]]);
    const st = s.stats();
    expect(st.overall.framesIn).toBe(3);
    expect(st.overall.processed).toBe(2);
    expect(st.overall.dropped.replaced).toBe(1);
    expect(st.sources[0]).toMatchObject({ id: 'cam', framesIn: 3, processed: 2 });
  });

  it('never makes the caller wait: submitFrame returns while the runner is busy', async () => {
    const rt = new FakeRuntime(1);
    const s = scheduler(rt);
    const answers = Array.from({ length: 50 }, (_, i) => s.submitFrame('cam', frame(i + 1)));
    await settle();
    expect(rt.batches.length).toBe(1);
    rt.finishNext();
    await settle();
    rt.finishNext();
    const all = await Promise.all(answers);
    expect(all.filter(isDropped).length).toBe(48);
    expect(rt.batches.map(tags)).toEqual([[1], [50]]);
  });

  it('drops frames older than the maximum age, at arrival and while waiting', async () => {
    const rt = new FakeRuntime(1);
    const s = scheduler(rt, { maxAgeMs: 30 });
    await expect(s.submitFrame('cam', frame(1), { timestamp: Date.now() - 1000 })).resolves.toEqual({ dropped: 'stale' });
    const running = s.submitFrame('cam', frame(2));
    await settle();
    const waiting = s.submitFrame('other', frame(3));
    await new Promise((r) => setTimeout(r, 60));
    rt.finishNext();
    await expect(waiting).resolves.toEqual({ dropped: 'stale' });
    await expect(running).resolves.toMatchObject({ inputDimensions: [2, 1] });
    expect(s.stats().overall.dropped.stale).toBe(2);
  });

  it('closing a source drops its waiting frame but answers the running one', async () => {
    const rt = new FakeRuntime(1);
    const s = scheduler(rt);
    const running = s.submitFrame('cam', frame(1));
    await settle();
    const waiting = s.submitFrame('cam', frame(2));
    s.closeSource('cam');
    await expect(waiting).resolves.toEqual({ dropped: 'closed' });
    rt.finishNext();
    await expect(running).resolves.toMatchObject({ inputDimensions: [1, 1] });
    expect(s.hasSource('cam')).toBe(false);
  });
});

describe('round robin', () => {
  it('serves every camera in turn so none starves', async () => {
    const rt = new FakeRuntime(1);
    const s = scheduler(rt);
    const cams = ['a', 'b', 'c', 'd'];
    // Every camera always has a frame waiting; the runner takes one at a time.
    for (let round = 0; round < 40; round++) {
      cams.forEach((c, i) => void s.submitFrame(c, frame(i + 1)));
      await settle();
      if (rt.waiting) rt.finishNext();
      await settle();
    }
    const per = s.stats().sources.map((x) => x.processed);
    expect(Math.min(...per)).toBeGreaterThanOrEqual(9);
    expect(Math.max(...per) - Math.min(...per)).toBeLessThanOrEqual(1);
  });

  it('interleaves API requests with camera frames', async () => {
    const rt = new FakeRuntime(1);
    const s = scheduler(rt);
    void s.submitFrame('a', frame(1));
    await settle();
    const requests = [10, 11, 12].map((t) => s.request(frame(t)));
    void s.submitFrame('a', frame(2));
    for (let i = 0; i < 5; i++) {
      await settle();
      if (rt.waiting) rt.finishNext();
    }
    await Promise.all(requests);
    const order = rt.batches.map(tags).flat();
    expect(order[0]).toBe(1);
    // Camera a's second frame is not stuck behind all three requests.
    expect(order.indexOf(2)).toBeLessThan(order.indexOf(12));
  });
});

describe('batch modes', () => {
  it('none: at most `concurrency` single-frame runs in flight', async () => {
    const rt = new FakeRuntime(2, 8);
    const s = scheduler(rt, { mode: 'none', maxBatch: 8 });
    ['a', 'b', 'c', 'd', 'e'].forEach((c, i) => void s.submitFrame(c, frame(i + 1)));
    await settle();
    expect(rt.batches.map(tags)).toEqual([[1], [2]]);
    rt.finishNext();
    await settle();
    expect(rt.batches.length).toBe(3);
    expect(rt.batches.every((b) => b.length === 1)).toBe(true);
    expect(rt.maxInFlight).toBe(2);
  });

  it('list: a free runner takes every ready frame up to max batch', async () => {
    const rt = new FakeRuntime(1, 8);
    const s = scheduler(rt, { mode: 'list', maxBatch: 3 });
    void s.submitFrame('a', frame(1));
    await settle();
    ['b', 'c', 'd', 'e', 'f'].forEach((c, i) => void s.submitFrame(c, frame(i + 2)));
    await settle();
    expect(rt.batches.map(tags)).toEqual([[1]]);
    rt.finishNext();
    await settle();
    expect(rt.batches[1]).toHaveLength(3);
    rt.finishNext();
    await settle();
    expect(rt.batches[2]).toHaveLength(2);
    expect(s.stats().batchSizes).toEqual({ 1: 1, 2: 1, 3: 1 });
  });

  it('window: the batch waits for the window, then leaves with what it has', async () => {
    const rt = new FakeRuntime(1, 8);
    const s = scheduler(rt, { mode: 'window', maxBatch: 4, windowMs: 40 });
    void s.submitFrame('a', frame(1));
    await settle();
    expect(rt.batches.length).toBe(0); // window open
    void s.submitFrame('b', frame(2));
    await new Promise((r) => setTimeout(r, 120));
    expect(rt.batches.map(tags)).toEqual([[1, 2]]);
  });

  it('window: closes when its timer fires, without a second timer for what the clock says is left', async () => {
    // Timers faked, performance.now() real: the window's timer fires while the clock says almost
    // nothing has passed, as a real one may fire a fraction of a millisecond early (whole-ms timers
    // on a cached clock). Re-arming would hold the frame a further millisecond or more.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const rt = new FakeRuntime(1, 8);
      const s = scheduler(rt, { mode: 'window', maxBatch: 4, windowMs: 40 });
      void s.submitFrame('a', frame(1));
      await settle();
      vi.advanceTimersByTime(39);
      await settle();
      expect(rt.batches.length).toBe(0); // window open
      void s.submitFrame('b', frame(2));
      vi.advanceTimersByTime(1);
      await settle();
      expect(rt.batches.map(tags)).toEqual([[1, 2]]);
      // The frame after it opens a window of its own: the timer that closed the last one does not close it.
      void s.submitFrame('c', frame(3));
      await settle();
      rt.finishNext();
      await settle();
      expect(rt.batches.length).toBe(1);
      vi.advanceTimersByTime(40);
      await settle();
      expect(rt.batches.map(tags)).toEqual([[1, 2], [3]]);
      rt.finishNext();
      await s.close({ closeDetector: false });
    } finally {
      vi.useRealTimers();
    }
  });

  it('window: leaves at once when it holds max batch; the next fills while one runs', async () => {
    const rt = new FakeRuntime(1, 8);
    const s = scheduler(rt, { mode: 'window', maxBatch: 2, windowMs: 10_000 });
    void s.submitFrame('a', frame(1));
    void s.submitFrame('b', frame(2));
    await settle();
    expect(rt.batches.map(tags)).toEqual([[1, 2]]);
    void s.submitFrame('c', frame(3));
    void s.submitFrame('d', frame(4));
    void s.submitFrame('e', frame(5));
    await settle();
    expect(rt.batches.length).toBe(1); // runner busy: the next batch fills
    rt.finishNext();
    await settle();
    expect(rt.batches.map(tags)[1]).toHaveLength(2);
    rt.finishNext();
    await settle();
    // One frame left and a 10 s window: it waits.
    expect(rt.batches.length).toBe(2);
    await s.close({ closeDetector: false });
  });

  it('a replaced frame does not extend the window', async () => {
    const rt = new FakeRuntime(1, 8);
    const s = scheduler(rt, { mode: 'window', maxBatch: 4, windowMs: 60 });
    const started = performance.now();
    const timer = setInterval(() => void s.submitFrame('fast', frame(7)), 5);
    while (!rt.batches.length && performance.now() - started < 2000) await new Promise((r) => setTimeout(r, 5));
    clearInterval(timer);
    expect(rt.batches.length).toBe(1);
    expect(performance.now() - started).toBeLessThan(1500);
    rt.finishNext();
    await s.close({ closeDetector: false });
  });

  it('prefetch prepares the next batch while all runners are busy, within the limit', async () => {
    const rt = new FakeRuntime(1);
    const s = new DetectionScheduler({ prefetch: 1 }, fakeDetector(rt));
    ['a', 'b', 'c'].forEach((c, i) => void s.submitFrame(c, frame(i + 1)));
    await settle();
    const st = s.stats();
    expect(st.running).toBe(1);
    expect(st.staged).toBe(1);
    expect(st.sources.filter((x) => x.framesIn).length).toBe(3);
    rt.finishNext();
    await settle();
    expect(rt.batches.map(tags)).toEqual([[1], [2]]);
  });
});

describe('requests', () => {
  it('answers in order and refuses past the bound with a busy error', async () => {
    const rt = new FakeRuntime(2);
    const s = scheduler(rt, { requestQueueLimit: 3 });
    const answered: number[] = [];
    const ok = [1, 2, 3, 4, 5].map((t) => s.request(frame(t)).then((r) => answered.push(r.inputDimensions[0])));
    // Two run at once, three queue; the sixth finds the queue full.
    await settle();
    const busy = s.request(frame(6));
    await expect(busy).rejects.toBeInstanceOf(SchedulerBusyError);
    await expect(busy).rejects.toThrow(/busy/);
    // Finish the second before the first: answers still come in order.
    rt.finishNext();
    rt.finishNext();
    for (let i = 0; i < 6; i++) {
      await settle();
      while (rt.waiting) rt.finishNext();
    }
    await Promise.all(ok);
    expect(answered).toEqual([1, 2, 3, 4, 5]);
    expect(s.stats().requests).toMatchObject({ processed: 5, busyRejected: 1, queued: 0 });
  });

  it('a runtime failure rejects only that batch; the scheduler carries on', async () => {
    const rt = new FakeRuntime(1);
    const s = scheduler(rt);
    const bad = s.request(frame(1));
    const good = s.request(frame(2));
    await settle();
    rt.failNext(new Error('worker crashed'));
    await expect(bad).rejects.toThrow('worker crashed');
    await settle();
    rt.finishNext();
    await expect(good).resolves.toMatchObject({ inputDimensions: [2, 1] });
    expect(s.stats().overall.failed).toBe(1);
  });

  it('close fails queued requests, answers running ones, and refuses new work', async () => {
    const rt = new FakeRuntime(1);
    const s = scheduler(rt);
    const running = s.request(frame(1));
    await settle();
    const queued = s.request(frame(2));
    const closing = s.close();
    rt.finishNext();
    // Answers stay in order: the queued request's refusal follows the running one's result.
    await expect(queued).rejects.toBeInstanceOf(SchedulerClosedError);
    await closing;
    await expect(running).resolves.toMatchObject({ inputDimensions: [1, 1] });
    await expect(s.request(frame(3))).rejects.toBeInstanceOf(SchedulerClosedError);
    expect(rt.closed).toBe(true);
  });
});

describe('hot swap', () => {
  it('in-flight batches finish on the old runtime, later ones go to the new', async () => {
    const oldRt = new FakeRuntime(1);
    const newRt = new FakeRuntime(1);
    const s = scheduler(oldRt);
    const first = s.submitFrame('cam', frame(1));
    await settle();
    const swapped = s.setDetector(fakeDetector(newRt));
    const second = s.submitFrame('cam', frame(2));
    await settle();
    expect(newRt.batches.map(tags)).toEqual([[2]]);
    expect(oldRt.closed).toBe(false);
    oldRt.finishNext();
    newRt.finishNext();
    await swapped;
    expect(oldRt.closed).toBe(true);
    await expect(first).resolves.toMatchObject({ inputDimensions: [1, 1] });
    await expect(second).resolves.toMatchObject({ inputDimensions: [2, 1] });
  });
});

describe('detectStream with a fake runtime', () => {
  it('keeps frame order even when conversions finish out of order, and skips replaced frames', async () => {
    const rt = new FakeRuntime(1, 1, 20);
    const s = scheduler(rt);
    async function* frames() {
      for (let i = 1; i <= 30; i++) yield i;
    }
    const seen: number[] = [];
    for await (const { frame: f, result } of detectStream(s, frames(), {
      // Earlier frames convert slower than later ones.
      toInput: async (i: number) => {
        await new Promise((r) => setTimeout(r, i % 2 ? 8 : 1));
        return frame(i);
      },
    })) {
      expect(result.inputDimensions[0]).toBe(f);
      seen.push(f);
    }
    expect(seen.at(-1)).toBe(30);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen.length).toBeLessThan(30);
    const st = s.stats();
    expect(st.overall.framesIn).toBe(30);
    expect(st.overall.processed + st.overall.dropped.replaced).toBe(30);
    expect(st.sources).toHaveLength(0); // the stream's source closed at the end
  });
});
