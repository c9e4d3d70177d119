import fs from 'fs';
import os from 'os';
import { DEFAULT_DETECT_OPTIONS, Detector, type DetectionTimings, type DetectOptions } from '../engine/detector';
import { COCO_CATEGORY_IDS, COCO_LABELS } from '../models/labels';
import { readOnnxInfo } from '../models/onnx-info';
import { validateSpec, type ModelSpec } from '../models/spec';
import { resolveModel } from '../models/store';
import { configurePythonPool, createRuntime, defaultPoolExtras } from '../runtimes';
import { RuntimeError } from '../runtimes/runtime';
import { imagePath, openDataset, type CocoDataset, type CocoDetection, type CocoGroundTruth } from './coco-dataset';
import { evaluateCoco, type CocoEvalResult } from './coco-metric';

/**
 * Runs the plugin's own detection path (Detector: prepare -> runtime.detect -> finish, exactly
 * what detectObjects uses) over a COCO folder and scores it with the COCO metric.
 */

export class EvalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EvalError';
  }
}

export interface EvalConfig {
  cocoDir: string;
  annotationFile?: string;
  /** Catalog id or .onnx path. */
  model: string;
  runtime: string;
  device: string;
  threads: number;
  concurrency: number;
  /** Square model input size; only for models whose graph has dynamic height and width. */
  inputSize?: number;
  /** Floor for detections kept for the mAP (0.001 is COCO practice). */
  confidence: number;
  iou: number;
  maxDetections: number;
  limit?: number;
  /** Threshold at which precision and recall are reported. */
  scoreThreshold: number;
  /** Also write the detections here in COCO's results format (for pycocotools or other tools). */
  detectionsFile?: string;
  onProgress?: (done: number, total: number) => void;
  /** Runtime set-up lines (the Python pool's environment and stderr). */
  onLog?: (line: string) => void;
}

export const DEFAULT_EVAL: Omit<EvalConfig, 'cocoDir'> = {
  model: 'yolox_nano',
  runtime: 'onnx',
  device: 'cpu',
  threads: 2,
  concurrency: 1,
  confidence: 0.001,
  iou: 0.45,
  maxDetections: 100,
  scoreThreshold: DEFAULT_DETECT_OPTIONS.confidence, // what users see: precision / recall are reported there
};

/** The model's spec at another square input size, refused when the graph's input size is fixed. */
export function specAtSize(modelPath: string, spec: ModelSpec, size: number): ModelSpec {
  const { input } = spec;
  if (size === input.width && size === input.height) return spec;
  let dims: number[] | undefined;
  try {
    dims = readOnnxInfo(fs.readFileSync(modelPath)).inputs.find((i) => i.name === input.name)?.dims;
  } catch {
    dims = undefined;
  }
  if (!dims || dims.length !== 4) throw new EvalError(`cannot read the input shape of ${modelPath}, so cannot run it at --input-size ${size}`);
  const [h, w] = input.layout === 'nchw' ? [dims[2], dims[3]] : [dims[1], dims[2]];
  if (h > 0 || w > 0) {
    throw new EvalError(
      `model ${spec.name} has a fixed ${w}x${h} input (graph input "${input.name}" is [${dims.join(', ')}]), so --input-size ${size} cannot be used; ` +
        `export the model at ${size} or with dynamic height/width axes, or leave --input-size out`,
    );
  }
  try {
    return validateSpec({ ...spec, input: { ...input, width: size, height: size } });
  } catch (e) {
    throw new EvalError(`--input-size ${size} does not suit ${spec.name}: ${(e as Error).message}`, { cause: e });
  }
}

/** A Detector for the evaluation: the catalog/file model on the named runtime, optionally resized. */
export async function createEvalDetector(config: Pick<EvalConfig, 'model' | 'runtime' | 'device' | 'threads' | 'concurrency' | 'inputSize' | 'onLog'>): Promise<Detector> {
  const detectorConfig = { model: config.model, runtime: config.runtime, device: config.device, threads: config.threads, concurrency: config.concurrency };
  // Pool runtimes (openvino, onnx-python, coreml) log their set-up through the evaluation's log.
  if (config.onLog) {
    const onLog = config.onLog;
    configurePythonPool(() => ({ ...defaultPoolExtras(), onLog }));
  }
  const model = await resolveModel(config.model);
  const spec = config.inputSize ? specAtSize(model.path, model.spec, config.inputSize) : model.spec;
  try {
    const runtime = await createRuntime(config.runtime, model.path, spec, detectorConfig);
    return new Detector({ ...model, spec }, runtime, detectorConfig);
  } catch (e) {
    if (e instanceof RuntimeError && /unknown runtime/.test(e.message)) {
      throw new EvalError(`runtime "${config.runtime}" is not available in this build: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/** COCO category id of each of the model's classes; the model must be a COCO-80 model. */
export function cocoCategoryMap(spec: ModelSpec, gt: CocoGroundTruth): number[] {
  const names = new Map(gt.categories.map((c) => [c.id, c.name]));
  return spec.labels.map((label, classId) => {
    const at = COCO_LABELS.indexOf(label);
    if (at < 0) throw new EvalError(`model ${spec.name} class ${classId} "${label}" is not a COCO class; COCO evaluation needs a COCO-80 model`);
    const id = COCO_CATEGORY_IDS[at];
    const gtName = names.get(id);
    if (gtName !== undefined && gtName !== label) {
      throw new EvalError(`COCO category ${id} is "${gtName}" in the annotations but "${label}" in the model's labels: the class mapping would be wrong`);
    }
    return id;
  });
}

