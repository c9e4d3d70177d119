import fs from 'fs';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Detector } from '../../src/engine/detector';
import { isDropped } from '../../src/engine/job';
import { DetectionScheduler, type ScheduledResult } from '../../src/engine/scheduler';
import { detectStream } from '../../src/engine/stream';
import { MEDIA, YOLOX } from '../paths';
import { VTEST_HEIGHT, VTEST_WIDTH, vtestFrames } from '../harness/fake-camera';

const MODEL = YOLOX;
const W = VTEST_WIDTH;
const H = VTEST_HEIGHT;
const videoFrames = (n: number): Uint8Array[] => vtestFrames(0, n).map((f) => f.data);

describe.runIf(fs.existsSync(MODEL))('scheduler with YOLOX-Nano on onnxruntime-node', () => {
  let detector: Detector;
  let scheduler: DetectionScheduler;
  let frames: Uint8Array[];

  beforeAll(async () => {
    detector = await Detector.create({ model: MODEL, runtime: 'onnx', device: 'cpu', threads: 1, concurrency: 2 });
    scheduler = new DetectionScheduler({ mode: 'none', maxAgeMs: 60_000 }, detector);
    frames = videoFrames(12);
  });
  afterAll(() => scheduler?.close());

  it('answers an API request with the same boxes as the detector alone', async () => {
    const image = { kind: 'encoded' as const, data: fs.readFileSync(path.join(MEDIA, 'dog.jpg')) };
    const [alone, scheduled] = await Promise.all([detector.detect(image), scheduler.request(image)]);
    const names = (r: { detections: { className: string }[] }) => r.detections.map((d) => d.className).sort();
    expect(names(scheduled)).toEqual(names(alone));
    expect(names(scheduled)).toEqual(expect.arrayContaining(['bicycle', 'car', 'dog']));
    const dog = scheduled.detections.find((d) => d.className === 'dog')!;
    expect(dog.boundingBox[0]).toBeGreaterThan(110);
    expect(dog.boundingBox[0]).toBeLessThan(160);
    expect(scheduled.latency.inference).toBeGreaterThan(0);
  });

  it('runs camera frames from several sources and finds people in the street', async () => {
    const answers = frames.flatMap((data, i) => ['a', 'b', 'c'].map((cam) =>
      scheduler.submitFrame(cam, { kind: 'raw', data, width: W, height: H, channels: 3 }, { timestamp: Date.now() - i })));
    const all = await Promise.all(answers);
    const done = all.filter((a) => !isDropped(a)) as ScheduledResult[];
    expect(done.length).toBeGreaterThanOrEqual(3);
    expect(done.length + all.filter(isDropped).length).toBe(answers.length);
    expect(done.every((r) => r.inputDimensions[0] === W && r.inputDimensions[1] === H)).toBe(true);
    expect(done.some((r) => r.detections.some((d) => d.className === 'person'))).toBe(true);
    const st = scheduler.stats();
    for (const cam of st.sources) expect(cam.processed).toBeGreaterThanOrEqual(1);
    expect(st.overall.framesIn).toBe(st.overall.processed + st.overall.dropped.replaced + st.overall.dropped.stale + st.overall.failed);
  });

  it('detectStream (generateObjectDetections) yields in order and never blocks a fast producer', async () => {
    let pulled = 0;
    let producerWaitedMs = 0;
    async function* camera() {
      for (let i = 0; i < 40; i++) {
        const asked = performance.now();
        yield { index: i, data: frames[i % frames.length] };
        producerWaitedMs = Math.max(producerWaitedMs, performance.now() - asked);
        pulled++;
      }
    }
    const seen: number[] = [];
    for await (const { frame, result } of detectStream(scheduler, camera(), {
      toInput: (f) => ({ kind: 'raw', data: f.data, width: W, height: H, channels: 3 }),
    })) {
      seen.push(frame.index);
      expect(result.inputDimensions).toEqual([W, H]);
    }
    expect(pulled).toBe(40);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeLessThan(40); // the producer was faster than the model: frames were skipped
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen.at(-1)).toBe(39); // the last frame is always answered
  });

  it('stopping the consumer early stops the producer and closes the stream source', async () => {
    let pulled = 0;
    async function* endless() {
      for (let i = 0; ; i++) {
        pulled++;
        await new Promise((r) => setTimeout(r, 5));
        yield { data: frames[i % frames.length] };
      }
    }
    let results = 0;
    for await (const _ of detectStream(scheduler, endless(), {
      sourceId: 'early', toInput: (f) => ({ kind: 'raw', data: f.data, width: W, height: H, channels: 3 }),
    })) {
      if (++results === 3) break;
    }
    const at = pulled;
    await new Promise((r) => setTimeout(r, 100));
    expect(pulled - at).toBeLessThanOrEqual(1);
    expect(scheduler.hasSource('early')).toBe(false);
  });
});
