import type { fillTensor, TensorLayout } from '../models/tensor';

/** What the main thread sends a worker. */
export type WorkerRequest =
  | { type: 'run'; id: number; frames: WorkerFrame[]; stack: boolean }
  | { type: 'close' };

/**
 * A frame sent to a worker: its pixels are already copied by the main thread into one of the
 * worker's `staging` buffers (shared memory), `slot`; `buffer` is that slot's buffer when the frame
 * is the first to use a slot the worker was not created with.
 */
export interface WorkerFrame {
  slot: number;
  buffer?: SharedArrayBuffer;
  width: number;
  height: number;
  offsetX: number;
  offsetY: number;
  /** As PreparedFrame.source: the staged pixels are this size and the fill resizes them. */
  source?: { width: number; height: number };
}

export interface WorkerOutput {
  data: Float32Array;
  dims: number[];
}

export type WorkerReply =
  | { type: 'ready'; inputShape: (number | string)[]; inputNames: string[]; outputNames: string[]; providers: string }
  | { type: 'result'; id: number; outputs: Record<string, WorkerOutput>[]; tensorMs: number; inferenceMs: number }
  | { type: 'error'; id: number; message: string }
  | { type: 'closed' };

/** The session's settings, and the model input's layout (TensorLayout) the fill writes. */
export interface WorkerConfig extends TensorLayout {
  ortPath: string;
  modelPath: string;
  inputName: string;
  threads: number;
  provider: string;
  /** Shared memory, one per call the worker may hold (see WorkerFrame); a slot grows when a larger frame needs it. */
  staging: SharedArrayBuffer[];
}

/**
 * The body of an inference worker thread. It runs from its source text (see onnx-node.ts), so
 * it is self-contained: modules come through `req`, the tensor fill through `fill`.
 * One ONNX Runtime session per worker: session.run blocks its thread for the whole inference,
 * so the main thread stays free for Scrypted RPC and camera frames.
 */
export function onnxWorkerMain(req: NodeJS.Require, fill: typeof fillTensor): void {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Ort = any;
  const { parentPort, workerData } = req('worker_threads') as typeof import('worker_threads');
  const config = workerData as WorkerConfig;
  const ort: Ort = req(config.ortPath);
  const port = parentPort!;
  const post = (reply: WorkerReply) => port.postMessage(reply);
  const plane = 3 * config.width * config.height;
  let session: Ort;
  // One input buffer per worker, reused for every single-frame run (runs are serialised by the
  // queue below, so nothing else touches it while session.run reads it): saves a 2 MB allocation
  // and its zeroing per frame. The fill writes every element, pad included.
  let single: Float32Array | undefined;
  /** How the frame now in `single` was placed: its pad area is valid for another frame placed the same way. */
  let singlePlacement = '';
  const staged = config.staging.map((buffer) => new Uint8Array(buffer));
  /** Per slot, shared memory the outputs of the run its frame starts are copied into (grown on demand). */
  const outputSlots: SharedArrayBuffer[] = [];

  const run = async (msg: Extract<WorkerRequest, { type: 'run' }>) => {
    for (const f of msg.frames) if (f.buffer) staged[f.slot] = new Uint8Array(f.buffer);
    const groups = msg.stack ? [msg.frames] : msg.frames.map((f) => [f]);
    const outputs: Record<string, WorkerOutput>[] = [];
    let tensorMs = 0;
    let inferenceMs = 0;
    for (const group of groups) {
      const t1 = performance.now();
      const reuse = group.length === 1;
      const data = reuse ? (single ??= new Float32Array(plane)) : new Float32Array(plane * group.length);
      group.forEach((f, i) => {
        // The reused buffer keeps its padding while frames keep the same placement (a camera's always do).
        const placed = `${f.width}x${f.height}+${f.offsetX}+${f.offsetY}`;
        const { width, height } = f.source ?? f;
        const pixels = staged[f.slot].subarray(0, width * height * 3);
        fill(data, i * plane, { ...f, pixels }, config, reuse && placed === singlePlacement);
        if (reuse) singlePlacement = placed;
      });
      const dims = config.nchw ? [group.length, 3, config.height, config.width] : [group.length, config.height, config.width, 3];
      const feeds = { [config.inputName]: new ort.Tensor('float32', data, dims) };
      const t2 = performance.now();
      const result = await session.run(feeds);
      inferenceMs += performance.now() - t2;
      tensorMs += t2 - t1;
      const named: Record<string, WorkerOutput> = {};
      for (const name of Object.keys(result)) {
        const tensor = result[name];
        named[name] = { data: tensor.data as Float32Array, dims: [...tensor.dims] };
      }
      outputs.push(named);
    }
    // Each run answers through the shared output buffer of its first frame's slot: the main thread
    // decodes in place before it frees the slots, so no 1.2 MB buffer per frame ends up as its garbage.
    // Transferring onnxruntime's own output buffers instead saves this copy (0.17 ms) but, profiled at
    // 8 x 25 fps, kept the main thread in garbage collection 7-12% of the time, against 0.5% this way.
    groups.forEach((group, k) => {
      const slot = group[0].slot;
      const bytes = Object.values(outputs[k]).reduce((n, o) => n + o.data.byteLength, 0);
      if (!(outputSlots[slot]?.byteLength >= bytes)) outputSlots[slot] = new SharedArrayBuffer(bytes);
      let offset = 0;
      for (const out of Object.values(outputs[k])) {
        const view = new Float32Array(outputSlots[slot], offset, out.data.length);
        view.set(out.data);
        out.data = view;
        offset += view.byteLength;
      }
    });
    post({ type: 'result', id: msg.id, outputs, tensorMs, inferenceMs });
  };

  const start = async () => {
    const available: { name: string }[] = ort.listSupportedBackends?.() ?? [];
    if (available.length && !available.some((b) => b.name === config.provider)) {
      throw new Error(`execution provider "${config.provider}" is not in this onnxruntime-node build ` +
        `(it has: ${available.map((b) => b.name).join(', ')})`);
    }
    session = await ort.InferenceSession.create(config.modelPath, {
      executionProviders: [config.provider],
      intraOpNumThreads: config.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
    const meta = session.inputMetadata?.find?.((m: { name: string }) => m.name === config.inputName);
    post({ type: 'ready', inputShape: meta?.shape ?? [], inputNames: [...session.inputNames], outputNames: [...session.outputNames], providers: config.provider });
  };

  // Messages wait for the session load: a 'close' arriving mid-load (another worker failed, so
  // the runtime is being torn down) must release the session that load is about to create.
  let queue: Promise<void> = start().catch((e: Error) => post({ type: 'error', id: -1, message: e?.message ?? String(e) }));
  port.on('message', (msg: WorkerRequest) => {
    queue = queue.then(async () => {
      if (msg.type === 'close') {
        await session?.release?.();
        session = undefined;
        post({ type: 'closed' });
        port.close();
        return;
      }
      try {
        await run(msg);
      } catch (e) {
        post({ type: 'error', id: msg.id, message: (e as Error)?.message ?? String(e) });
      }
    });
  });
}
