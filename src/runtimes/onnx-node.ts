import { Worker } from 'worker_threads';
import { OutputLayoutError } from '../models/decoders';
import type { ModelSpec } from '../models/spec';
import { tensorLayout } from '../models/tensor';
import { resolveNative } from '../native';
import type { WorkerConfig, WorkerFrame, WorkerReply, WorkerRequest } from './onnx-protocol';
import {
  RuntimeError, runtimeCanResize, type DecodeOptions, type DetectorRuntime, type FrameResult, type PreparedFrame, type RuntimeInfo, type RuntimeOptions,
} from './runtime';
import { onnxWorkerSource } from './worker-source';

/** Execution providers by the names users type, mapped to onnxruntime-node's. */
const PROVIDERS: Record<string, string> = { cpu: 'cpu', cuda: 'cuda', coreml: 'coreml', dml: 'dml', directml: 'dml', tensorrt: 'tensorrt', webgpu: 'webgpu' };

/** Largest batch sent as one tensor to a model with a dynamic batch axis. */
const MAX_STACKED_BATCH = 8;

/** Calls a worker holds at once: one running, one waiting with its input already there. */
const PIPELINE_DEPTH = 2;

/** A worker's settings before its staging buffers, which InferenceWorker makes. */
type SessionConfig = Omit<WorkerConfig, 'staging'>;

interface Pending {
  resolve: (reply: Extract<WorkerReply, { type: 'result' }>) => void;
  reject: (error: Error) => void;
}

class InferenceWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  readonly ready: Promise<Extract<WorkerReply, { type: 'ready' }>>;
  /**
   * Shared pixel buffers, one per frame the worker holds: PIPELINE_DEPTH made with the worker,
   * more made when a multi-frame call needs them, and a slot is replaced by a larger one when a
   * frame still to be resized does not fit (each new buffer goes to the worker with the frame
   * that first uses it). A slot is taken (freeSlots) before the main thread writes it and given
   * back when the worker has replied, so the two never overlap. Copying into one costs a memcpy;
   * a fresh buffer per frame cost about 0.2 ms more per frame, plus its garbage collection.
   */
  readonly staging: Uint8Array[];
  readonly freeSlots: number[];
  /** The smallest slot: a frame at the model input's size. */
  private readonly slotBytes: number;
  /** Calls posted and not yet answered. */
  outstanding = 0;
  private closed?: () => void;
  exited = false;

  constructor(config: SessionConfig, onDeath: (w: InferenceWorker, error: Error) => void) {
    this.slotBytes = config.width * config.height * 3;
    const staging = Array.from({ length: PIPELINE_DEPTH }, () => new SharedArrayBuffer(this.slotBytes));
    this.staging = staging.map((buffer) => new Uint8Array(buffer));
    this.freeSlots = this.staging.map((_, i) => i);
    this.worker = new Worker(onnxWorkerSource(), { eval: true, workerData: { ...config, staging } satisfies WorkerConfig, name: 'onnx-inference' });
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') resolve(reply);
        else if (reply.type === 'closed') this.closed?.();
        else if (reply.type === 'error' && reply.id === -1) reject(new RuntimeError(reply.message));
        else if (reply.type === 'error') this.settle(reply.id)?.reject(reply.layout ? new OutputLayoutError(reply.message) : new RuntimeError(`inference failed: ${reply.message}`));
        else if (reply.type === 'result') this.settle(reply.id)?.resolve(reply);
      });
      const die = (error: Error) => {
        if (this.exited) return;
        this.exited = true;
        reject(error);
        for (const p of this.pending.values()) p.reject(error);
        this.pending.clear();
        onDeath(this, error);
      };
      this.worker.on('error', (e) => die(new RuntimeError(`inference worker crashed: ${e.message}`, { cause: e })));
      this.worker.on('exit', (code) => die(new RuntimeError(`inference worker exited (code ${code})`)));
    });
    this.ready.catch(() => undefined);
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p;
  }

  run(request: Extract<WorkerRequest, { type: 'run' }>): Promise<Extract<WorkerReply, { type: 'result' }>> {
    if (this.exited) return Promise.reject(new RuntimeError('inference worker is gone'));
    return new Promise((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      this.worker.postMessage(request);
    });
  }

  /** Copies each frame (checked to fit the model input) into a free slot, made or grown if needed. */
  stage(frames: PreparedFrame[]): WorkerFrame[] {
    return frames.map(({ pixels, ...geometry }) => {
      const slot = this.freeSlots.pop() ?? this.staging.push(new Uint8Array(0)) - 1;
      let buffer: SharedArrayBuffer | undefined;
      const bytes = Math.max(this.slotBytes, pixels.length);
      if (this.staging[slot].byteLength < bytes) {
        buffer = new SharedArrayBuffer(bytes);
        this.staging[slot] = new Uint8Array(buffer);
      }
      this.staging[slot].set(pixels);
      return { ...geometry, slot, buffer };
    });
  }

  unstage(frames: WorkerFrame[]): void {
    for (const f of frames) this.freeSlots.push(f.slot);
  }

  /** Releases the session before ending the thread: ending a thread that holds one aborts the process. */
  async close(): Promise<void> {
    if (this.exited) return;
    const closed = new Promise<void>((resolve) => (this.closed = resolve));
    this.worker.postMessage({ type: 'close' } satisfies WorkerRequest);
    let timer: NodeJS.Timeout | undefined;
    // The timer is cleared: a pending 5 s timeout would keep a CLI process alive after close().
    await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
    clearTimeout(timer);
    this.exited = true;
    await this.worker.terminate();
  }
}

