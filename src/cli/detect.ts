import fs from 'fs';
import path from 'path';
import type { DetectionResult } from '../engine/detector';
import { DetectionScheduler } from '../engine/scheduler';
import { DEFAULT_MODEL_ID } from '../models/catalog';
import type { ImageSource } from '../models/preprocess';
import { defaultConcurrency, defaultThreads } from '../plugin/settings';
import { detectorFromOptions, listOption, numberOption, parseCommandLine, runMain, RUNTIME_OPTIONS, UsageError } from './args';
import { runVideo } from './detect-video';

const USAGE = `usage: npm run detect -- [options] FILE...
       npm run detect -- --video FILE [--cameras N] [--fps F] [options]

Detects objects in images (JPEG, PNG, WebP) with the plugin's own pipeline.

  --model PATH|ID     an .onnx file or a built-in model (default ${DEFAULT_MODEL_ID}: from the cache,
                      ../shared/models or $NVR_MODELS_DIR, else downloaded once and checked)
  --runtime NAME      onnx (default), openvino, onnx-python, coreml
  --device NAME       cpu (default), cuda, coreml, dml; openvino: AUTO, CPU, GPU, NPU
  --threads N         threads per runner (default ${defaultThreads()})
  --concurrency N     runners (default ${defaultConcurrency()})
  --confidence C      minimum score (default 0.25)
  --iou T             NMS IoU (default 0.45)
  --classes A,B       only these classes
  --json              JSON output
  --video FILE        run a video file as N cameras, each through the camera pipeline
                      (unchanged-frame skip, tracking); with --json, per-frame detections with track ids
  --cameras N         cameras fed from the video (default 1), each from a different point of it
  --fps F             frames per second per camera (default: the video's; 0: as fast as it decodes)
  --seconds S         stop after S seconds
  --no-skip           analyse every frame (no unchanged-frame skip)`;

const OPTIONS = {
  ...RUNTIME_OPTIONS,
  confidence: { type: 'string' },
  iou: { type: 'string' },
  classes: { type: 'string' },
  video: { type: 'string' },
  cameras: { type: 'string' },
  fps: { type: 'string' },
  seconds: { type: 'string' },
  'no-skip': { type: 'boolean', default: false },
} as const;

export interface FileResult extends Omit<DetectionResult, 'batchSize' | 'detections'> {
  file: string;
  detections: { className: string; score: number; boundingBox: [number, number, number, number] }[];
  error?: string;
}

function table(results: FileResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.file}${r.inputDimensions ? ` (${r.inputDimensions.join('x')})` : ''}`);
    if (r.error) {
      lines.push(`  error: ${r.error}`);
      continue;
    }
    if (!r.detections.length) lines.push('  no detections');
    for (const d of r.detections) {
      const [x, y, w, h] = d.boundingBox.map((v) => Math.round(v));
      lines.push(`  ${d.className.padEnd(14)} ${d.score.toFixed(2)}  x=${x} y=${y} w=${w} h=${h}`);
    }
    const t = r.timings;
    lines.push(`  timings: decode ${t.decodeMs.toFixed(1)} ms, preprocess ${t.preprocessMs.toFixed(1)} ms, ` +
      `inference ${t.inferenceMs.toFixed(1)} ms, postprocess ${t.postprocessMs.toFixed(1)} ms`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine(OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.video) return runVideo(values);
  if (!positionals.length) throw new UsageError(`no image given\n${USAGE}`);
  const options = {
    confidence: numberOption('confidence', values.confidence, 0.25, 0, 1),
    iou: numberOption('iou', values.iou, 0.45, 0, 1),
    maxDetections: 100,
    classes: listOption(values.classes),
  };
  const detector = await detectorFromOptions(values, (message) => console.error(message));
  // Files are API requests: answered in order through the same scheduler cameras use.
  const scheduler = new DetectionScheduler({ requestQueueLimit: Math.max(32, positionals.length) }, detector);
  let failures = 0;
  try {
    const results = await Promise.all(positionals.map(async (file): Promise<FileResult> => {
      const started = performance.now();
      let source: ImageSource;
      try {
        source = { kind: 'encoded', data: fs.readFileSync(file), mimeType: path.extname(file).slice(1) };
      } catch (e) {
        failures++;
        return { file, error: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` } as FileResult;
      }
      try {
        const r = await scheduler.request(source, options);
        const readMs = performance.now() - started - r.latency.totalMs;
        return {
          file,
          inputDimensions: r.inputDimensions,
          detections: r.detections.map(({ className, score, boundingBox }) => ({ className, score: Number(score.toFixed(4)), boundingBox: boundingBox.map((v) => Number(v.toFixed(1))) as FileResult['detections'][0]['boundingBox'] })),
          timings: { ...r.timings, decodeMs: r.timings.decodeMs + Math.max(0, readMs) },
        };
      } catch (e) {
        failures++;
        return { file, error: (e as Error).message } as FileResult;
      }
    }));
    console.log(values.json ? JSON.stringify(results, null, 2) : table(results));
  } finally {
    await scheduler.close();
  }
  return failures ? 1 : 0;
}

if (require.main === module) runMain(main);
