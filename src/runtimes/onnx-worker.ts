/**
 * The program of an inference worker thread (see onnx-node.ts): one ONNX Runtime session per
 * worker. session.run blocks its thread for the whole inference, so the main thread stays free
 * for Scrypted RPC and camera frames. The worker does all of a frame's work but staging its
 * pixels: the tensor fill, the run, and the decode, so what goes back is a few detections, not
 * the model's 1.2 MB output. It runs as one script bundled from this file (worker-source.ts),
 * not imported.
 */
import { createRequire } from 'module';
import { parentPort, workerData } from 'worker_threads';
import { decode, OutputLayoutError, type ModelOutputs } from '../models/decoders';
import { fillTensor } from '../models/tensor';
import { SimdTensor } from '../models/tensor-simd';
import type { WorkerConfig, WorkerReply, WorkerRequest } from './onnx-protocol';
import type { RawDetection } from './runtime';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ort = any;
const config = workerData as WorkerConfig;
const ort: Ort = createRequire(config.ortPath)(config.ortPath);
const port = parentPort!;
const post = (reply: WorkerReply) => port.postMessage(reply);
const plane = 3 * config.width * config.height;
let session: Ort;
// The input tensors live in WebAssembly memory, where the SIMD fill writes them; the same memory
// serves every run (runs are serialised by the queue below, so nothing else touches it while
// session.run reads it): no 2 MB allocation and zeroing per frame.
const tensors = new SimdTensor(config);
/** How the single frame last written was placed: its pad area is valid for another frame placed the same way. */
let singlePlacement = '';
const staged = config.staging.map((buffer) => new Uint8Array(buffer));

async function run(msg: Extract<WorkerRequest, { type: 'run' }>): Promise<void> {
  for (const f of msg.frames) if (f.buffer) staged[f.slot] = new Uint8Array(f.buffer);
  const groups = msg.stack ? [msg.frames] : msg.frames.map((f) => [f]);
  const detections: RawDetection[][] = [];
  const runs: number[] = [];
  let tensorMs = 0;
  let inferenceMs = 0;
  let postprocessMs = 0;
  for (const group of groups) {
    const t1 = performance.now();
    const data = tensors.tensor(group.length);
    // A single frame keeps the pad of the one before while frames keep the same placement (a
    // camera's always do); a stacked call writes over it.
    const placed = group.length === 1 ? `${group[0].width}x${group[0].height}+${group[0].offsetX}+${group[0].offsetY}` : '';
    group.forEach((f, i) => {
      const { width, height } = f.source ?? f;
      const frame = { ...f, pixels: staged[f.slot].subarray(0, width * height * 3) };
      const padDone = placed !== '' && placed === singlePlacement;
      if (tensors.takes(frame)) tensors.fill(i, frame, padDone);
      else fillTensor(data, i * plane, frame, config, padDone);
    });
    singlePlacement = placed;
    const dims = config.nchw ? [group.length, 3, config.height, config.width] : [group.length, config.height, config.width, 3];
    const feeds = { [config.inputName]: new ort.Tensor('float32', data, dims) };
    const t2 = performance.now();
    const result: ModelOutputs = await session.run(feeds);
    const t3 = performance.now();
    // Decoded here, where the outputs are still in this core's cache: copying them to the main
    // thread cost 0.17 ms a frame, and handing it onnxruntime's buffers put its garbage collector at 7-12%.
    group.forEach((_, i) => detections.push(decode(config.spec, result, i, msg.options)));
    runs.push(Object.values(result)[0]?.dims[0] ?? group.length);
    tensorMs += t2 - t1;
    inferenceMs += t3 - t2;
    postprocessMs += performance.now() - t3;
  }
  post({ type: 'result', id: msg.id, detections, runs, tensorMs, inferenceMs, postprocessMs });
}

async function start(): Promise<void> {
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
  post({ type: 'ready', inputShape: meta?.shape ?? [], inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
}

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
      post({ type: 'error', id: msg.id, message: (e as Error)?.message ?? String(e), layout: e instanceof OutputLayoutError });
    }
  });
});
