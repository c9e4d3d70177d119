import type { ModelSpec } from '../../models/spec';
import {
  RuntimeError,
  type DecodeOptions,
  type DetectorRuntime,
  type FrameResult,
  type PreparedFrame,
  type RawDetection,
  type RuntimeInfo,
  type RuntimeOptions,
} from '../runtime';
import { ensurePythonEnvironment } from './environment';
import { inferBatchParts, inferRawParts, inferSharedParts, MsgType, PixelFormat, PLACE_AUTO, type DecodePrefix, type RawImage } from './frames';
import { PoolSupervisor, type BatchMode, type PoolReady, type PoolRuntimeName, type PoolStatusEvent } from './supervisor';

export { PoolRequestError, PoolUnavailableError } from './client';
export { ensurePythonEnvironment, findPython, locateRuntimeDir, PythonEnvironmentError } from './environment';
export * from './frames';
export { SHARED_MEMORY_LIMIT, SharedFrameMemory } from './shared-memory';
export { PoolSupervisor } from './supervisor';
export type { BatchMode, PoolConfig, PoolReady, PoolRuntimeName, PoolState, PoolStatusEvent, SupervisorOptions } from './supervisor';

export interface PythonPoolRuntimeOptions extends RuntimeOptions {
  runtime: PoolRuntimeName;
  /** Folder for virtual environments (the plugin volume). Required unless NVR_PYTHON is set. */
  dataDir?: string;
  /** The Python path setting (empty: python3 / python from PATH). */
  pythonPath?: string;
  batchMode?: BatchMode;
  batchWindowMs?: number;
  maxBatchSize?: number;
  /** Deadline per detect() call (ms). */
  requestTimeoutMs?: number;
  maxInFlight?: number;
  hangTimeoutMs?: number;
  onStatus?: (event: PoolStatusEvent) => void;
  onError?: (err: Error) => void;
  /** Pool stderr lines and environment set-up progress. */
  onLog?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Frames through shared memory where the platform has it (default true; SupervisorOptions.sharedMemory). */
  sharedMemory?: boolean;
}

/**
 * A model served by a Python pool process (OpenVINO, ONNX Runtime for Python or CoreML). Frames
 * go over as RGB (infer_raw, or infer_batch for several): placed ones, so the pool only pads and
 * converts, or ones still to be resized, which the pool resizes and places itself; its boxes come
 * back in each frame's pixels and are mapped into model-input pixels.
 */
export class PythonPoolRuntime implements DetectorRuntime {
  readonly info: RuntimeInfo;

  constructor(
    readonly spec: ModelSpec,
    readonly pool: PoolSupervisor,
    ready: PoolReady,
    private readonly maxBatchSize: number,
  ) {
    const model = ready.models[0]!;
    // The pool queues requests itself: a second call per predict worker keeps it busy across the IPC round trip
    // (OpenVINO starts both at once: REQUESTS_PER_RUNNER in nvr_pool/backends/openvino.py).
    this.info = { runtime: ready.runtime, device: model.device ?? ready.device, concurrency: ready.workers.predict, maxBatch: model.maxBatch, pipelineDepth: 2, resizes: true };
  }