/** In-process ONNX Runtime (onnxruntime-node): one session per worker thread, `concurrency` workers. */
class OnnxNodeRuntime implements DetectorRuntime {
  info: RuntimeInfo;
  private readonly workers: InferenceWorker[] = [];
  private readonly waiting: ((w: InferenceWorker) => void)[] = [];
  private nextId = 1;
  private closing = false;

  constructor(private readonly config: SessionConfig, options: RuntimeOptions) {
    this.info = { runtime: 'onnx', device: config.provider, concurrency: Math.max(1, options.concurrency), maxBatch: 1, pipelineDepth: PIPELINE_DEPTH, resizes: true };
  }

  get spec(): ModelSpec {
    return this.config.spec;
  }

  async start(): Promise<Extract<WorkerReply, { type: 'ready' }>> {
    for (let i = 0; i < this.info.concurrency; i++) this.workers.push(this.spawn());
    const replies = await Promise.all(this.workers.map((w) => w.ready));
    // A symbolic or negative batch dimension means N frames can run as one N-batch tensor.
    const batchDim = replies[0].inputShape[0];
    if (typeof batchDim !== 'number' || batchDim < 0) this.info = { ...this.info, maxBatch: MAX_STACKED_BATCH };
    return replies[0];
  }

  private spawn(): InferenceWorker {
    return new InferenceWorker(this.config, (dead) => {
      // A worker that dies is replaced, so one crash does not take the runtime down.
      const at = this.workers.indexOf(dead);
      if (at < 0 || this.closing) return;
      const fresh = this.spawn();
      this.workers[at] = fresh;
      fresh.ready.then(() => this.wake(), () => undefined);
    });
  }

  /** The live worker holding the fewest calls, if it has room for another. */
  private leastBusy(): InferenceWorker | undefined {
    let best: InferenceWorker | undefined;
    for (const w of this.workers) {
      if (w.exited || w.outstanding >= PIPELINE_DEPTH) continue;
      if (!best || w.outstanding < best.outstanding) best = w;
    }
    return best;
  }

