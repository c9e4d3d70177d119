import type { PreparedImage, ImageSource } from '../models/preprocess';
import type { DetectOptions, DetectionResult } from './detector';
import type { DropReason } from './stats';

/**
 * What a caller hands the scheduler: an image (decoded and resized when its batch is picked),
 * an image already prepared for the current model, or a thunk that produces either when the
 * frame is picked, so a frame that gets replaced never costs a conversion.
 */
export type FrameInput = ImageSource | PreparedImage | (() => Promise<ImageSource | PreparedImage>);

/** The answer for a camera frame that was not processed. */
export interface DroppedFrame {
  dropped: DropReason;
}

export function isDropped(value: DetectionResult | DroppedFrame): value is DroppedFrame {
  return (value as DroppedFrame).dropped !== undefined;
}

export function isPrepared(value: ImageSource | PreparedImage): value is PreparedImage {
  return (value as PreparedImage).frame !== undefined && (value as PreparedImage).placement !== undefined;
}

/** One frame or request on its way through the scheduler. */
export interface Job {
  laneId: string;
  /** An API request (answered in order, never dropped) rather than a camera frame. */
  isRequest?: boolean;
  input: FrameInput;
  options: DetectOptions;
  /** performance.now() when it reached the scheduler. */
  arrival: number;
  /** performance.now() the frame was captured (arrival less any age the caller reported). */
  captured: number;
  resolve: (value: DetectionResult | DroppedFrame) => void;
  reject: (error: Error) => void;
  picked?: number;
  prepared?: PreparedImage;
  prepareMs?: number;
}
