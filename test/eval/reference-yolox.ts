/**
 * A reference YOLOX-Nano pipeline written straight from ../shared/models/MODELS.md, sharing no
 * code with the plugin (no src/ import): the JPEG is decoded to full-size pixels (sharp, decode
 * only), letterboxed by this file's own OpenCV-style bilinear resize (YOLOX's own preproc uses
 * cv2.resize INTER_LINEAR to int(w*r) x int(h*r), top-left, pad 114), filled into a BGR 0..255
 * NCHW tensor here, run on onnxruntime-node directly, decoded from the grid, divided by r and
 * put through this file's own per-class NMS. The pipeline functions use nothing from src/.
 * accuracy.test.ts holds the plugin to it.
 *
 * Also a command, comparing it with the plugin over the full 500 images:
 *   npx tsx test/eval/reference-yolox.ts --coco ../shared/coco [--limit N] [--model FILE]
 */
import fs from 'fs';
import path from 'path';
// Only the command at the bottom (plugin vs reference) uses these; the reference pipeline does not.
import { imagePath, openDataset } from '../../src/eval/coco-dataset';
import { evaluateCoco } from '../../src/eval/coco-metric';
import { createEvalDetector, detectDataset } from '../../src/eval/run-eval';

// Loaded by name, not through src/native.ts: this file must not share the plugin's code paths.
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
const sharp = require('sharp') as typeof import('sharp');

const SIZE = 416;
const STRIDES = [8, 16, 32];
const NUM_CLASSES = 80;
const PAD = 114;
/** COCO's 91-id scheme for the 80 classes in model order (from the COCO annotation files). */
const CATEGORY_IDS = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34,
  35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
  64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
];

export interface ReferenceDetection {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

export interface ReferenceOptions {
  /**
   * `cv2`: this file's OpenCV-style bilinear resize (no antialiasing, as YOLOX's own eval does).
   * `libvips`: sharp's resize with the linear kernel (which widens the kernel when shrinking).
   */
  resizer?: 'cv2' | 'libvips';
  confidence: number;
  iou: number;
  /** Per image, after NMS, best scores first. */
  maxDetections: number;
}

interface Rgb {
  data: Uint8Array;
  width: number;
  height: number;
}

async function decodeRgb(file: string): Promise<Rgb> {
  const { data, info } = await sharp(fs.readFileSync(file)).raw().toBuffer({ resolveWithObject: true });
  const { width, height, channels } = info;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, s = 0; i < width * height; i++, s += channels) {
    if (channels < 3) rgb.fill(data[s], i * 3, i * 3 + 3); // grey (+ alpha)
    else {
      rgb[i * 3] = data[s];
      rgb[i * 3 + 1] = data[s + 1];
      rgb[i * 3 + 2] = data[s + 2];
    }
  }
  return { data: rgb, width, height };
}

/** Source index and weight per destination coordinate, as cv2.resize(INTER_LINEAR) computes them. */
function linearTaps(src: number, dst: number): { i0: Int32Array; i1: Int32Array; w: Float64Array } {
  const scale = src / dst;
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const w = new Float64Array(dst);
  for (let d = 0; d < dst; d++) {
    const f = (d + 0.5) * scale - 0.5;
    let s = Math.floor(f);
    let a = f - s;
    if (s < 0) {
      s = 0;
      a = 0;
    }
    if (s >= src - 1) {
      s = src - 1;
      a = 0;
    }
    i0[d] = s;
    i1[d] = Math.min(s + 1, src - 1);
    w[d] = a;
  }
  return { i0, i1, w };
}

function resizeCv2(img: Rgb, rw: number, rh: number): Rgb {
  const out = new Uint8Array(rw * rh * 3);
  const xs = linearTaps(img.width, rw);
  const ys = linearTaps(img.height, rh);
  for (let y = 0; y < rh; y++) {
    const row0 = ys.i0[y] * img.width;
    const row1 = ys.i1[y] * img.width;
    const wy = ys.w[y];
    for (let x = 0; x < rw; x++) {
      const c0 = xs.i0[x];
      const c1 = xs.i1[x];
      const wx = xs.w[x];
      for (let c = 0; c < 3; c++) {
        const p00 = img.data[(row0 + c0) * 3 + c];
        const p01 = img.data[(row0 + c1) * 3 + c];
        const p10 = img.data[(row1 + c0) * 3 + c];
        const p11 = img.data[(row1 + c1) * 3 + c];
        const v = (p00 * (1 - wx) + p01 * wx) * (1 - wy) + (p10 * (1 - wx) + p11 * wx) * wy;
        out[(y * rw + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(v)));
      }
    }
  }
  return { data: out, width: rw, height: rh };
}

async function resizeLibvips(img: Rgb, rw: number, rh: number): Promise<Rgb> {
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(rw, rh, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return { data, width: rw, height: rh };
}

/** Letterbox into a [1, 3, 416, 416] BGR float tensor, values 0..255, image at the top-left. */
async function letterboxTensor(img: Rgb, resizer: 'cv2' | 'libvips'): Promise<{ tensor: Float32Array; r: number }> {
  const r = Math.min(SIZE / img.width, SIZE / img.height);
  const rw = Math.trunc(img.width * r);
  const rh = Math.trunc(img.height * r);
  const small = resizer === 'cv2' ? resizeCv2(img, rw, rh) : await resizeLibvips(img, rw, rh);
  const plane = SIZE * SIZE;
  const tensor = new Float32Array(3 * plane).fill(PAD);
  for (let y = 0; y < rh; y++) {
    for (let x = 0; x < rw; x++) {
      const s = (y * rw + x) * 3;
      // RGB in, BGR planes out.
      tensor[y * SIZE + x] = small.data[s + 2];
      tensor[plane + y * SIZE + x] = small.data[s + 1];
      tensor[2 * plane + y * SIZE + x] = small.data[s];
    }
  }
  return { tensor, r };
}

interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  cls: number;
}