  private acquire(): Promise<InferenceWorker> {
    const worker = this.leastBusy();
    if (worker) {
      worker.outstanding++;
      return Promise.resolve(worker);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(worker: InferenceWorker): void {
    worker.outstanding--;
    this.wake();
  }

  /** Hands room that opened up (a call answered, a worker replaced) to the next waiting call. */
  private wake(): void {
    if (this.closing) return;
    let worker: InferenceWorker | undefined;
    while (this.waiting.length && (worker = this.leastBusy())) {
      worker.outstanding++;
      this.waiting.shift()!(worker);
    }
  }

  async detect(frames: PreparedFrame[], options: DecodeOptions): Promise<FrameResult[]> {
    if (this.closing) throw new RuntimeError('runtime is closed');
    if (!frames.length) return [];
    frames.forEach((frame, i) => checkFrame(frame, i, this.config.width, this.config.height));
    const worker = await this.acquire();
    const staged = worker.stage(frames);
    try {
      const stack = frames.length > 1 && frames.length <= this.info.maxBatch;
      const reply = await worker.run({ type: 'run', id: this.nextId++, frames: staged, stack, options });
      const count = frames.length;
      const { tensorMs, inferenceMs, postprocessMs } = reply;
      return reply.detections.map((detections) => ({
        detections,
        timings: { tensorMs: tensorMs / count, inferenceMs, postprocessMs: postprocessMs / count, batchSize: count },
      }));
    } finally {
      worker.unstage(staged);
      this.release(worker);
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.close()));
  }
}

/**
 * A frame is whole RGB rows placed inside the model input (0x0: all padding), and pixels still to
 * be resized are whole and of a size `runtimeCanResize` accepts; anything else is refused by name.
 */
function checkFrame(frame: PreparedFrame, index: number, width: number, height: number): void {
  const { pixels, width: w, height: h, offsetX: x, offsetY: y, source } = frame;
  const sw = source?.width ?? w;
  const sh = source?.height ?? h;
  const placed = [w, h, x, y].every((v) => Number.isInteger(v) && v >= 0) && x + w <= width && y + h <= height;
  const sized = !source || (Number.isInteger(sw) && Number.isInteger(sh) && runtimeCanResize(source, frame));
  if (!placed || !sized || pixels.length !== sw * sh * 3) {
    const from = source ? ` from ${sw}x${sh}` : '';
    throw new RuntimeError(`frame ${index}: ${w}x${h}${from} at +${x}+${y} with ${pixels.length} bytes is not RGB placed inside the ${width}x${height} model input`);
  }
}

function shapeMatches(shape: (number | string)[], expected: number[]): boolean {
  return shape.length === expected.length && shape.every((d, i) => i === 0 || typeof d !== 'number' || d < 0 || d === expected[i]);
}

/**
 * Loads a model into `concurrency` worker threads, checks its input against the spec and runs
 * one warm-up frame through the decoder, so a wrong spec fails here with a clear message
 * instead of on the first camera frame.
 */
export async function createOnnxRuntime(modelPath: string, spec: ModelSpec, options: RuntimeOptions): Promise<DetectorRuntime> {
  const provider = PROVIDERS[options.device.toLowerCase()];
  if (!provider) {
    throw new RuntimeError(`unknown execution provider "${options.device}" (use one of ${Object.keys(PROVIDERS).join(', ')})`);
  }
  const { input } = spec;
  const config: SessionConfig = {
    ortPath: resolveNative('onnxruntime-node'),
    modelPath,
    inputName: input.name,
    ...tensorLayout(input),
    threads: Math.max(0, options.threads),
    provider,
    spec,
  };
  const expected = input.layout === 'nchw' ? [1, 3, input.height, input.width] : [1, input.height, input.width, 3];
  const runtime = new OnnxNodeRuntime(config, options);
  try {
    const ready = await runtime.start().catch((e: Error) => {
      throw new RuntimeError(`could not load model ${modelPath} on onnx/${options.device}: ${e.message}`, { cause: e });
    });
    if (!ready.inputNames.includes(input.name)) {
      throw new RuntimeError(`model ${modelPath} has no input named "${input.name}" (inputs: ${ready.inputNames.join(', ')}); fix input.name in its spec`);
    }
    if (!shapeMatches(ready.inputShape, expected)) {
      throw new RuntimeError(`model ${modelPath} takes input [${ready.inputShape.join(', ')}], but its spec expects [${expected.join(', ')}]`);
    }
    const blank: PreparedFrame = { pixels: new Uint8Array(0), width: 0, height: 0, offsetX: 0, offsetY: 0 };
    await runtime.detect([blank], { confidence: 0.5, iou: 0.45, maxDetections: 1 }).catch((e: Error) => {
      throw new RuntimeError(`model ${modelPath} does not work with its spec: ${e.message}`, { cause: e });
    });
  } catch (e) {
    await runtime.close();
    throw e;
  }
  return runtime;
}
