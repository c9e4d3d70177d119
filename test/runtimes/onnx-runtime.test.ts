import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { Worker } from 'worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogEntry } from '../../src/models/catalog';
import { toSourceBox, toXywh } from '../../src/models/geometry';
import { prepareImage, type PreparedImage } from '../../src/models/preprocess';
import { createRuntime } from '../../src/runtimes';
import { RuntimeError, type DetectorRuntime, type FrameResult } from '../../src/runtimes/runtime';
import { expectSameDetections, iouXywh, media, rawPhoto, YOLOV5, YOLOX, YOLOX_DOG } from '../models/helpers';
import { pythonWith, REPO } from '../paths';
import type { ModelSpec } from '../../src/models/spec';

const options = { confidence: 0.3, iou: 0.45, maxDetections: 100 };
const yoloxSpec = catalogEntry('yolox_nano')!.spec;
const yolov5Spec = catalogEntry('yolov5s')!.spec;

const prepare = async (name: string, spec = yoloxSpec) => prepareImage({ kind: 'encoded', data: fs.readFileSync(media(name)) }, spec.input);
const named = (result: FrameResult, spec = yoloxSpec) => result.detections.map((d) => spec.labels[d.classId]).sort();
/** `named` without cat and truck, which some frames give or not depending on the run. */
const namedFirm = (result: FrameResult) => named(result).filter((n) => n !== 'cat' && n !== 'truck');

/** The runtime's worker threads (private: reached into on purpose, to watch them end). */
const workersOf = (runtime: DetectorRuntime): Worker[] => (runtime as unknown as { workers: { worker: Worker }[] }).workers.map((w) => w.worker);
/**
 * Real photos handed over at their own size (768x576, 773x512, 640x424) are resized by the
 * runtime, and find what the same photos resized by libvips find.
 */
async function expectRuntimeResizeAgrees(runtime: DetectorRuntime, spec: ModelSpec, names = ['dog.jpg', 'horses.jpg', 'person.jpg']): Promise<void> {
  for (const name of names) {
    const raw = await rawPhoto(name);
    const handed = await prepareImage(raw, spec.input, { runtimeResizes: true });
    expect(handed.frame.source).toEqual({ width: raw.width, height: raw.height });
    const shrunk = await prepareImage(raw, spec.input);
    const [[mine], [theirs]] = await Promise.all([runtime.detect([handed.frame], options), runtime.detect([shrunk.frame], options)]);
    expectSameDetections(mine.detections, theirs.detections, 2);
  }
}

const messagePorts = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;

