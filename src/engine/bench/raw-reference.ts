import { execFile } from 'child_process';
import path from 'path';
import { promisify } from 'util';
import { Worker } from 'worker_threads';
import { fillTensor, tensorLayout } from '../../models/tensor';
import type { ModelSpec } from '../../models/spec';
import { loadNative, resolveNative } from '../../native';
import { callsInFlight, type PreparedFrame } from '../../runtimes/runtime';
import { DEFAULT_DETECT_OPTIONS, type Detector } from '../detector';
import { LatencyHistogram, round } from '../histogram';

/** What the model sustains with no plugin code around it. */
export interface RawResult {
  label: string;
  /**
   * `ort-main`, `ort-workers` (onnxruntime-node alone), `python-raw` (OpenVINO or ONNX Runtime
   * for Python alone, no pool code) or `runtime-direct` (our runtime, no scheduler).
   */
  kind: 'ort-main' | 'ort-workers' | 'python-raw' | 'runtime-direct';
  runners: number;
  threads: number;
  runsPerSecond: number;
  /** Per run, ms. */
  p50: number;
  p95: number;
}

function inputTensor(spec: ModelSpec, frame: PreparedFrame): { data: Float32Array; dims: number[] } {
  const { input } = spec;
  const data = new Float32Array(3 * input.width * input.height);
  fillTensor(data, 0, frame, tensorLayout(input));
  const dims = input.layout === 'nchw' ? [1, 3, input.height, input.width] : [1, input.height, input.width, 3];
  return { data, dims };
}

function sessionOptions(threads: number) {
  return { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 };
}

/**
 * Back-to-back session.run on the main thread, batch 1: the classic "raw predict" number. With
 * `paceFps`, one run per 1/paceFps seconds instead, the arrival pattern of a single camera: a
 * model that idles between frames runs each one with colder caches and a sleeping core, and a
 * latency compared with the plugin's at that pace must see the same.
 */
export async function rawOrtMain(modelPath: string, spec: ModelSpec, frame: PreparedFrame, threads: number, seconds: number, paceFps = 0): Promise<RawResult> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ort = loadNative<any>('onnxruntime-node');
  const session = await ort.InferenceSession.create(modelPath, sessionOptions(threads));
  const { data, dims } = inputTensor(spec, frame);
  const feeds = { [spec.input.name]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  const h = new LatencyHistogram();
  const end = performance.now() + seconds * 1000;
  let runs = 0;
  const started = performance.now();
  while (performance.now() < end) {
    const t = performance.now();
    await session.run(feeds);
    h.record(performance.now() - t);
    runs++;
    if (paceFps > 0) await new Promise((r) => setTimeout(r, Math.max(0, 1000 / paceFps - (performance.now() - t))));
  }
  const elapsed = (performance.now() - started) / 1000;
  await session.release?.();
  return { label: `ort main thread x${threads}t${paceFps > 0 ? ` paced ${paceFps} fps` : ''}`, kind: 'ort-main', runners: 1, threads, runsPerSecond: round(runs / elapsed), p50: round(h.quantile(0.5)), p95: round(h.quantile(0.95)) };
}

const RAW_WORKER = `
const { parentPort, workerData } = require('worker_threads');
const ort = require(workerData.ortPath);
(async () => {
  const session = await ort.InferenceSession.create(workerData.modelPath, workerData.options);
  const feeds = { [workerData.inputName]: new ort.Tensor('float32', new Float32Array(workerData.data), workerData.dims) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  parentPort.postMessage({ type: 'ready' });
  parentPort.once('message', async ({ until }) => {
    const times = [];
    // Both clocks are epoch-based so the main thread's deadline means the same here.
    while (Date.now() < until) {
      const t = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t);
    }
    await session.release();
    parentPort.postMessage({ type: 'done', times });
  });
})().catch((e) => parentPort.postMessage({ type: 'error', message: String(e && e.message || e) }));
`;

/** `runners` worker threads, one session each, all running back to back at once. */
export async function rawOrtWorkers(modelPath: string, spec: ModelSpec, frame: PreparedFrame, runners: number, threads: number, seconds: number): Promise<RawResult> {
  const { data, dims } = inputTensor(spec, frame);
  const workerData = { ortPath: resolveNative('onnxruntime-node'), modelPath, options: sessionOptions(threads), inputName: spec.input.name, data: data.buffer, dims };
  const workers = Array.from({ length: runners }, () => new Worker(RAW_WORKER, { eval: true, workerData }));
  const next = (w: Worker) => new Promise<{ type: string; times?: number[]; message?: string }>((resolve, reject) => {
    w.once('message', (m) => (m.type === 'error' ? reject(new Error(m.message)) : resolve(m)));
    w.once('error', reject);
  });
  try {
    await Promise.all(workers.map(next));
    const until = Date.now() + seconds * 1000;
    const done = Promise.all(workers.map(next));
    workers.forEach((w) => w.postMessage({ until }));
    const replies = await done;
    const h = new LatencyHistogram();
    let runs = 0;
    for (const r of replies) for (const t of r.times!) {
      h.record(t);
      runs++;
    }
    return { label: `ort ${runners} worker(s) x${threads}t`, kind: 'ort-workers', runners, threads, runsPerSecond: round(runs / seconds), p50: round(h.quantile(0.5)), p95: round(h.quantile(0.95)) };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Our runtime alone (any runtime: how the Python pool's raw number is taken): as many loops back to
 * back as the scheduler keeps calls in flight (`concurrency` x `pipelineDepth`), so a runtime that
 * pipelines is fed the way the plugin feeds it.
 */
export async function runtimeDirect(detector: Detector, frame: PreparedFrame, seconds: number, label: string): Promise<RawResult> {
  const { runtime } = detector;
  const options = DEFAULT_DETECT_OPTIONS;
  for (let i = 0; i < 3; i++) await runtime.detect([frame], options);
  const h = new LatencyHistogram();
  const end = performance.now() + seconds * 1000;
  let runs = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const [r] = await runtime.detect([frame], options);
      h.record(r.timings.inferenceMs);
      runs++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: callsInFlight(runtime.info) }, loop));
  const elapsed = (performance.now() - started) / 1000;
  return { label, kind: 'runtime-direct', runners: runtime.info.concurrency, threads: detector.config.threads, runsPerSecond: round(runs / elapsed), p50: round(h.quantile(0.5)), p95: round(h.quantile(0.95)) };
}

/**
 * A Python runtime alone (python-runtime/tools/raw_bench.py): `runners` infer requests of
 * `threads` threads, back to back, batch 1, compiled the way the pool compiles it; with
 * `paceFps`, one request at a time at that rate (a single camera's raw predict time).
 */
export async function rawPython(python: string, runtime: string, modelPath: string, device: string, runners: number, threads: number, seconds: number, paceFps = 0): Promise<RawResult> {
  const script = path.resolve(__dirname, '../../../python-runtime/tools/raw_bench.py');
  const args = [script, '--runtime', runtime, '--model', modelPath, '--device', device, '--runners', String(runners), '--threads', String(threads), '--seconds', String(seconds), '--pace-fps', String(paceFps)];
  const { stdout } = await promisify(execFile)(python, args, { timeout: (seconds + 120) * 1000 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { runsPerSecond: number; p50: number; p95: number };
  return { label: `${runtime} alone ${runners} runner(s) x${threads}t${paceFps > 0 ? ` paced ${paceFps} fps` : ''}`, kind: 'python-raw', runners, threads, ...r };
}
