import type { DecodeOptions, RawDetection } from '../../runtimes/runtime';
import { nonMaxSuppression } from '../nms';
import type { ModelSpec } from '../spec';
import { decodeNmsFree } from './nms-free';
import type { Decoder, ModelOutputs } from './types';
import { decodeYolov5 } from './yolov5';
import { decodeYolov8 } from './yolov8';
import { decodeYolox } from './yolox';

export { OutputLayoutError, type ModelOutputs, type OutputTensor } from './types';

const decoders: Record<ModelSpec['decoder']['kind'], Decoder> = {
  yolox: decodeYolox,
  yolov5: decodeYolov5,
  yolov8: decodeYolov8,
  'nms-free': decodeNmsFree,
};

/**
 * Decodes one image of a model call into final detections in model-input pixels: candidates
 * above the confidence threshold, then per-class NMS (skipped for NMS-free models, which are
 * only sorted and capped).
 */
export function decode(spec: ModelSpec, outputs: ModelOutputs, batchIndex: number, options: DecodeOptions): RawDetection[] {
  const candidates = decoders[spec.decoder.kind](spec, outputs, batchIndex, options);
  if (spec.decoder.kind === 'nms-free') {
    return candidates.sort((a, b) => b.score - a.score).slice(0, options.maxDetections);
  }
  return nonMaxSuppression(candidates, options.iou, options.maxDetections);
}