describe('onnx runtime, YOLOX-Nano on cpu', () => {
  let runtime: DetectorRuntime;
  let dog: PreparedImage;
  let person: PreparedImage;
  let iceblock: PreparedImage;
  beforeAll(async () => {
    runtime = await createRuntime('onnx', YOLOX, yoloxSpec, { device: 'cpu', threads: 1, concurrency: 1 });
    dog = await prepare('dog.jpg');
    person = await prepare('person.jpg');
    iceblock = await prepare('iceblock.jpg');
  });
  afterAll(() => runtime?.close());

  it('reports what it is', () => {
    expect(runtime.info).toEqual({ runtime: 'onnx', device: 'cpu', concurrency: 1, maxBatch: 1, pipelineDepth: 2, resizes: true });
    expect(runtime.spec).toBe(yoloxSpec);
  });

  it("dog.jpg: dog, car, bicycle with MODELS.md's boxes, and timings", async () => {
    const [result] = await runtime.detect([dog.frame], options);
    for (const want of YOLOX_DOG) {
      const hit = result.detections.find((d) => yoloxSpec.labels[d.classId] === want.className)!;
      expect(hit, want.className).toBeDefined();
      expect(iouXywh(toXywh(toSourceBox(hit.box, dog.placement)), want.box)).toBeGreaterThan(0.9);
    }
    expect(result.timings.inferenceMs).toBeGreaterThan(0);
    expect(result.timings.tensorMs).toBeGreaterThan(0);
    expect(result.timings.batchSize).toBe(1);
  });

  it('pipelines: calls beyond the runner count queue in the worker, each with its own staging buffer, and none mixes up its frame', async () => {
    const frames = [dog, person, iceblock, person, dog, iceblock];
    const results = await Promise.all(frames.map((f) => runtime.detect([f.frame], options)));
    const expected = [['bicycle', 'car', 'dog'], ['dog', 'horse', 'person'], []];
    const want = (f: PreparedImage) => expected[[dog, person, iceblock].indexOf(f)];
    results.forEach(([r], i) => expect(namedFirm(r), `call ${i}`).toEqual(want(frames[i])));
  });

  it('several frames in one call (fixed batch 1: run one by one) come back in order', async () => {
    const results = await runtime.detect([person.frame, iceblock.frame, dog.frame], options);
    expect(results.map((r) => named(r).filter((n) => n !== 'cat'))).toEqual([['dog', 'horse', 'person'], [], ['bicycle', 'car', 'dog']]);
    expect(results[0].timings.batchSize).toBe(3);
    expect(await runtime.detect([], options)).toEqual([]);
  });

  it('multi-frame calls stage every frame in shared memory: slots are made as needed, then reused', async () => {
    const slots = () => (runtime as unknown as { workers: { staging: unknown[]; freeSlots: number[] }[] }).workers[0];
    const calls = () => Promise.all([0, 1, 2, 3].map((k) => runtime.detect(k % 2 ? [iceblock.frame, dog.frame, person.frame] : [person.frame, iceblock.frame, dog.frame], options)));
    const first = await calls();
    const made = slots().staging.length;
    expect(made).toBe(6); // two calls of three frames held at once (one running, one waiting)
    const second = await calls();
    expect(slots().staging.length).toBe(made);
    expect(slots().freeSlots.length).toBe(made);
    const want = [['dog', 'horse', 'person'], [], ['bicycle', 'car', 'dog']];
    for (const [k, results] of [...first, ...second].entries()) {
      const order = k % 2 ? [1, 2, 0] : [0, 1, 2];
      expect(results.map(namedFirm), `call ${k}`).toEqual(order.map((i) => want[i]));
    }
    // More slots (eight frames held at once): a new one is never smaller than a model-size frame,
    // even when the frame that made it is empty.
    const blank = { pixels: new Uint8Array(0), width: 0, height: 0, offsetX: 0, offsetY: 0 };
    const blanks = await Promise.all([0, 1, 2].map(() => runtime.detect([blank, blank, blank, blank], options)));
    expect(blanks.flat().every((r) => r.detections.length === 0)).toBe(true);
    expect(slots().staging.length).toBe(8);
    expect(slots().staging.every((s) => (s as Uint8Array).byteLength >= 416 * 416 * 3)).toBe(true);
  });

  it('one frame and the same frame in a multi-frame call agree exactly', async () => {
    const [alone] = await runtime.detect([person.frame], options);
    const [, inCall] = await runtime.detect([dog.frame, person.frame], options);
    expect(inCall.detections).toEqual(alone.detections);
    // and a smaller frame after a larger one reads only its own pixels from the shared buffer
    const small = await prepareImage({ kind: 'raw', data: new Uint8Array(40 * 30 * 3).fill(114), width: 40, height: 30, channels: 3 }, yoloxSpec.input);
    await runtime.detect([dog.frame], options);
    const [again] = await runtime.detect([person.frame], options);
    expect(again.detections).toEqual(alone.detections);
    expect((await runtime.detect([small.frame], { ...options, confidence: 0.5 }))[0].detections).toEqual([]);
  });

  it('resizes a source-size raw frame itself and finds what the libvips-resized frame finds; a slot grows to hold it', async () => {
    expect(runtime.info.resizes).toBe(true);
    await expectRuntimeResizeAgrees(runtime, yoloxSpec);
    // the slots grew to the largest frame, and a model-size frame after it reads only its own pixels
    const { staging } = (runtime as unknown as { workers: { staging: Uint8Array[] }[] }).workers[0];
    expect(Math.max(...staging.map((s) => s.byteLength))).toBe(768 * 576 * 3);
    expect(namedFirm((await runtime.detect([dog.frame], options))[0])).toEqual(['bicycle', 'car', 'dog']);
  });

  it('refuses a frame that is not RGB placed inside the model input, by name, and keeps serving', async () => {
    const rgb = (w: number, h: number) => new Uint8Array(w * h * 3);
    const bad = [
      { pixels: rgb(416, 312).subarray(1), width: 416, height: 312, offsetX: 0, offsetY: 0 }, // a byte short
      { pixels: rgb(416, 312), width: 416, height: 312, offsetX: 0, offsetY: 200 }, // runs off the bottom
      { pixels: rgb(500, 10), width: 500, height: 10, offsetX: 0, offsetY: 0 }, // wider than the input
      { pixels: rgb(10, 10), width: 10, height: 10, offsetX: -1, offsetY: 0 },
      { pixels: rgb(10, 10), width: 10, height: 10, offsetX: 0.5, offsetY: 0 },
      { pixels: rgb(768, 576), width: 416, height: 312, offsetX: 0, offsetY: 0, source: { width: 768, height: 575 } }, // a row short
      { pixels: rgb(900, 10), width: 416, height: 5, offsetX: 0, offsetY: 0, source: { width: 900, height: 10 } }, // shrinks over 2x
      { pixels: rgb(1, 10), width: 2, height: 10, offsetX: 0, offsetY: 0, source: { width: 1, height: 10 } }, // under 2x2
    ];
    for (const frame of bad) {
      await expect(runtime.detect([dog.frame, frame], options)).rejects.toThrow(/frame 1: .* is not RGB placed inside the 416x416 model input/);
    }
    expect(namedFirm((await runtime.detect([dog.frame], options))[0])).toEqual(['bicycle', 'car', 'dog']);
  });

  it('the caller\'s pixels are not consumed by a run (the frame can be run again)', async () => {
    const before = Buffer.from(dog.frame.pixels);
    await runtime.detect([dog.frame], options);
    expect(Buffer.compare(Buffer.from(dog.frame.pixels), before)).toBe(0);
  });
});

