import type { ModelSpec } from '../models/spec';

/**
 * One image for the model as packed RGB bytes, HWC, placed at (offsetX, offsetY) with size
 * width x height inside the model's input (aspect kept for letterbox models). The runtime fills
 * the rest with the spec's pad value while it builds the tensor: the one pass over the pixels
 * that cannot be avoided also does the padding.
 */
export interface PreparedFrame {
  /** width x height x 3 bytes, or source.width x source.height x 3 when `source` is set. */
  pixels: Uint8Array;
  width: number;
  height: number;
  offsetX: number;
  offsetY: number;
  /**
   * The pixels are this size, not yet resized: the runtime resizes them to width x height while it
   * builds the tensor. Only for runtimes whose info says `resizes`, and only when
   * `runtimeCanResize(source, frame)`.
   */
  source?: { width: number; height: number };
}

/**
 * Largest shrink, per axis, a runtime does itself. Bilinear reads 2x2 source pixels per output
 * pixel: up to 2x every source pixel still counts, beyond it detail would alias (libvips, which
 * widens its kernel with the shrink, does those).
 */
export const MAX_RESIZE_FACTOR = 2;

/**
 * Whether pixels of `source` size may be resized to `placed` size by a runtime: at least 2x2 (the
 * bilinear taps come in pairs), and at most MAX_RESIZE_FACTOR times the placed size per axis.
 */
export function runtimeCanResize(source: { width: number; height: number }, placed: { width: number; height: number }): boolean {
  return source.width >= 2 && source.height >= 2
    && source.width <= placed.width * MAX_RESIZE_FACTOR && source.height <= placed.height * MAX_RESIZE_FACTOR;
}

/** A box in model-input pixels: x1, y1, x2, y2. */
export type Box = [number, number, number, number];

export interface RawDetection {
  classId: number;
  score: number;
  box: Box;
}

export interface DecodeOptions {
  /** Minimum score (objectness x class score where the model has objectness). */
  confidence: number;
  /** IoU above which a lower-scored box of the same class is suppressed. */
  iou: number;
  /** Upper bound on detections per image after NMS. */
  maxDetections: number;
}

export interface StageTimings {
  /** Building the input tensor from the prepared pixels. */
  tensorMs: number;
  /** The model itself (session.run / infer). */
  inferenceMs: number;
  /** Decoding and NMS. */
  postprocessMs: number;
  /** How many frames shared the model call (1 when not batched). */
  batchSize: number;
}

export interface FrameResult {
  detections: RawDetection[];
  timings: StageTimings;
}

export interface RuntimeInfo {
  runtime: string;
  device: string;
  /** How many model calls can be in flight at once (workers or infer requests). */
  concurrency: number;
  /** Largest N this runtime can run as one N-batch tensor; 1 when it loops. */
  maxBatch: number;
  /**
   * Model calls each runner accepts at once (default 1). With 2, the next call's input is already
   * waiting in the runner when the current one finishes, so no runner idles while a result
   * travels back and the next input travels in: worth ~10% of throughput at full load.
   */
  pipelineDepth?: number;
  /**
   * Takes frames with `source` set and resizes them itself (bilinear, half-pixel centres) while it
   * builds the tensor, off the event loop: no libvips call in between, whose fixed cost is about
   * 1 ms on any image.
   */
  resizes?: boolean;
}

/** Model calls a runtime keeps in flight at once: every runner busy, each with `pipelineDepth` calls. */
export function callsInFlight(info: RuntimeInfo): number {
  return info.concurrency * (info.pipelineDepth ?? 1);
}

/**
 * A loaded model on one runtime. It knows nothing of cameras, settings or Scrypted: it turns
 * prepared frames into detections in model-input pixels. Adding a runtime is adding one file
 * that implements this.
 */
export interface DetectorRuntime {
  readonly spec: ModelSpec;
  readonly info: RuntimeInfo;
  /** Runs the frames (one batch), resolving with one result per frame, in order. */
  detect(frames: PreparedFrame[], options: DecodeOptions): Promise<FrameResult[]>;
  /** Releases sessions, workers and child processes. Idempotent. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Execution provider / device: `cpu`, `cuda`, `coreml`, `dml` (onnx); `AUTO`, `CPU`, `GPU`, `NPU` (openvino). */
  device: string;
  /** Intra-op threads per model session (0 lets the runtime decide). */
  threads: number;
  /** Parallel runners (worker threads, infer requests, pool workers). */
  concurrency: number;
}

export class RuntimeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeError';
  }
}