export interface DatasetRun {
  detections: CocoDetection[];
  seconds: number;
  imagesPerSecond: number;
  /** Mean per-image stage times from the Detector, ms. */
  stageMs: DetectionTimings;
}

/**
 * Detects every image of the dataset through `detector.detect` (up to `concurrency` at once so
 * that decoding one image overlaps inference on another) and returns COCO-format detections.
 */
export async function detectDataset(
  detector: Detector,
  dataset: CocoDataset,
  options: DetectOptions,
  concurrency = 1,
  onProgress?: (done: number, total: number) => void,
): Promise<DatasetRun> {
  const categoryOf = cocoCategoryMap(detector.spec, dataset.gt);
  const images = dataset.gt.images;
  const perImage: CocoDetection[][] = new Array(images.length);
  const stageMs: DetectionTimings = { decodeMs: 0, preprocessMs: 0, inferenceMs: 0, postprocessMs: 0 };
  let next = 0;
  let done = 0;
  let failed = false;
  const started = performance.now();
  const work = async () => {
    while (next < images.length && !failed) {
      const index = next++;
      const image = images[index];
      const file = imagePath(dataset, image);
      let data: Buffer;
      try {
        data = fs.readFileSync(file);
      } catch (e) {
        throw new EvalError(`cannot read image ${file}: ${(e as Error).message}`, { cause: e });
      }
      const result = await detector.detect({ kind: 'encoded', data }, options).catch((e: Error) => {
        throw new EvalError(`detection failed on ${file}: ${e.message}`, { cause: e });
      });
      const [w, h] = result.inputDimensions;
      if (w !== image.width || h !== image.height) {
        throw new EvalError(`${file} decodes to ${w}x${h} but the annotations say ${image.width}x${image.height}: boxes would not line up`);
      }
      for (const key of Object.keys(stageMs) as (keyof typeof stageMs)[]) stageMs[key] += result.timings[key];
      perImage[index] = result.detections.map((d) => ({ image_id: image.id, category_id: categoryOf[d.classId], bbox: d.boundingBox, score: d.score }));
      onProgress?.(++done, images.length);
    }
  };
  // One failure ends the run: the other lanes stop taking images (and the caller closes the detector).
  const worker = () => work().catch((e: unknown) => {
    failed = true;
    throw e;
  });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, images.length)) }, worker));
  const seconds = (performance.now() - started) / 1000;
  for (const key of Object.keys(stageMs) as (keyof typeof stageMs)[]) stageMs[key] /= images.length;
  return { detections: perImage.flat(), seconds, imagesPerSecond: images.length / seconds, stageMs };
}

export interface EvalReport {
  model: string;
  runtime: string;
  device: string;
  inputSize: string;
  threads: number;
  concurrency: number;
  images: number;
  annotationFile: string;
  confidence: number;
  iou: number;
  maxDetections: number;
  imagesPerSecond: number;
  seconds: number;
  stageMs: DatasetRun['stageMs'];
  metric: Omit<CocoEvalResult, 'precision' | 'recall' | 'dims'>;
  /** The machine, so a speed figure taken on a busy or small host reads as such. */
  host: { cpus: number; loadAverageStart: number; loadAverageEnd: number };
  date: string;
}

/** Opens the dataset, runs the detector over it and scores the result. */
export async function runEvaluation(config: EvalConfig): Promise<EvalReport> {
  // Open (and check) the dataset before loading a model: a bad folder fails in milliseconds.
  const dataset = openDataset(config.cocoDir, { annotationFile: config.annotationFile, limit: config.limit });
  const loadAverageStart = os.loadavg()[0];
  const detector = await createEvalDetector(config);
  try {
    const options: DetectOptions = { confidence: config.confidence, iou: config.iou, maxDetections: config.maxDetections };
    const run = await detectDataset(detector, dataset, options, config.concurrency, config.onProgress);
    if (config.detectionsFile) fs.writeFileSync(config.detectionsFile, JSON.stringify(run.detections));
    const { precision: _p, recall: _r, dims: _d, ...metric } = evaluateCoco(dataset.gt, run.detections, { scoreThreshold: config.scoreThreshold });
    const { width, height } = detector.spec.input;
    return {
      model: detector.spec.name,
      runtime: config.runtime,
      device: config.device,
      inputSize: width === height ? String(width) : `${width}x${height}`,
      threads: config.threads,
      concurrency: config.concurrency,
      images: dataset.gt.images.length,
      annotationFile: dataset.annotationFile,
      confidence: config.confidence,
      iou: config.iou,
      maxDetections: config.maxDetections,
      imagesPerSecond: run.imagesPerSecond,
      seconds: run.seconds,
      stageMs: run.stageMs,
      metric,
      host: { cpus: os.cpus().length, loadAverageStart, loadAverageEnd: os.loadavg()[0] },
      date: new Date().toISOString(),
    };
  } finally {
    await detector.close();
  }
}
