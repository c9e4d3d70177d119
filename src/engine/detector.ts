import { toSourceBox, toXywh, type Placement } from '../models/geometry';
import { prepareImage, type ImageSource, type PreparedImage } from '../models/preprocess';
import { resolveModel, type ResolvedModel, type StoreOptions } from '../models/store';
import { createRuntime } from '../runtimes';
import type { DecodeOptions, DetectorRuntime, FrameResult, RuntimeOptions } from '../runtimes/runtime';

export interface Detection {
  className: string;
  classId: number;
  score: number;
  /** [x, y, width, height] in the source image's pixels. */
  boundingBox: [number, number, number, number];
}

export interface DetectionTimings {
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
}

export interface DetectionResult {
  inputDimensions: [number, number];
  detections: Detection[];
  timings: DetectionTimings;
  batchSize: number;
}

export interface DetectOptions extends DecodeOptions {
  /** Report only these class names (all when empty or absent). */
  classes?: readonly string[];
}

export const DEFAULT_DETECT_OPTIONS: DetectOptions = { confidence: 0.25, iou: 0.45, maxDetections: 100 };

export interface DetectorConfig extends RuntimeOptions {
  /** Model file path or catalog id. */
  model: string;
  runtime: string;
  store?: StoreOptions;
}

/**
 * One loaded model on one runtime, with the stages around it: prepare (decode and resize with
 * libvips, or hand a raw frame up to 2x the model's size to a runtime that resizes it), run, and
 * finish (map boxes back to the source image, name and filter classes). The plugin, the CLI, the
 * scheduler and the accuracy evaluation all go through these stages.
 */
export class Detector {
  constructor(readonly model: ResolvedModel, readonly runtime: DetectorRuntime, readonly config: DetectorConfig) {}

  static async create(config: DetectorConfig): Promise<Detector> {
    const model = await resolveModel(config.model, config.store);
    const runtime = await createRuntime(config.runtime, model.path, model.spec, config);
    return new Detector(model, runtime, config);
  }

  get spec() {
    return this.model.spec;
  }

  prepare(source: ImageSource): Promise<PreparedImage> {
    return prepareImage(source, this.spec.input, { runtimeResizes: this.runtime.info.resizes });
  }

  finish(placement: Placement, result: FrameResult, decodeMs: number, options: Pick<DetectOptions, 'classes'> = {}): DetectionResult {
    const started = performance.now();
    const wanted = options.classes?.length ? new Set(options.classes) : undefined;
    const detections: Detection[] = [];
    for (const d of result.detections) {
      const className = this.spec.labels[d.classId] ?? `class${d.classId}`;
      if (wanted && !wanted.has(className)) continue;
      detections.push({ className, classId: d.classId, score: d.score, boundingBox: toXywh(toSourceBox(d.box, placement)) });
    }
    const { timings } = result;
    return {
      inputDimensions: [placement.srcWidth, placement.srcHeight],
      detections,
      timings: {
        decodeMs,
        preprocessMs: timings.tensorMs,
        inferenceMs: timings.inferenceMs,
        postprocessMs: timings.postprocessMs + (performance.now() - started),
      },
      batchSize: timings.batchSize,
    };
  }

  /** Prepare, run alone (no scheduler) and finish one image. */
  async detect(source: ImageSource, options: DetectOptions = DEFAULT_DETECT_OPTIONS): Promise<DetectionResult> {
    const prepared = await this.prepare(source);
    const [result] = await this.runtime.detect([prepared.frame], options);
    return this.finish(prepared.placement, result, prepared.decodeMs, options);
  }

  close(): Promise<void> {
    return this.runtime.close();
  }
}