  async detect(frames: PreparedFrame[], options: DecodeOptions): Promise<FrameResult[]> {
    if (!frames.length) return [];
    const prefix: DecodePrefix = { modelIdx: 0, confidence: options.confidence, iou: options.iou, maxDetections: options.maxDetections };
    const images = frames.map(toRawImage);
    const chunks: RawImage[][] = [];
    for (let i = 0; i < images.length; i += this.maxBatchSize) chunks.push(images.slice(i, i + this.maxBatchSize));
    const answers = await Promise.all(chunks.map((chunk) => this.send(prefix, chunk)));
    const results = answers.flatMap((a) => (a as InferAnswer).results);
    return results.map((r, i) => toFrameResult(r, frames[i]));
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** One request: through the shared memory where there is room in it, else through the socket. */
  private async send(prefix: DecodePrefix, chunk: RawImage[]): Promise<unknown> {
    const shared = this.pool.sharedMemory;
    const start = shared?.put(chunk.map((image) => image.data));
    if (start === undefined) {
      return chunk.length === 1
        ? this.pool.request(MsgType.InferRaw, inferRawParts(prefix, chunk[0]!))
        : this.pool.request(MsgType.InferBatch, inferBatchParts(prefix, chunk));
    }
    try {
      return await this.pool.request(MsgType.InferShared, inferSharedParts(prefix, chunk, start));
    } finally {
      shared!.release(start);
    }
  }
}

interface InferAnswer {
  results: {
    detections: [number, number, number, number, number, number][];
    timings: { queueMs: number; preprocessMs: number; predictMs: number; postprocessMs: number; batchSize: number };
  }[];
}

/**
 * A placed frame goes as it is; one still to be resized goes at its own size with automatic
 * placement, which the pool computes as placeImage does and resizes with OpenCV
 * (nvr_pool/preprocess.py).
 */
function toRawImage(frame: PreparedFrame): RawImage {
  const { width, height } = frame.source ?? frame;
  const [x, y] = frame.source ? [PLACE_AUTO, PLACE_AUTO] : [frame.offsetX, frame.offsetY];
  return { width, height, format: PixelFormat.Rgb, x, y, data: frame.pixels };
}

/** The pool's boxes are in the pixels it was sent; model-input pixels are those scaled to the placed size, then shifted. */
function toFrameResult(r: InferAnswer['results'][number], frame: PreparedFrame): FrameResult {
  const sx = frame.source ? frame.width / frame.source.width : 1;
  const sy = frame.source ? frame.height / frame.source.height : 1;
  const detections: RawDetection[] = r.detections.map(([classId, score, x1, y1, x2, y2]) => ({
    classId,
    score,
    box: [x1 * sx + frame.offsetX, y1 * sy + frame.offsetY, x2 * sx + frame.offsetX, y2 * sy + frame.offsetY],
  }));
  const t = r.timings;
  return { detections, timings: { tensorMs: t.preprocessMs, inferenceMs: t.predictMs, postprocessMs: t.postprocessMs, batchSize: t.batchSize } };
}

/**
 * Starts a pool for one model and resolves once it is loaded. Environment set-up (first use:
 * venv + pip install) happens here too, reported through onLog. Throws RuntimeError with the
 * pool's own message when the model or the runtime cannot load.
 */
export async function createPythonPoolRuntime(spec: ModelSpec, modelPath: string, options: PythonPoolRuntimeOptions): Promise<DetectorRuntime> {
  const env = options.env ?? process.env;
  if (!env.NVR_PYTHON && !options.dataDir) throw new RuntimeError('python pool: dataDir (the plugin volume) is required to create its Python environment');
  const pyEnv = await ensurePythonEnvironment({
    runtime: options.runtime,
    dataDir: options.dataDir ?? '',
    pythonPath: options.pythonPath,
    onProgress: options.onLog,
    env,
  });
  const maxBatchSize = Math.max(1, Math.min(255, options.maxBatchSize ?? 8));
  const pool = new PoolSupervisor({
    python: pyEnv.python,
    runtimeDir: pyEnv.runtimeDir,
    config: {
      runtime: options.runtime,
      device: options.device,
      threads: options.threads,
      concurrency: Math.max(1, options.concurrency),
      batch: { mode: options.batchMode ?? 'list', windowMs: options.batchWindowMs ?? 10, maxBatchSize },
      models: [{ spec, path: modelPath }],
    },
    requestTimeoutMs: options.requestTimeoutMs,
    maxInFlight: options.maxInFlight,
    hangTimeoutMs: options.hangTimeoutMs,
    env,
    onStatus: options.onStatus,
    onError: options.onError,
    onLog: options.onLog,
    sharedMemory: options.sharedMemory,
  });
  let ready: PoolReady;
  try {
    ready = await pool.start();
  } catch (err) {
    await pool.close();
    throw new RuntimeError(`${options.runtime}: ${(err as Error).message}`, { cause: err });
  }
  const model = ready.models[0];
  if (!model?.loaded) {
    await pool.close();
    throw new RuntimeError(`${options.runtime}: model "${spec.name}" failed to load: ${model?.error ?? 'unknown error'}`);
  }
  return new PythonPoolRuntime(spec, pool, ready, maxBatchSize);
}

/** Options the plugin supplies per pool beyond RuntimeOptions (data folder, Python path, batching, callbacks). */
export type PythonPoolExtras = Omit<PythonPoolRuntimeOptions, keyof RuntimeOptions | 'runtime'>;

/**
 * The pool as a runtime factory for src/runtimes/index.ts, one per pool runtime. `extras` is
 * read at each creation, so changed settings apply to the next pool.
 */
export function pythonPoolFactory(runtime: PoolRuntimeName, extras: () => PythonPoolExtras) {
  return (modelPath: string, spec: ModelSpec, options: RuntimeOptions): Promise<DetectorRuntime> =>
    createPythonPoolRuntime(spec, modelPath, { ...extras(), ...options, runtime });
}
