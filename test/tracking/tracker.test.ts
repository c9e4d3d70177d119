import { describe, expect, it } from 'vitest';
import { Tracker, type TrackInput } from '../../src/engine/tracker';

const person = (x: number, y: number, w = 40, h = 100, score = 0.8): TrackInput => ({ className: 'person', score, boundingBox: [x, y, w, h] });

describe('Tracker', () => {
  it('keeps one id on an object moving steadily, and reports only once confirmed', () => {
    const tracker = new Tracker({ minHits: 2 });
    const ids = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const out = tracker.update([person(10 + i * 12, 50)], i * 100);
      if (i === 0) expect(out).toEqual([]);
      else {
        expect(out).toHaveLength(1);
        ids.add(out[0].id);
        expect(out[0].history).toEqual({ firstSeen: 0, lastSeen: i * 100 });
      }
    }
    expect([...ids]).toEqual(['1']);
  });

  it('follows a fast object whose boxes no longer overlap, thanks to the velocity prediction', () => {
    // 45 px per frame for a 40 px wide box: IoU between consecutive boxes is 0.
    const tracker = new Tracker({ maxCentreDistance: 0 });
    const ids = new Set<string>();
    // It starts slowly (the first two sightings have no velocity to predict with), then speeds up.
    for (let i = 0; i < 3; i++) tracker.update([person(10 + i * 10, 50)], i * 100);
    let x = 30;
    for (let i = 3; i < 20; i++) {
      x += Math.min(45, 10 + (i - 2) * 8);
      const out = tracker.update([person(x, 50)], i * 100);
      expect(out).toHaveLength(1);
      ids.add(out[0].id);
    }
    expect(ids.size).toBe(1);
  });

  it('keeps two objects crossing paths apart', () => {
    const tracker = new Tracker();
    const a: string[] = [];
    const b: string[] = [];
    for (let i = 0; i < 40; i++) {
      // Two persons on different rows so they overlap only partly when passing.
      const out = tracker.update([person(20 + i * 10, 50), person(420 - i * 10, 90)], i * 100);
      for (const d of out) (d.boundingBox[1] === 50 ? a : b).push(d.id);
    }
    expect(new Set(a).size).toBe(1);
    expect(new Set(b).size).toBe(1);
    expect(a[0]).not.toBe(b[0]);
  });

  it('associates per class only', () => {
    const tracker = new Tracker({ minHits: 1 });
    const [p] = tracker.update([person(10, 10)], 0);
    const [c] = tracker.update([{ className: 'car', score: 0.9, boundingBox: [10, 10, 40, 100] }], 100);
    expect(c.id).not.toBe(p.id);
  });

  it('survives a short gap and ends a track after maxUnseenMs', () => {
    const tracker = new Tracker({ maxUnseenMs: 1000 });
    tracker.update([person(100, 100)], 0);
    const [first] = tracker.update([person(102, 100)], 100);
    expect(tracker.update([], 600)).toEqual([]);
    const [again] = tracker.update([person(104, 100)], 1000);
    expect(again.id).toBe(first.id);
    tracker.update([], 1500);
    tracker.update([], 2100); // unseen 1100 ms > 1000
    expect(tracker.stats).toMatchObject({ active: 0, ended: 1 });
    tracker.update([person(104, 100)], 2200);
    const [fresh] = tracker.update([person(104, 100)], 2300);
    expect(fresh.id).not.toBe(first.id);
  });

  it('drops a tentative track at its first miss (flicker never gets an id)', () => {
    const tracker = new Tracker({ minHits: 3 });
    tracker.update([person(10, 10)], 0);
    tracker.update([person(10, 10)], 100);
    tracker.update([], 200);
    tracker.update([person(10, 10)], 300);
    expect(tracker.update([person(10, 10)], 400)).toEqual([]);
    expect(tracker.stats.created).toBe(0);
  });

  it('marks moving and still objects, with Scrypted movement times', () => {
    const tracker = new Tracker({ minHits: 1, movingThreshold: 0.25, movingWindowMs: 1000 });
    let walker;
    let sitter;
    for (let i = 0; i <= 20; i++) {
      const out = tracker.update([person(10 + i * 8, 50), person(500 + (i % 2), 300)], i * 100);
      walker = out.find((d) => d.boundingBox[1] === 50)!;
      sitter = out.find((d) => d.boundingBox[1] === 300)!;
    }
    expect(walker!.movement.moving).toBe(true);
    expect(walker!.movement.lastSeen).toBe(2000);
    expect(walker!.movement.firstSeen).toBeGreaterThan(0);
    expect(sitter!.movement).toEqual({ moving: false, firstSeen: 0, lastSeen: 0 });
  });

  it('keepAlive repeats the last result with fresh lastSeen and ends nothing', () => {
    const tracker = new Tracker({ maxUnseenMs: 500 });
    tracker.update([person(10, 10)], 0);
    const [d] = tracker.update([person(10, 10)], 100);
    let out = [d];
    for (let t = 200; t <= 3000; t += 100) out = tracker.keepAlive(t);
    expect(out).toHaveLength(1);
    expect(out[0].id).toBe(d.id);
    expect(out[0].history).toEqual({ firstSeen: 0, lastSeen: 3000 });
    const [after] = tracker.update([person(11, 10)], 3100);
    expect(after.id).toBe(d.id);
  });

  it('keepAlive counts as a hit: an object that appeared just before the scene went still is confirmed', () => {
    const tracker = new Tracker({ minHits: 2 });
    expect(tracker.update([person(10, 10)], 0)).toEqual([]);
    const out = tracker.keepAlive(100);
    expect(out).toHaveLength(1);
    expect(out[0].history).toEqual({ firstSeen: 0, lastSeen: 100 });
  });

  it('tolerates timestamps going back and carries extra fields through', () => {
    const tracker = new Tracker<TrackInput & { classId: number }>({ minHits: 1 });
    const [a] = tracker.update([{ ...person(10, 10), classId: 0 }], 1000);
    const [b] = tracker.update([{ ...person(11, 10), classId: 0 }], 500);
    expect(b.id).toBe(a.id);
    expect(b.classId).toBe(0);
    expect(b.history.lastSeen).toBe(1000);
  });

  it('rejects nonsense options', () => {
    expect(() => new Tracker({ minHits: 0 })).toThrow(/minHits/);
    expect(() => new Tracker({ alpha: 2 })).toThrow(/alpha/);
  });
});