// YOLOX-Nano with a symbolic batch axis, made from the shared file (test/eval/make-dynamic-yolox.py --batch).
const ONNX_PYTHON = pythonWith('onnx');
describe.skipIf(!ONNX_PYTHON)('onnx runtime, a model with a dynamic batch axis', () => {
  it('stacks a multi-frame call into one N-batch tensor, and every frame gets what it gets alone', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvr-dynbatch-'));
    const model = path.join(dir, 'yolox_nano_batch.onnx');
    execFileSync(ONNX_PYTHON!, [path.join(REPO, 'test/eval/make-dynamic-yolox.py'), '--batch', YOLOX, model]);
    const runtime = await createRuntime('onnx', model, yoloxSpec, { device: 'cpu', threads: 1, concurrency: 1 });
    try {
      expect(runtime.info.maxBatch).toBe(8);
      // Placed frames of three sizes and a source-size one the worker resizes: all in one tensor.
      const source = await prepareImage(await rawPhoto('horses.jpg'), yoloxSpec.input, { runtimeResizes: true });
      const frames = [(await prepare('dog.jpg')).frame, (await prepare('person.jpg')).frame, (await prepare('iceblock.jpg')).frame, source.frame];
      // What the worker answered: the batch axis of each session.run's output (private: reached into on purpose).
      const replies: { runs: number[] }[] = [];
      const [worker] = (runtime as unknown as { workers: { run: (request: unknown) => Promise<(typeof replies)[number]> }[] }).workers;
      const run = worker.run.bind(worker);
      worker.run = async (request) => {
        const reply = await run(request);
        replies.push(reply);
        return reply;
      };
      const together = await runtime.detect(frames, options);
      expect(together.map((r) => r.timings.batchSize)).toEqual([4, 4, 4, 4]);
      expect(replies[0].runs).toEqual([4]);
      for (const [i, frame] of frames.entries()) {
        const [alone] = await runtime.detect([frame], options);
        expect(together[i].detections.map((d) => d.classId), `frame ${i}`).toEqual(alone.detections.map((d) => d.classId));
        together[i].detections.forEach((d, k) => {
          expect(d.score).toBeCloseTo(alone.detections[k].score, 4);
          d.box.forEach((v, j) => expect(v).toBeCloseTo(alone.detections[k].box[j], 2));
        });
      }
      expect(named(together[0])).toEqual(expect.arrayContaining(['bicycle', 'car', 'dog']));
      expect(together[3].detections.filter((d) => yoloxSpec.labels[d.classId] === 'horse').length).toBeGreaterThanOrEqual(3);
      // More frames than the largest stacked batch run as a loop of single frames instead.
      const nine = await runtime.detect(Array.from({ length: 9 }, () => frames[0]), options);
      expect(replies.at(-1)!.runs).toEqual(Array(9).fill(1));
      expect(nine.map((r) => r.timings.batchSize)).toEqual(Array(9).fill(9));
      expect(nine.every((r) => named(r).includes('dog'))).toBe(true);
    } finally {
      await runtime.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('onnx runtime, YOLOv5s on cpu', () => {
  it('dog.jpg: dog, bicycle, car', async () => {
    const runtime = await createRuntime('onnx', YOLOV5, yolov5Spec, { device: 'cpu', threads: 2, concurrency: 1 });
    try {
      const [result] = await runtime.detect([(await prepare('dog.jpg', yolov5Spec)).frame], options);
      expect(named(result, yolov5Spec)).toEqual(expect.arrayContaining(['bicycle', 'car', 'dog']));
      // centred letterbox: the resized frame goes 80 rows down
      await expectRuntimeResizeAgrees(runtime, yolov5Spec, ['dog.jpg', 'horses.jpg']);
    } finally {
      await runtime.close();
    }
  });
});

describe('onnx runtime, concurrency 2', () => {
  it('gives the same answers as one worker, and close() ends every worker thread', async () => {
    const images = await Promise.all(['dog.jpg', 'person.jpg', 'giraffe.jpg', 'basketball1.png', 'iceblock.jpg', 'dog.jpg'].map((n) => prepare(n)));
    const single = await createRuntime('onnx', YOLOX, yoloxSpec, { device: 'cpu', threads: 1, concurrency: 1 });
    const expected: FrameResult[] = [];
    for (const image of images) expected.push((await single.detect([image.frame], options))[0]);
    await single.close();

    const portsBefore = messagePorts();
    const runtime = await createRuntime('onnx', YOLOX, yoloxSpec, { device: 'cpu', threads: 1, concurrency: 2 });
    expect(runtime.info.concurrency).toBe(2);
    const workers = workersOf(runtime);
    expect(workers).toHaveLength(2);
    expect(messagePorts()).toBe(portsBefore + 2);
    const exits = workers.map((w) => new Promise<number>((resolve) => w.once('exit', resolve)));

    const results = await Promise.all(images.map((image) => runtime.detect([image.frame], options)));
    results.forEach(([r], i) => {
      expect(r.detections.map((d) => d.classId)).toEqual(expected[i].detections.map((d) => d.classId));
      r.detections.forEach((d, j) => {
        expect(d.score).toBeCloseTo(expected[i].detections[j].score, 5);
        d.box.forEach((v, k) => expect(v).toBeCloseTo(expected[i].detections[j].box[k], 3));
      });
    });

    await runtime.close();
    await runtime.close(); // idempotent
    await Promise.all(exits);
    expect(workers.every((w) => w.threadId === -1)).toBe(true);
    expect(messagePorts()).toBe(portsBefore);
    await expect(runtime.detect([images[0].frame], options)).rejects.toThrow(/runtime is closed/);
  });
});

describe('onnx runtime, a worker that ends', () => {
  // A thread is ended here at a moment it is not inside session.run: onnxruntime-node aborts the
  // whole process when a thread is terminated mid-run (as it does when one exits holding a session).
  it('fails the request it held with a clear error, and is replaced', async () => {
    const runtime = await createRuntime('onnx', YOLOX, yoloxSpec, { device: 'cpu', threads: 1, concurrency: 1 });
    try {
      const dog = await prepare('dog.jpg');
      const [victim] = workersOf(runtime);
      // The thread ends before it reads the request sent next (it takes messages in order).
      victim.postMessage({ type: 'close' });
      const inFlight = runtime.detect([dog.frame], options);
      await expect(inFlight).rejects.toThrow(RuntimeError);
      await expect(inFlight).rejects.toThrow(/inference worker exited/);

      // The next request waits for the replacement and succeeds.
      const [after] = await runtime.detect([dog.frame], options);
      expect(named(after)).toEqual(expect.arrayContaining(['bicycle', 'car', 'dog']));
      const [replacement] = workersOf(runtime);
      expect(replacement).not.toBe(victim);
      expect(replacement.threadId).toBeGreaterThan(0);

      // Killed while idle (as an OOM kill of the thread would), it is replaced too.
      await replacement.terminate();
      const [again] = await runtime.detect([dog.frame], options);
      expect(named(again)).toEqual(expect.arrayContaining(['bicycle', 'car', 'dog']));
      expect(workersOf(runtime)[0]).not.toBe(replacement);
    } finally {
      await runtime.close();
    }
  });
});

describe('onnx runtime, refusals', () => {
  it('an unknown execution provider is named with the known ones', async () => {
    await expect(createRuntime('onnx', YOLOX, yoloxSpec, { device: 'tpu', threads: 1, concurrency: 1 })).rejects.toThrow(/unknown execution provider "tpu" \(use one of cpu, cuda/);
  });

  it('a provider this build lacks is a clear error naming what it has', async () => {
    const error = await createRuntime('onnx', YOLOX, yoloxSpec, { device: 'coreml', threads: 1, concurrency: 1 }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/could not load model .*yolox_nano\.onnx on onnx\/coreml: execution provider "coreml" is not in this onnxruntime-node build \(it has: .*cpu/);
  });

  it('an unknown runtime name', async () => {
    await expect(createRuntime('tensorflow', YOLOX, yoloxSpec, { device: 'cpu', threads: 1, concurrency: 1 })).rejects.toThrow(/unknown runtime "tensorflow" \(available: onnx/);
  });

  it('an input size that disagrees with the model', async () => {
    const spec = { ...yoloxSpec, input: { ...yoloxSpec.input, width: 640, height: 640 } };
    await expect(createRuntime('onnx', YOLOX, spec, { device: 'cpu', threads: 1, concurrency: 1 })).rejects.toThrow(/takes input \[1, 3, 416, 416\], but its spec expects \[1, 3, 640, 640\]/);
  });
});
