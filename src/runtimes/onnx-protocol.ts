import type { TensorLayout } from '../models/tensor';
import type { ModelSpec } from '../models/spec';
import type { DecodeOptions, RawDetection } from './runtime';

/** What the main thread sends an inference worker (onnx-worker.ts). */
export type WorkerRequest =
  | { type: 'run'; id: number; frames: WorkerFrame[]; stack: boolean; options: DecodeOptions }
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

export type WorkerReply =
  | { type: 'ready'; inputShape: (number | string)[]; inputNames: string[]; outputNames: string[] }
  | {
    type: 'result';
    id: number;
    /** Per frame, its decoded detections in model-input pixels. */
    detections: RawDetection[][];
    /** Frames per session.run (the output's batch axis): [N] for a stacked call, N ones for a loop. */
    runs: number[];
    tensorMs: number;
    inferenceMs: number;
    postprocessMs: number;
  }
  /** `layout`: the model's outputs do not match its spec (the decoder's OutputLayoutError). */
  | { type: 'error'; id: number; message: string; layout?: boolean }
  | { type: 'closed' };

/** The session's settings, the model's spec (for the decoder), and the input's layout the fill writes. */
export interface WorkerConfig extends TensorLayout {
  ortPath: string;
  modelPath: string;
  spec: ModelSpec;
  inputName: string;
  threads: number;
  provider: string;
  /** Shared memory, one per call the worker may hold (see WorkerFrame); a slot grows when a larger frame needs it. */
  staging: SharedArrayBuffer[];
}
