import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogEntry } from '../../src/models/catalog';
import { iou, toSourceBox } from '../../src/models/geometry';
import { prepareImage, type PreparedImage } from '../../src/models/preprocess';
import {
  createPythonPoolRuntime,
  inferJpegParts,
  MsgType,
  PoolRequestError,
  PoolUnavailableError,
  SHARED_MEMORY_LIMIT,
  type PoolStatusEvent,
  type PythonPoolRuntime,
} from '../../src/runtimes/python-pool';
import { createRuntime } from '../../src/runtimes';
import type { DetectorRuntime } from '../../src/runtimes/runtime';
import { expectSameDetections, rawPhoto, YOLOV5 } from '../models/helpers';
import { DOG, MODEL, pidAlive, poolChildren, SKIP_REASON, TEST_PYTHON } from './helpers';

const spec = catalogEntry('yolox_nano')!.spec;
const options = { confidence: 0.3, iou: 0.45, maxDetections: 100 };
const env = { ...process.env, NVR_PYTHON: TEST_PYTHON ?? '', NVR_POOL_LOG: 'WARNING' };
// MODELS.md, [x, y, w, h] in dog.jpg pixels
const EXPECTED: Record<number, [number, number, number, number]> = { 16: [133, 205, 190, 337], 2: [467, 78, 226, 93], 1: [61, 133, 511, 295] };

