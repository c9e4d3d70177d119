import { execFile, spawn } from 'child_process';
import path from 'path';
import { promisify } from 'util';
import { Worker } from 'worker_threads';
import { fillTensor, tensorLayout } from '../../models/tensor';
import type { ModelSpec } from '../../models/spec';
import { loadNative, resolveNative } from '../../native';
import { callsInFlight, type PreparedFrame } from '../../runtimes/runtime';
import { DEFAULT_DETECT_OPTIONS, type Detector } from '../detector';
import { sleep } from './cameras';
import { round } from '../histogram';
import { LatencySamples } from './samples';

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

/** A raw reference's per-run time, ms. */
function perRun(h: LatencySamples): Pick<RawResult, 'p50' | 'p95'> {
  return { p50: round(h.quantile(0.5)), p95: round(h.quantile(0.95)) };
}

/** How a raw reference is paced like one camera's frames: one run per 1/fps s, runs in the first `skipSeconds` not counted, then `seconds` counted. */
export interface Pace {
  fps: number;
  skipSeconds: number;
  seconds: number;
}

/**
 * A raw runtime loaded and warmed up, waiting to be started at a given wall-clock time
 * (Date.now() ms). The one-camera check starts it half a frame period after the camera's frames,
 * so raw runs and the plugin's frames alternate and are timed under the same conditions: on a
 * shared machine, a raw number taken a minute before or after moves by more than the margin checked.
 */
export interface PacedRaw {
  run(startAt: number): Promise<RawResult>;
  /** Gives the runtime back without running (after a failure elsewhere). */
  abort(): void;
}

async function ortMainSession(modelPath: string, spec: ModelSpec, frame: PreparedFrame, threads: number): Promise<{ run: () => Promise<void>; release: () => Promise<void> }> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ort = loadNative<any>('onnxruntime-node');
  const session = await ort.InferenceSession.create(modelPath, sessionOptions(threads));
  const { data, dims } = inputTensor(spec, frame);
  const feeds = { [spec.input.name]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  return { run: () => session.run(feeds), release: async () => session.release?.() };
}

/** Back-to-back session.run on the main thread, batch 1: the classic "raw predict" number. */
export async function rawOrtMain(modelPath: string, spec: ModelSpec, frame: PreparedFrame, threads: number, seconds: number): Promise<RawResult> {
  const session = await ortMainSession(modelPath, spec, frame, threads);
  const h = new LatencySamples();
  const started = performance.now();
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    await session.run();
    h.record(performance.now() - t);
  }
  const elapsed = (performance.now() - started) / 1000;
  await session.release();
  return { label: `ort main thread x${threads}t`, kind: 'ort-main', runners: 1, threads, runsPerSecond: round(h.count / elapsed), ...perRun(h) };
}

/**
 * session.run on the main thread at one camera's pace: a model that idles between frames runs
 * each one with colder caches and a sleeping core, and a latency compared with the plugin's at
 * that pace must see the same.
 */
export async function pacedOrtMain(modelPath: string, spec: ModelSpec, frame: PreparedFrame, threads: number, pace: Pace): Promise<PacedRaw> {
  const session = await ortMainSession(modelPath, spec, frame, threads);
  return {
    run: async (startAt) => {
      const h = new LatencySamples();
      const period = 1000 / pace.fps;
      const first = performance.now() + (startAt - Date.now());
      const countFrom = first + pace.skipSeconds * 1000;
      const end = countFrom + pace.seconds * 1000;
      try {
        for (let tick = first; tick < end; tick += period) {
          await sleep(tick - performance.now());
          const t = performance.now();
          await session.run();
          if (t >= countFrom) h.record(performance.now() - t);
        }
      } finally {
        await session.release();
      }
      return { label: `ort main thread x${threads}t paced ${pace.fps} fps`, kind: 'ort-main', runners: 1, threads, runsPerSecond: round(h.count / pace.seconds), ...perRun(h) };
    },
    abort: () => void session.release(),
  };
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
    const h = new LatencySamples();
    for (const r of replies) for (const t of r.times!) h.record(t);
    return { label: `ort ${runners} worker(s) x${threads}t`, kind: 'ort-workers', runners, threads, runsPerSecond: round(h.count / seconds), ...perRun(h) };
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
  const h = new LatencySamples();
  const end = performance.now() + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      const [r] = await runtime.detect([frame], options);
      h.record(r.timings.inferenceMs);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: callsInFlight(runtime.info) }, loop));
  const elapsed = (performance.now() - started) / 1000;
  return { label, kind: 'runtime-direct', runners: runtime.info.concurrency, threads: detector.config.threads, runsPerSecond: round(h.count / elapsed), ...perRun(h) };
}

/**
 * A Python runtime alone (python-runtime/tools/raw_bench.py): `runners` infer requests of
 * `threads` threads, back to back, batch 1, compiled the way the pool compiles it; with
 * `paceFps`, one request at a time at that rate (a single camera's raw predict time).
 */
function rawPythonArgs(runtime: string, modelPath: string, device: string, runners: number, threads: number): string[] {
  const script = path.resolve(__dirname, '../../../python-runtime/tools/raw_bench.py');
  return [script, '--runtime', runtime, '--model', modelPath, '--device', device, '--runners', String(runners), '--threads', String(threads)];
}

interface PythonRawLine {
  runsPerSecond: number;
  p50: number;
  p95: number;
}

export async function rawPython(python: string, runtime: string, modelPath: string, device: string, runners: number, threads: number, seconds: number): Promise<RawResult> {
  const args = [...rawPythonArgs(runtime, modelPath, device, runners, threads), '--seconds', String(seconds)];
  const { stdout } = await promisify(execFile)(python, args, { timeout: (seconds + 120) * 1000 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as PythonRawLine;
  return { label: `${runtime} alone ${runners} runner(s) x${threads}t`, kind: 'python-raw', runners, threads, ...r };
}

/**
 * The Python runtime alone, compiled as the pool compiles it for `runners`, one request at a time
 * at one camera's pace (see PacedRaw). Resolves once its model is loaded and warm.
 */
export async function pacedPython(python: string, runtime: string, modelPath: string, device: string, runners: number, threads: number, pace: Pace): Promise<PacedRaw> {
  const args = [...rawPythonArgs(runtime, modelPath, device, runners, threads), '--seconds', String(pace.seconds), '--skip-seconds', String(pace.skipSeconds), '--pace-fps', String(pace.fps), '--start-on-stdin'];
  const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let waiting: (() => void) | undefined;
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts.filter((l) => l.trim()));
    waiting?.();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const failed = (code: number | null) => new Error(`raw ${runtime} reference exited (${code}) before answering: ${stderr.trim() || 'no output'}`);
  const nextLine = async (): Promise<string> => {
    const timer = setTimeout(() => child.kill(), (pace.skipSeconds + pace.seconds + 120) * 1000);
    try {
      while (!lines.length) {
        const line = new Promise<void>((resolve) => (waiting = resolve));
        const code = await Promise.race([line, exited]);
        if (!lines.length && code !== undefined) throw failed(code as number | null);
      }
      return lines.shift()!;
    } finally {
      clearTimeout(timer);
    }
  };
  await nextLine(); // {"ready": true}
  return {
    run: async (startAt) => {
      child.stdin.end(`${startAt / 1000}\n`);
      const r = JSON.parse(await nextLine()) as PythonRawLine;
      return { label: `${runtime} alone ${runners} runner(s) x${threads}t, one at a time paced ${pace.fps} fps`, kind: 'python-raw', runners, threads, ...r };
    },
    abort: () => void child.kill(),
  };
}
