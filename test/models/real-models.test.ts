/**
 * The decoders on the REAL models' outputs: images prepared by prepareImage, the tensor built by
 * fillTensor, the model run by onnxruntime-node directly in this process (no worker, so only the
 * model layer is under test), decoded and mapped back to source pixels.
 */
import fs from 'fs';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogEntry } from '../../src/models/catalog';
import { decode, type ModelOutputs } from '../../src/models/decoders';
import { toSourceBox, toXywh } from '../../src/models/geometry';
import { prepareImage, type ImageSource } from '../../src/models/preprocess';
import type { ModelSpec } from '../../src/models/spec';
import { fillTensor, tensorLayout } from '../../src/models/tensor';
import { loadNative } from '../../src/native';
import { iouXywh, media, YOLOV5, YOLOX, YOLOX_DOG } from './helpers';

type Ort = typeof import('onnxruntime-node');
const ort = loadNative<Ort>('onnxruntime-node');
const options = { confidence: 0.3, iou: 0.45, maxDetections: 100 };

interface Found { className: string; score: number; box: number[] }

async function detectDirect(session: InferenceSession, spec: ModelSpec, source: ImageSource, threshold = options.confidence): Promise<Found[]> {
  const { frame, placement } = await prepareImage(source, spec.input);
  const { width: W, height: H, layout } = spec.input;
  const data = new Float32Array(W * H * 3);
  fillTensor(data, 0, frame, tensorLayout(spec.input));
  const dims = layout === 'nchw' ? [1, 3, H, W] : [1, H, W, 3];
  const result = await session.run({ [spec.input.name]: new ort.Tensor('float32', data, dims) });
  const outputs: ModelOutputs = {};
  for (const [name, t] of Object.entries(result)) outputs[name] = { data: t.data as Float32Array, dims: t.dims };
  return decode(spec, outputs, 0, { ...options, confidence: threshold }).map((d) => ({
    className: spec.labels[d.classId],
    score: d.score,
    box: toXywh(toSourceBox(d.box, placement)),
  }));
}

const file = (name: string): ImageSource => ({ kind: 'encoded', data: fs.readFileSync(media(name)) });
const classes = (found: Found[], min = 0) => found.filter((f) => f.score >= min).map((f) => f.className).sort();

describe('YOLOX-Nano: yolox decoder on real outputs', () => {
  const spec = catalogEntry('yolox_nano')!.spec;
  let session: InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(YOLOX, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  });
  afterAll(() => session?.release());

  it("dog.jpg: dog, car, bicycle within IoU 0.9 of MODELS.md's boxes and scores within 0.05", async () => {
    const found = await detectDirect(session, spec, file('dog.jpg'));
    for (const want of YOLOX_DOG) {
      const hit = found.find((f) => f.className === want.className);
      expect(hit, `${want.className} not found in ${JSON.stringify(found)}`).toBeDefined();
      expect(iouXywh(hit!.box, want.box)).toBeGreaterThan(0.9);
      expect(hit!.score).toBeCloseTo(want.score, 1);
    }
  });

  it('person.jpg: person, dog, horse', async () => {
    expect(classes(await detectDirect(session, spec, file('person.jpg')), 0.8)).toEqual(['dog', 'horse', 'person']);
  });

  it('giraffe.jpg: giraffe 0.93, zebra 0.65', async () => {
    const found = await detectDirect(session, spec, file('giraffe.jpg'));
    expect(found.find((f) => f.className === 'giraffe')!.score).toBeCloseTo(0.93, 1);
    expect(found.find((f) => f.className === 'zebra')!.score).toBeCloseTo(0.65, 1);
  });

  it('basketball1.png: two persons', async () => {
    const persons = (await detectDirect(session, spec, file('basketball1.png'))).filter((f) => f.className === 'person' && f.score > 0.7);
    expect(persons).toHaveLength(2);
    expect(iouXywh(persons[0].box, persons[1].box)).toBeLessThan(0.1);
  });

  it('iceblock.jpg: nothing above 0.5', async () => {
    expect(await detectDirect(session, spec, file('iceblock.jpg'), 0.5)).toEqual([]);
  });

  it('the same image as JPEG and as raw RGB / RGBA gives near-identical detections', async () => {
    const sharp = loadNative<typeof import('sharp')>('sharp');
    const jpeg = fs.readFileSync(media('dog.jpg'));
    const fromJpeg = await detectDirect(session, spec, { kind: 'encoded', data: jpeg });
    for (const channels of [3, 4] as const) {
      const pipe = sharp(jpeg);
      const { data, info } = await (channels === 4 ? pipe.ensureAlpha() : pipe).raw().toBuffer({ resolveWithObject: true });
      const fromRaw = await detectDirect(session, spec, { kind: 'raw', data, width: info.width, height: info.height, channels });
      expect(fromRaw.map((f) => f.className)).toEqual(fromJpeg.map((f) => f.className));
      fromRaw.forEach((f, i) => {
        expect(Math.abs(f.score - fromJpeg[i].score)).toBeLessThan(0.02);
        expect(iouXywh(f.box, fromJpeg[i].box)).toBeGreaterThan(0.97);
      });
    }
  });

  it('a grey raw frame still finds the dog', async () => {
    const sharp = loadNative<typeof import('sharp')>('sharp');
    const { data, info } = await sharp(fs.readFileSync(media('dog.jpg'))).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(1);
    const found = await detectDirect(session, spec, { kind: 'raw', data, width: info.width, height: info.height, channels: 1 });
    expect(iouXywh(found.find((f) => f.className === 'dog')!.box, YOLOX_DOG[0].box)).toBeGreaterThan(0.75); // colour helps: 0.85 seen
  });
});

describe('YOLOv5s: yolov5 decoder (normalised) on real outputs', () => {
  const spec = catalogEntry('yolov5s')!.spec;
  let session: InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(YOLOV5, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  });
  afterAll(() => session?.release());

  it('dog.jpg: dog, bicycle, car (dog 0.91), boxes agreeing with YOLOX', async () => {
    const found = await detectDirect(session, spec, file('dog.jpg'));
    expect(classes(found)).toEqual(expect.arrayContaining(['bicycle', 'car', 'dog']));
    expect(found.find((f) => f.className === 'dog')!.score).toBeCloseTo(0.91, 1);
    for (const want of YOLOX_DOG) {
      const hit = found.find((f) => f.className === want.className)!;
      expect(iouXywh(hit.box, want.box), want.className).toBeGreaterThan(0.7);
    }
  });

  it('person.jpg: person, dog, horse; iceblock.jpg: nothing above 0.5', async () => {
    expect(classes(await detectDirect(session, spec, file('person.jpg')), 0.8)).toEqual(['dog', 'horse', 'person']);
    expect(await detectDirect(session, spec, file('iceblock.jpg'), 0.5)).toEqual([]);
  });
});
