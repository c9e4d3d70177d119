/**
 * COCO accuracy of exactly what the plugin runs (Detector: prepare -> runtime -> finish):
 *
 *   npm run eval -- --coco ../shared/coco [--runtime onnx|openvino|onnx-python] [--model yolox_nano|yolov5s|FILE]
 *                   [--input-size S] [--confidence 0.001] [--limit N] [--json]
 *
 * Prints mAP@[.5:.95], mAP@.5, mAP small/medium/large, per-class AP, images/s and precision /
 * recall at the plugin's default threshold; writes bench/results/eval-<model>-<runtime>-<size>.json
 * and rebuilds bench/results/eval-summary.{md,csv}.
 */
import path from 'path';
import { parseArgs } from 'util';
import { numberOption, optionalNumber, RUNTIME_OPTIONS, UsageError } from './args';
import { CocoDatasetError } from '../eval/coco-dataset';
import { DEFAULT_RESULTS_DIR, saveReport } from '../eval/results';
import { DEFAULT_EVAL, EvalError, runEvaluation, type EvalConfig, type EvalReport } from '../eval/run-eval';

const USAGE = `usage: npm run eval -- --coco DIR [options]

  --coco DIR            COCO folder: one instances_*.json and images/ (e.g. ../shared/coco)
  --annotations FILE    annotation file inside DIR, when it has several
  --model M             catalog id (yolox_nano, yolov5s) or .onnx path        [${DEFAULT_EVAL.model}]
  --runtime R           onnx, openvino, onnx-python (Python pool: set NVR_PYTHON to a Python
                        that has the runtime, or one is installed on first use)  [${DEFAULT_EVAL.runtime}]
  --device D            execution device: cpu, cuda, ... (onnx); CPU, GPU, AUTO (openvino)  [cpu / CPU]
  --input-size S        square model input; only for models with dynamic height/width
  --confidence C        detection floor for the mAP (COCO practice: 0.001)      [${DEFAULT_EVAL.confidence}]
  --threshold T         score at which precision/recall are reported            [${DEFAULT_EVAL.scoreThreshold}]
  --iou I               NMS IoU                                                 [${DEFAULT_EVAL.iou}]
  --max-detections N    per image                                              [${DEFAULT_EVAL.maxDetections}]
  --limit N             first N images only (result file gets a -<N>img suffix)
  --threads N           intra-op threads                                        [${DEFAULT_EVAL.threads}]
  --concurrency N       images in flight / runtime workers                      [${DEFAULT_EVAL.concurrency}]
  --out DIR             results folder                                          [${DEFAULT_RESULTS_DIR}]
  --no-save             do not write results
  --detections FILE     also write the detections as COCO results JSON (e.g. for pycocotools)
  --json                print the full report as JSON instead of text`;

function parse(argv: string[]): { config: EvalConfig; json: boolean; save: boolean; out: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RUNTIME_OPTIONS,
      coco: { type: 'string' },
      annotations: { type: 'string' },
      'input-size': { type: 'string' },
      confidence: { type: 'string' },
      threshold: { type: 'string' },
      iou: { type: 'string' },
      'max-detections': { type: 'string' },
      limit: { type: 'string' },
      out: { type: 'string' },
      detections: { type: 'string' },
      'no-save': { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.coco) throw new UsageError('--coco DIR is required');
  const MAX = Number.MAX_SAFE_INTEGER;
  const config: EvalConfig = {
    ...DEFAULT_EVAL,
    cocoDir: path.resolve(values.coco),
    annotationFile: values.annotations,
    detectionsFile: values.detections ? path.resolve(values.detections) : undefined,
    model: values.model ?? DEFAULT_EVAL.model,
    runtime: values.runtime ?? DEFAULT_EVAL.runtime,
    device: values.device ?? (values.runtime === 'openvino' ? 'CPU' : DEFAULT_EVAL.device),
    inputSize: optionalNumber('input-size', values['input-size'], 32, 4096, true),
    confidence: numberOption('confidence', values.confidence, DEFAULT_EVAL.confidence, 0, 1),
    scoreThreshold: numberOption('threshold', values.threshold, DEFAULT_EVAL.scoreThreshold, 0, 1),
    iou: numberOption('iou', values.iou, DEFAULT_EVAL.iou, 0, 1),
    maxDetections: numberOption('max-detections', values['max-detections'], DEFAULT_EVAL.maxDetections, 1, MAX, true),
    limit: optionalNumber('limit', values.limit, 1, MAX, true),
    threads: numberOption('threads', values.threads, DEFAULT_EVAL.threads, 0, 64, true),
    concurrency: numberOption('concurrency', values.concurrency, DEFAULT_EVAL.concurrency, 1, 64, true),
  };
  if (config.maxDetections < 100) console.error(`note: --max-detections ${config.maxDetections} is below COCO's 100; mAP will be understated`);
  return { config, json: !!values.json, save: !values['no-save'], out: values.out ?? DEFAULT_RESULTS_DIR };
}

