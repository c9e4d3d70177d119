import fs from 'fs';
import type { Detection, DetectOptions, Detector } from '../detector';
import { readVideoFrames, type ReadVideoOptions } from './video-frames';

export interface FrameDetections {
  index: number;
  timestamp: number;
  detections: Detection[];
}

/**
 * Runs a detector over every frame of a video, one frame at a time, without a scheduler: the
 * reference answer for tracking reports and tests. With `cacheFile`, results are read from and
 * written to that JSON file so the model runs once per clip and options.
 */
export async function detectVideo(
  file: string,
  detector: Detector,
  options: DetectOptions & ReadVideoOptions & { cacheFile?: string; onFrame?: (f: FrameDetections) => void },
): Promise<FrameDetections[]> {
  const { cacheFile } = options;
  if (cacheFile && fs.existsSync(cacheFile)) return JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as FrameDetections[];
  const out: FrameDetections[] = [];
  for await (const frame of readVideoFrames(file, options)) {
    const result = await detector.detect({ kind: 'raw', data: frame.data, width: frame.width, height: frame.height, channels: 3 }, options);
    const f = { index: frame.index, timestamp: frame.timestamp, detections: result.detections };
    options.onFrame?.(f);
    out.push(f);
  }
  if (cacheFile) fs.writeFileSync(cacheFile, JSON.stringify(out));
  return out;
}
