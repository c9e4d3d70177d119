/**
 * A model spec is everything the pipeline needs to know about a detection model, as plain data:
 * how to turn an image into the input tensor and how to turn the output tensors into boxes.
 * The same JSON shape is sent to the Python pool (see docs/protocol.md), so keep it serialisable.
 */

export type TensorLayout = 'nchw' | 'nhwc';
export type ChannelOrder = 'rgb' | 'bgr';
export type ResizeMode = 'letterbox' | 'stretch';
export type LetterboxPlacement = 'top-left' | 'center';

export interface InputSpec {
  /** Name of the input tensor in the model graph. */
  name: string;
  width: number;
  height: number;
  layout: TensorLayout;
  channelOrder: ChannelOrder;
  /** Each 0..255 pixel value is multiplied by this (1 for YOLOX, 1/255 for Ultralytics models). */
  scale: number;
  resize: ResizeMode;
  placement: LetterboxPlacement;
  /** Pad value in 0..255 pixel units, before scaling (114 is the YOLO convention). */
  padValue: number;
}

/** Anchor-free YOLOX grid output `[1, A, 5 + nc]` with A = sum over strides of (W/s)*(H/s). */
export interface YoloxDecoderSpec {
  kind: 'yolox';
  strides: number[];
}

/** YOLOv5-style decoded output `[1, N, 5 + nc]`: cx, cy, w, h, objectness, class scores. */
export interface Yolov5DecoderSpec {
  kind: 'yolov5';
  /** Box coordinates are fractions of the input size rather than input pixels. */
  normalized: boolean;
}

/** Ultralytics YOLOv8 / YOLO11 / YOLOv9 output `[1, 4 + nc, N]`: cx, cy, w, h, class scores. */
export interface Yolov8DecoderSpec {
  kind: 'yolov8';
}

/**
 * End-to-end (NMS-free) exports. Either one output `[1, N, 6]` of x1, y1, x2, y2, score, class
 * (YOLOv10 style) or two outputs, boxes `[1, N, 4]` and per-class scores `[1, N, nc]`
 * (RT-DETR / D-FINE style).
 */
export interface NmsFreeDecoderSpec {
  kind: 'nms-free';
  boxFormat: 'xyxy' | 'cxcywh';
  normalized: boolean;
  /** Output names when boxes and scores are separate tensors. */
  boxesOutput?: string;
  scoresOutput?: string;
}

export type DecoderSpec = YoloxDecoderSpec | Yolov5DecoderSpec | Yolov8DecoderSpec | NmsFreeDecoderSpec;

export interface ModelSpec {
  /** Short name shown to users, e.g. `yolox_nano`. */
  name: string;
  input: InputSpec;
  /** Name of the (first) output tensor. */
  output: string;
  decoder: DecoderSpec;
  /** Class names, index = class id. */
  labels: string[];
}

export class ModelSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelSpecError';
  }
}

/** Refuses a spec that could not work, with a message that names the bad field. */
export function validateSpec(spec: ModelSpec): ModelSpec {
  const bad = (field: string, why: string): never => {
    throw new ModelSpecError(`model spec "${spec.name}": ${field} ${why}`);
  };
  const { input } = spec;
  if (!input.name) bad('input.name', 'is empty');
  for (const dim of ['width', 'height'] as const) {
    if (!Number.isInteger(input[dim]) || input[dim] < 8 || input[dim] > 4096) bad(`input.${dim}`, 'must be an integer in 8..4096');
  }
  if (input.layout !== 'nchw' && input.layout !== 'nhwc') bad('input.layout', 'must be nchw or nhwc');
  if (input.channelOrder !== 'rgb' && input.channelOrder !== 'bgr') bad('input.channelOrder', 'must be rgb or bgr');
  if (!(input.scale > 0)) bad('input.scale', 'must be positive');
  if (input.resize !== 'letterbox' && input.resize !== 'stretch') bad('input.resize', 'must be letterbox or stretch');
  if (input.placement !== 'top-left' && input.placement !== 'center') bad('input.placement', 'must be top-left or center');
  if (!(input.padValue >= 0 && input.padValue <= 255)) bad('input.padValue', 'must be in 0..255');
  if (!spec.output) bad('output', 'is empty');
  if (!spec.labels.length) bad('labels', 'is empty');
  const { decoder } = spec;
  switch (decoder.kind) {
    case 'yolox':
      if (!decoder.strides.length || decoder.strides.some((s) => !(s > 0) || input.width % s || input.height % s)) {
        bad('decoder.strides', 'must be positive and divide the input size');
      }
      break;
    case 'yolov5':
    case 'yolov8':
      break;
    case 'nms-free':
      if (decoder.boxFormat !== 'xyxy' && decoder.boxFormat !== 'cxcywh') bad('decoder.boxFormat', 'must be xyxy or cxcywh');
      break;
    default:
      bad('decoder.kind', `"${(decoder as { kind: string }).kind}" is not one of yolox, yolov5, yolov8, nms-free`);
  }
  return spec;
}
