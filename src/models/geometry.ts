import type { Box } from '../runtimes/runtime';
import type { InputSpec } from './spec';

/**
 * How an image of srcWidth x srcHeight was placed in the model input: model = src * scale + offset.
 * Letterbox models use one scale for both axes; stretch models use two.
 */
export interface Placement {
  srcWidth: number;
  srcHeight: number;
  /** Size of the resized image inside the model input. */
  width: number;
  height: number;
  offsetX: number;
  offsetY: number;
  scaleX: number;
  scaleY: number;
}

export function placeImage(srcWidth: number, srcHeight: number, input: InputSpec): Placement {
  if (input.resize === 'stretch') {
    return {
      srcWidth, srcHeight, width: input.width, height: input.height, offsetX: 0, offsetY: 0,
      scaleX: input.width / srcWidth, scaleY: input.height / srcHeight,
    };
  }
  const scale = Math.min(input.width / srcWidth, input.height / srcHeight);
  const width = Math.min(input.width, Math.max(1, Math.round(srcWidth * scale)));
  const height = Math.min(input.height, Math.max(1, Math.round(srcHeight * scale)));
  const centred = input.placement === 'center';
  return {
    srcWidth, srcHeight, width, height,
    offsetX: centred ? Math.floor((input.width - width) / 2) : 0,
    offsetY: centred ? Math.floor((input.height - height) / 2) : 0,
    // The effective scale of the pixels actually produced, so rounding of the resized size is undone exactly.
    scaleX: width / srcWidth,
    scaleY: height / srcHeight,
  };
}

/** Maps a model-input box back to the source image's pixels, clamped to the image. */
export function toSourceBox(box: Box, p: Placement): Box {
  const clamp = (v: number, max: number) => Math.min(max, Math.max(0, v));
  return [
    clamp((box[0] - p.offsetX) / p.scaleX, p.srcWidth),
    clamp((box[1] - p.offsetY) / p.scaleY, p.srcHeight),
    clamp((box[2] - p.offsetX) / p.scaleX, p.srcWidth),
    clamp((box[3] - p.offsetY) / p.scaleY, p.srcHeight),
  ];
}

/** Intersection over union of two [x1, y1, x2, y2] boxes. */
export function iou(a: Readonly<Box> | readonly number[], b: Readonly<Box> | readonly number[]): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** [x1, y1, x2, y2] to Scrypted's [x, y, width, height]. */
export function toXywh(box: Box): [number, number, number, number] {
  return [box[0], box[1], box[2] - box[0], box[3] - box[1]];
}