describe.skipIf(!!SKIP_REASON)('python pool end to end (TypeScript -> Python -> detections)', () => {
  let dog: PreparedImage;
  beforeAll(async () => {
    dog = await prepareImage({ kind: 'encoded', data: readFileSync(DOG) }, spec.input);
  });

  for (const runtime of ['openvino', 'onnx-python'] as const) {
    it(`${runtime}: dog.jpg gives dog, bicycle, car at MODELS.md's boxes`, async () => {
      const rt = await createPythonPoolRuntime(spec, MODEL, { runtime, device: runtime === 'openvino' ? 'CPU' : 'cpu', threads: 0, concurrency: 2, env });
      try {
        expect(rt.info.runtime).toBe(runtime);
        const [result] = await rt.detect([dog.frame], options);
        for (const [cls, [x, y, w, h]] of Object.entries(EXPECTED)) {
          const d = result.detections.find((r) => r.classId === Number(cls));
          expect(d, `class ${cls}`).toBeDefined();
          expect(d!.score).toBeGreaterThan(0.7);
          expect(iou(toSourceBox(d!.box, dog.placement), [x, y, x + w, y + h])).toBeGreaterThan(0.9);
        }
        expect(result.timings.batchSize).toBe(1);
        expect(result.timings.inferenceMs).toBeGreaterThan(0);
        // several frames in one call (infer_batch, list mode)
        const three = await rt.detect([dog.frame, dog.frame, dog.frame], options);
        expect(three).toHaveLength(3);
        expect(three.every((r) => r.detections.some((d) => d.classId === 16) && r.timings.batchSize === 3)).toBe(true);
        // A source-size raw frame is resized by the pool (auto placement), alone and in a batch with a placed one.
        expect(rt.info.resizes).toBe(true);
        const handed = await prepareImage(await rawPhoto('dog.jpg'), spec.input, { runtimeResizes: true });
        expect(handed.frame.source).toEqual({ width: 768, height: 576 });
        const [alone] = await rt.detect([handed.frame], options);
        expectSameDetections(alone.detections, result.detections, 3);
        const [mixed, placed] = await rt.detect([handed.frame, dog.frame], options);
        expectSameDetections(mixed.detections, alone.detections, 3);
        expect(placed.detections).toEqual(result.detections);
      } finally {
        await rt.close();
      }
    });
  }

  it('a centred letterbox (YOLOv5s): boxes from frames placed in Node and resized by the pool land where onnxruntime-node puts them', async () => {
    const v5 = catalogEntry('yolov5s')!.spec;
    const raw = await rawPhoto('dog.jpg');
    const handed = await prepareImage(raw, v5.input, { runtimeResizes: true });
    expect(handed.frame).toMatchObject({ width: 640, height: 480, offsetY: 80, source: { width: 768, height: 576 } });
    const placed = (await prepareImage(raw, v5.input)).frame;
    const [pool, node] = await Promise.all([
      createPythonPoolRuntime(v5, YOLOV5, { runtime: 'onnx-python', device: 'cpu', threads: 0, concurrency: 1, env }),
      createRuntime('onnx', YOLOV5, v5, { device: 'cpu', threads: 1, concurrency: 1 }),
    ]);
    try {
      const [reference] = await node.detect([placed], options);
      const [fromPlaced, fromResized] = await pool.detect([placed, handed.frame], options);
      expectSameDetections(fromPlaced.detections, reference.detections, 3);
      expectSameDetections(fromResized.detections, reference.detections, 3);
    } finally {
      await Promise.all([pool.close(), node.close()]);
    }
  });

  it('frames go through shared memory on Linux, with the answers frames sent through the socket get, and through the socket when it is full', async () => {
    const make = (sharedMemory: boolean) =>
      createPythonPoolRuntime(spec, MODEL, { runtime: 'openvino', device: 'CPU', threads: 0, concurrency: 1, env, sharedMemory }) as Promise<PythonPoolRuntime>;
    const [viaMemory, viaSocket] = await Promise.all([make(true), make(false)]);
    try {
      const linux = process.platform === 'linux';
      expect(viaMemory.pool.ready?.sharedMemory).toBe(linux);
      expect(viaSocket.pool.ready?.sharedMemory).toBe(false);
      expect(viaSocket.pool.sharedMemory).toBeUndefined();
      const handed = await prepareImage(await rawPhoto('dog.jpg'), spec.input, { runtimeResizes: true });
      const frames = [dog.frame, handed.frame]; // placed, and source-size for the pool to resize
      const expected = (await viaSocket.detect(frames, options)).map((r) => r.detections);
      expect((await viaMemory.detect(frames, options)).map((r) => r.detections)).toEqual(expected);
      expect(expected[0]!.some((d) => d.classId === 16)).toBe(true);
      const memory = viaMemory.pool.sharedMemory;
      if (!linux) return;
      // The frames went through the memory (it grew to hold both), and their region is free again.
      expect(memory!.usage.capacity).toBeGreaterThanOrEqual(dog.frame.pixels.byteLength + handed.frame.pixels.byteLength);
      expect(memory!.usage.used).toBe(0);
      // Full: the next frames go through the socket, with the same answers.
      const filler = memory!.put([new Uint8Array(memory!.usage.capacity)]);
      const hog = memory!.put([new Uint8Array(SHARED_MEMORY_LIMIT - memory!.usage.capacity - 4096)]);
      expect(filler).toBe(0);
      expect(hog).toBeDefined();
      expect((await viaMemory.detect(frames, options)).map((r) => r.detections)).toEqual(expected);
      expect(memory!.usage.used).toBe(SHARED_MEMORY_LIMIT - 4096);
      memory!.release(filler!);
      memory!.release(hog!);
    } finally {
      await Promise.all([viaMemory.close(), viaSocket.close()]);
    }
  });

  it('a model that fails to load is a clear RuntimeError and leaves no process', async () => {
    const before = poolChildren();
    await expect(
      createPythonPoolRuntime(spec, '/nonexistent/model.onnx', { runtime: 'onnx-python', device: 'cpu', threads: 0, concurrency: 1, env }),
    ).rejects.toThrow(/failed to load.*nonexistent/);
    expect(poolChildren()).toEqual(before);
  });

  it('CoreML off macOS fails with "CoreML needs macOS"', async () => {
    await expect(createPythonPoolRuntime(spec, MODEL, { runtime: 'coreml', device: 'AUTO', threads: 0, concurrency: 1, env })).rejects.toThrow(
      /CoreML needs macOS/,
    );
  });

  describe('faults and supervision', () => {
    let rt: PythonPoolRuntime;
    const events: PoolStatusEvent[] = [];
    const errors: Error[] = [];
    beforeAll(async () => {
      rt = (await createPythonPoolRuntime(spec, MODEL, {
        runtime: 'onnx-python', device: 'cpu', threads: 1, concurrency: 2, env, hangTimeoutMs: 1500,
        onStatus: (e) => events.push(e), onError: (e) => errors.push(e),
      })) as PythonPoolRuntime;
    });
    afterAll(async () => {
      const pid = rt.pool.pid;
      await rt.close();
      if (pid) expect(pidAlive(pid)).toBe(false);
    });

    it('an error answer carries the request id and the pool keeps serving', async () => {
      const prefix = { modelIdx: 0, ...options };
      const corrupt = rt.pool.request(MsgType.InferJpeg, inferJpegParts(prefix, Buffer.from('not a jpeg at all')));
      await expect(corrupt).rejects.toBeInstanceOf(PoolRequestError);
      const err = (await corrupt.catch((e: unknown) => e)) as PoolRequestError;
      expect(err.code).toBe('bad_image');
      expect(err.reqId).toBeGreaterThan(0);
      const outOfRange = (await rt.pool.request(MsgType.InferJpeg, inferJpegParts({ ...prefix, modelIdx: 7 }, readFileSync(DOG))).catch((e: unknown) => e)) as PoolRequestError;
      expect(outOfRange.code).toBe('unknown_model');
      const ok = (await rt.pool.request(MsgType.InferJpeg, inferJpegParts(prefix, readFileSync(DOG)))) as { results: unknown[] };
      expect(ok.results).toHaveLength(1);
    });

    it('SIGKILL under load fails every waiting request within 1 s, then the pool restarts and serves', async () => {
      const { frame } = dog;
      const pid = rt.pool.pid!;
      const load = Array.from({ length: 8 }, () => rt.detect([frame, frame], options).then(() => 'ok', (e: Error) => e));
      await new Promise((r) => setTimeout(r, 30));
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');
      const outcomes = await Promise.all(load);
      const failedWithin = performance.now() - killedAt;
      const failures = outcomes.filter((o): o is Error => o instanceof Error);
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((f) => f instanceof PoolUnavailableError && /SIGKILL/.test(f.message))).toBe(true);
      expect(failedWithin).toBeLessThan(1000);
      const [after] = await rt.detect([frame], options); // waits for the automatic restart
      expect(after.detections.some((d) => d.classId === 16)).toBe(true);
      expect(rt.pool.pid).not.toBe(pid);
      expect(pidAlive(pid)).toBe(false);
      expect(events.some((e) => e.state === 'restarting' && /SIGKILL/.test(e.message))).toBe(true);
      expect(errors.some((e) => /SIGKILL/.test(e.message))).toBe(true);
    });

    it('a hung pool (SIGSTOP) is detected, its requests fail, and it is replaced', async () => {
      const pid = rt.pool.pid!;
      process.kill(pid, 'SIGSTOP');
      const started = performance.now();
      const hung = await rt.detect([dog.frame], options).catch((e: Error) => e);
      expect(hung).toBeInstanceOf(PoolUnavailableError);
      expect(performance.now() - started).toBeLessThan(4000);
      expect(errors.some((e) => /answered nothing/.test(e.message))).toBe(true);
      const [after] = await rt.detect([dog.frame], options);
      expect(after.detections.length).toBeGreaterThan(0);
      expect(pidAlive(pid)).toBe(false);
    });
  });

  it('close() leaves no child process behind, and is idempotent', async () => {
    const rt: DetectorRuntime = await createPythonPoolRuntime(spec, MODEL, { runtime: 'onnx-python', device: 'cpu', threads: 1, concurrency: 1, env });
    const pid = (rt as PythonPoolRuntime).pool.pid!;
    expect(pidAlive(pid)).toBe(true);
    await rt.close();
    await rt.close();
    expect(pidAlive(pid)).toBe(false);
    await expect(rt.detect([dog.frame], options)).rejects.toThrow(/closed/);
  });
});
