import { COCO_LABELS } from './labels';
import type { OnnxGraphInfo } from './onnx-info';
import { validateSpec, type ModelSpec } from './spec';

/** A model the plugin knows by name: where to get it, how to check it, how to run it. */
export interface CatalogEntry {
  id: string;
  description: string;
  fileName: string;
  url?: string;
  sha256: string;
  size: number;
  spec: ModelSpec;
}

function labelsFor(count: number): string[] {
  return count === COCO_LABELS.length ? [...COCO_LABELS] : Array.from({ length: count }, (_, i) => `class${i}`);
}

const yoloxSpec = (name: string, width: number, height = width, inputName = 'images', output = 'output', classes = COCO_LABELS.length): ModelSpec => ({
  name,
  input: { name: inputName, width, height, layout: 'nchw', channelOrder: 'bgr', scale: 1, resize: 'letterbox', placement: 'top-left', padValue: 114 },
  output,
  decoder: { kind: 'yolox', strides: [8, 16, 32] },
  labels: labelsFor(classes),
});

export const CATALOG: CatalogEntry[] = [
  {
    id: 'yolox_nano',
    description: 'YOLOX-Nano 416 (Apache-2.0), COCO mAP 25.8: the default, fast on any CPU',
    fileName: 'yolox_nano.onnx',
    url: 'https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx',
    sha256: 'e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd',
    size: 3_678_356,
    spec: yoloxSpec('yolox_nano', 416),
  },
  {
    id: 'yolov5s',
    description: 'YOLOv5s 640 (TF.js export, AGPL-3.0 upstream: bring your own file)',
    fileName: 'yolov5s.onnx',
    sha256: '21ff331735896717163eb3e71cca410a7f09b61450b88e4a2fc0e0e371b65276',
    size: 29_054_902,
    spec: {
      name: 'yolov5s',
      input: { name: 'input_1', width: 640, height: 640, layout: 'nhwc', channelOrder: 'rgb', scale: 1 / 255, resize: 'letterbox', placement: 'center', padValue: 114 },
      output: 'Identity',
      decoder: { kind: 'yolov5', normalized: true },
      labels: [...COCO_LABELS],
    },
  },
];

export const DEFAULT_MODEL_ID = 'yolox_nano';

export function catalogEntry(idOrSha: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.id === idOrSha || e.sha256 === idOrSha);
}

export class SpecInferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecInferenceError';
  }
}

/**
 * Infers a spec for an unknown ONNX file from its input and output shapes, following each
 * family's export conventions (YOLOX: BGR 0..255, top-left letterbox; Ultralytics: RGB 0..1,
 * centred letterbox). A sidecar `<model>.json` overrides this when the conventions differ.
 */
export function inferSpec(name: string, info: OnnxGraphInfo): ModelSpec {
  const fail = (why: string): never => {
    throw new SpecInferenceError(
      `cannot tell how to run "${name}": ${why}; put a model spec beside it as ${name}.json (see README, "Models")`,
    );
  };
  if (info.inputs.length !== 1) fail(`it has ${info.inputs.length} inputs, expected 1 image input`);
  const input = info.inputs[0];
  const d = input.dims;
  if (d.length !== 4) fail(`input "${input.name}" has shape [${d.join(', ')}], expected 4 dimensions`);
  const nchw = d[1] === 3;
  if (!nchw && d[3] !== 3) fail(`input "${input.name}" [${d.join(', ')}] has no 3-channel axis`);
  const height = nchw ? d[2] : d[1];
  const width = nchw ? d[3] : d[2];
  if (width <= 0 || height <= 0) fail(`input "${input.name}" has a dynamic size; the spec must give it`);
  const out = info.outputs[0];
  const o = out.dims;
  const ultralytics = (decoder: ModelSpec['decoder'], classes: number): ModelSpec => ({
    name,
    input: { name: input.name, width, height, layout: nchw ? 'nchw' : 'nhwc', channelOrder: 'rgb', scale: 1 / 255, resize: 'letterbox', placement: 'center', padValue: 114 },
    output: out.name,
    decoder,
    labels: labelsFor(classes),
  });
  let spec: ModelSpec | undefined;
  if (o.length === 3 && o[2] > 5) {
    const gridRows = [8, 16, 32].reduce((sum, s) => sum + (width / s) * (height / s), 0);
    if (o[1] === gridRows) spec = yoloxSpec(name, width, height, input.name, out.name, o[2] - 5);
    else if (o[2] === 6 && info.outputs.length === 1) spec = ultralytics({ kind: 'nms-free', boxFormat: 'xyxy', normalized: false }, 80);
    else if (o[1] > 0 && o[1] < o[2]) spec = ultralytics({ kind: 'yolov8' }, o[1] - 4);
    else spec = ultralytics({ kind: 'yolov5', normalized: false }, o[2] - 5);
  }
  if (!spec) return fail(`output "${out.name}" has shape [${o.join(', ')}], which matches no known layout`);
  return validateSpec(spec);
}