const pts = (v: number) => (v < 0 ? '    -' : (v * 100).toFixed(1).padStart(5));

function printText(report: EvalReport): void {
  const s = report.metric.stats;
  const op = report.metric.operatingPoint;
  console.log(`${report.model} on ${report.runtime}/${report.device}, input ${report.inputSize}, ${report.images} images, confidence floor ${report.confidence}, NMS ${report.iou}`);
  console.log('');
  console.log(`  mAP@[.5:.95]  ${pts(s.ap)}      mAP@.5  ${pts(s.ap50)}      mAP@.75  ${pts(s.ap75)}`);
  console.log(`  mAP small     ${pts(s.apSmall)}      medium  ${pts(s.apMedium)}      large    ${pts(s.apLarge)}`);
  console.log(`  AR@1          ${pts(s.ar1)}      AR@10   ${pts(s.ar10)}      AR@100   ${pts(s.ar100)}`);
  if (op) {
    console.log(
      `  at score >= ${op.threshold} (IoU .5): precision ${pts(op.precision)}  recall ${pts(op.recall)}  ` +
        `(${op.truePositives} TP, ${op.falsePositives} FP, ${op.groundTruths} objects)`,
    );
  }
  const st = report.stageMs;
  console.log(
    `  speed: ${report.imagesPerSecond.toFixed(1)} images/s over ${report.seconds.toFixed(1)} s ` +
      `(per image: decode+resize ${st.decodeMs.toFixed(1)} ms, tensor ${st.preprocessMs.toFixed(1)} ms, model ${st.inferenceMs.toFixed(1)} ms, decode+NMS ${st.postprocessMs.toFixed(1)} ms)`,
  );
  const load = Math.max(report.host.loadAverageStart, report.host.loadAverageEnd);
  if (load > report.host.cpus) console.log(`  note: load average ${load.toFixed(1)} on ${report.host.cpus} CPUs during the run: other work shared the machine, so the speed is understated`);
  console.log('');
  console.log('  per-class AP@[.5:.95] (AP@.5), objects:');
  const cats = report.metric.categories.filter((c) => c.gtCount > 0 || c.ap >= 0);
  const colWidth = 36;
  const perLine = 3;
  for (let i = 0; i < cats.length; i += perLine) {
    const line = cats
      .slice(i, i + perLine)
      .map((c) => `${c.name.padEnd(15)}${pts(c.ap)} (${pts(c.ap50)}) ${String(c.gtCount).padStart(4)}`.padEnd(colWidth))
      .join('');
    console.log(`    ${line.trimEnd()}`);
  }
  const absent = report.metric.categories.length - cats.length;
  if (absent) console.log(`    (${absent} categories have no objects in this set and are left out of the mean)`);
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (e) {
    console.error(`eval: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { config, json, save, out } = parsed;
  const isTty = process.stderr.isTTY;
  config.onLog = (line) => process.stderr.write(`eval: ${line}\n`);
  config.onProgress = (done, total) => {
    if (done === total || (isTty && done % 10 === 0) || (!isTty && done % 100 === 0)) {
      process.stderr.write(`${isTty ? '\r' : ''}eval: ${done}/${total} images${isTty && done !== total ? '' : '\n'}`);
    }
  };
  try {
    const report = await runEvaluation(config);
    if (json) console.log(JSON.stringify(report, null, 1));
    else printText(report);
    if (save) {
      const written = saveReport(report, out, config.limit === undefined);
      console.error(`eval: wrote ${written.join(', ')}`);
    }
    return 0;
  } catch (e) {
    const known = e instanceof EvalError || e instanceof CocoDatasetError || (e instanceof Error && /Error$/.test(e.name) && e.name !== 'Error');
    console.error(`eval: ${known ? (e as Error).message : (e as Error).stack ?? String(e)}`);
    return 1;
  }
}

main().then((code) => process.exit(code));
