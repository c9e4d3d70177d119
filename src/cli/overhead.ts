/**
 * Measures where the time goes for one image on the in-process ONNX runtime:
 *   npx tsx src/cli/overhead.ts [--model PATH] [--runs N] [--image FILE]
 * Prints per-stage medians for an encoded image (decode+resize, tensor fill, session.run,
 * decode+NMS) and the plugin's overhead beyond session.run for a raw RGB frame already at the
 * model's input size (total Detector.detect time minus the worker's own session.run time).
 */
import fs from 'fs';
import path from 'path';
import { Detector } from '../engine/detector';

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

async function main(): Promise<void> {
  const model = arg('model', path.resolve('..', 'shared', 'models', 'yolox_nano.onnx'));
  const image = arg('image', path.resolve('..', 'shared', 'media', 'dog.jpg'));
  const runs = Number(arg('runs', '50'));
  const threads = Number(arg('threads', '2'));
  const detector = await Detector.create({ model, runtime: 'onnx', device: 'cpu', threads, concurrency: 1 });
  try {
    const { width, height } = detector.spec.input;
    const options = { confidence: 0.25, iou: 0.45, maxDetections: 100 };

    const encoded = fs.readFileSync(image);
    const stages = { decodeMs: [] as number[], preprocessMs: [] as number[], inferenceMs: [] as number[], postprocessMs: [] as number[], totalMs: [] as number[] };
    for (let i = 0; i < runs + 5; i++) {
      const t0 = performance.now();
      const r = await detector.detect({ kind: 'encoded', data: encoded }, options);
      const total = performance.now() - t0;
      if (i < 5) continue; // warm-up: JIT, libvips caches, ORT arenas
      for (const k of ['decodeMs', 'preprocessMs', 'inferenceMs', 'postprocessMs'] as const) stages[k].push(r.timings[k]);
      stages.totalMs.push(total);
    }
    console.log(`${path.basename(image)} with ${detector.spec.name} (${width}x${height}), ${runs} runs, medians:`);
    console.log(`  decode+resize (libvips)   ${fmt(median(stages.decodeMs))}`);
    console.log(`  preprocess (tensor fill)  ${fmt(median(stages.preprocessMs))}`);
    console.log(`  inference (session.run)   ${fmt(median(stages.inferenceMs))}`);
    console.log(`  postprocess (decode+NMS)  ${fmt(median(stages.postprocessMs))}`);
    console.log(`  total detect()            ${fmt(median(stages.totalMs))}`);

    // A raw RGB frame already at the model's size: what Scrypted's Image.toBuffer({resize}) hands us.
    const raw = new Uint8Array(width * height * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
    const overhead: number[] = [];
    const inference: number[] = [];
    const tensor: number[] = [];
    for (let i = 0; i < runs + 5; i++) {
      const t0 = performance.now();
      const r = await detector.detect({ kind: 'raw', data: raw, width, height, channels: 3 }, options);
      const total = performance.now() - t0;
      if (i < 5) continue;
      overhead.push(total - r.timings.inferenceMs);
      inference.push(r.timings.inferenceMs);
      tensor.push(r.timings.preprocessMs);
    }
    console.log(`raw RGB ${width}x${height}, ${runs} runs, medians:`);
    console.log(`  session.run               ${fmt(median(inference))}`);
    console.log(`  tensor fill (in worker)   ${fmt(median(tensor))}`);
    console.log(`  overhead beyond session.run ${fmt(median(overhead))} (aim <= 1.5 ms)`);
  } finally {
    await detector.close();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