function overlap(a: Candidate, b: Candidate): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter);
}

function decodeGrid(out: Float32Array, r: number, options: ReferenceOptions): Candidate[] {
  const perClass = new Map<number, Candidate[]>();
  let row = 0;
  for (const stride of STRIDES) {
    const g = SIZE / stride;
    for (let gy = 0; gy < g; gy++) {
      for (let gx = 0; gx < g; gx++, row++) {
        const o = row * (5 + NUM_CLASSES);
        let cls = 0;
        for (let c = 1; c < NUM_CLASSES; c++) if (out[o + 5 + c] > out[o + 5 + cls]) cls = c;
        const score = out[o + 4] * out[o + 5 + cls];
        if (score < options.confidence) continue;
        const cx = (out[o] + gx) * stride;
        const cy = (out[o + 1] + gy) * stride;
        const w = Math.exp(out[o + 2]) * stride;
        const h = Math.exp(out[o + 3]) * stride;
        const list = perClass.get(cls) ?? [];
        list.push({ x1: (cx - w / 2) / r, y1: (cy - h / 2) / r, x2: (cx + w / 2) / r, y2: (cy + h / 2) / r, score, cls });
        perClass.set(cls, list);
      }
    }
  }
  if (row !== out.length / (5 + NUM_CLASSES)) throw new Error(`output has ${out.length / 85} rows, MODELS.md says ${row}`);
  const kept: Candidate[] = [];
  for (const list of perClass.values()) {
    list.sort((a, b) => b.score - a.score);
    const keep: Candidate[] = [];
    for (const c of list) if (keep.every((k) => overlap(k, c) <= options.iou)) keep.push(c);
    kept.push(...keep);
  }
  return kept.sort((a, b) => b.score - a.score).slice(0, options.maxDetections);
}

export interface ReferenceImage {
  id: number;
  file: string;
}

/** Runs the reference over the images and returns COCO-format detections. */
export async function referenceYoloxDetections(modelPath: string, images: ReferenceImage[], options: ReferenceOptions, threads = 2): Promise<ReferenceDetection[]> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: threads, executionProviders: ['cpu'] });
  try {
    const results: ReferenceDetection[] = [];
    for (const image of images) {
      const { tensor, r } = await letterboxTensor(await decodeRgb(image.file), options.resizer ?? 'cv2');
      const outputs = await session.run({ images: new ort.Tensor('float32', tensor, [1, 3, SIZE, SIZE]) });
      const out = outputs.output.data as Float32Array;
      for (const d of decodeGrid(out, r, options)) {
        results.push({ image_id: image.id, category_id: CATEGORY_IDS[d.cls], bbox: [d.x1, d.y1, d.x2 - d.x1, d.y2 - d.y1], score: d.score });
      }
    }
    return results;
  } finally {
    await session.release();
  }
}

async function main(): Promise<number> {
  const arg = (name: string) => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const coco = path.resolve(arg('coco') ?? path.join('..', 'shared', 'coco'));
  const limit = arg('limit') ? Number(arg('limit')) : undefined;
  const model = path.resolve(arg('model') ?? path.join('..', 'shared', 'models', 'yolox_nano.onnx'));
  const options = { confidence: 0.001, iou: 0.45, maxDetections: 100 };
  const dataset = openDataset(coco, { limit });
  const images = dataset.gt.images.map((im) => ({ id: im.id, file: imagePath(dataset, im) }));
  const f = (v: number) => (v * 100).toFixed(2);
  const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const t = performance.now();
    const value = await fn();
    return [value, (performance.now() - t) / 1000];
  };
  const detector = await createEvalDetector({ model, runtime: 'onnx', device: 'cpu', threads: 2, concurrency: 1 });
  let plugin;
  let pluginSeconds;
  try {
    [plugin, pluginSeconds] = await timed(async () => evaluateCoco(dataset.gt, (await detectDataset(detector, dataset, options)).detections));
  } finally {
    await detector.close();
  }
  console.log(`${images.length} images, confidence ${options.confidence}, NMS ${options.iou}, max ${options.maxDetections}`);
  console.log(`plugin (Detector, onnx):           mAP ${f(plugin.stats.ap)}  mAP50 ${f(plugin.stats.ap50)}  (${pluginSeconds.toFixed(1)} s)`);
  let worst = 0;
  for (const resizer of ['libvips', 'cv2'] as const) {
    const [reference, seconds] = await timed(async () => evaluateCoco(dataset.gt, await referenceYoloxDetections(model, images, { ...options, resizer })));
    const diff = (plugin.stats.ap - reference.stats.ap) * 100;
    if (resizer === 'libvips') worst = Math.abs(diff);
    console.log(
      `reference, ${resizer.padEnd(7)} resize:   mAP ${f(reference.stats.ap)}  mAP50 ${f(reference.stats.ap50)}  (${seconds.toFixed(1)} s)  ` +
        `plugin - reference: ${diff >= 0 ? '+' : ''}${diff.toFixed(2)} points`,
    );
  }
  console.log('gate: plugin within 0.5 points of the libvips-resize reference (the cv2 row shows what the resampler alone is worth)');
  return worst <= 0.5 ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(e.message);
      process.exit(1);
    },
  );
}
