import type { Detection, DetectionResult } from './detector';
import { filterDetections, type ClassFilter } from './filters';
import type { DroppedFrame } from './job';
import { SimilarityGate, type SimilarityDecision, type SimilarityOptions, type SimilarityStats } from './similarity';
import { Tracker, type Tracked, type TrackerOptions, type TrackerStats } from './tracker';
import { applyZones, validateZones, type Zone, type ZoneAnchor } from './zones';

/** What one camera (or one generateObjectDetections session) reports for a frame. */
export type ReportedDetection = Tracked<Detection> & { zones: string[] };

export interface CameraFrameResult {
  /** The frame's own timestamp (ms), as given. */
  timestamp: number;
  inputDimensions: [number, number];
  /** After class/score filtering, tracking and zones: what goes into ObjectsDetected.detections. */
  detections: ReportedDetection[];
  /** True when the frame had not changed and reused the previous result without inference. */
  skipped: boolean;
  /** Present for analysed frames: the scheduler's result (timings, latency). */
  result?: DetectionResult;
}

export interface CameraAnalysisOptions {
  filter: ClassFilter;
  zones: readonly Zone[];
  zoneAnchor: ZoneAnchor;
  tracker: Partial<TrackerOptions>;
  similarity: Partial<SimilarityOptions>;
}

export interface CameraAnalysisStats {
  frames: number;
  analysed: number;
  /** Frames answered from the previous result (no inference). */
  skipped: number;
  /** Frames the scheduler dropped (replaced by a newer one, too old, source closed). */
  dropped: number;
  /** Results that came back after a newer frame's result had been reported, discarded. */
  late: number;
  tracker: TrackerStats;
  similarity: SimilarityStats;
  /** Mean cost of the thumbnail and comparison per frame, ms. */
  similarityMs: number;
}

/** Raw pixels of the frame, for the unchanged-frame check: any size, 1/3/4 channels packed. */
export interface FramePixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** Runs a frame through detection: for a camera, `(input) => scheduler.submitFrame(cameraId, input, meta)`. */
export type SubmitFrame = () => Promise<DetectionResult | DroppedFrame>;

/**
 * Everything one camera does around the model, in order: skip an unchanged frame, otherwise
 * detect (through the shared scheduler, via `submit`), keep the wanted classes and scores,
 * track, then apply zones. Zones come after tracking so an object keeps its id while it walks
 * out of an inclusion zone and back in. No SDK, no timers: the mixin, generateObjectDetections
 * and the video CLI all drive it the same way.
 */
export class CameraAnalysis {
  private options: CameraAnalysisOptions;
  private tracker: Tracker<Detection>;
  private gate: SimilarityGate;
  private lastReported = -Infinity;
  private lastInputDimensions: [number, number] = [0, 0];
  private counts = { frames: 0, analysed: 0, skipped: 0, dropped: 0, late: 0, similarityMs: 0 };

  constructor(readonly id: string, options: Partial<CameraAnalysisOptions> = {}) {
    this.options = { filter: {}, zones: [], zoneAnchor: 'bottom-center', tracker: {}, similarity: {}, ...options };
    validateZones(this.options.zones);
    this.tracker = new Tracker<Detection>(this.options.tracker);
    this.gate = new SimilarityGate(this.options.similarity);
  }

  /**
   * Live settings change. Filters and zones apply from the next frame; tracker or similarity
   * options start a fresh tracker / reference (ids keep counting up only within one tracker).
   */
  configure(options: Partial<CameraAnalysisOptions>): void {
    if (options.zones) validateZones(options.zones);
    this.options = { ...this.options, ...options };
    if (options.tracker) this.tracker = new Tracker<Detection>(this.options.tracker);
    if (options.similarity) this.gate = new SimilarityGate(this.options.similarity);
  }

  /**
   * One frame. `pixels` are what the unchanged-frame check looks at (the raw frame, or the
   * frame prepared for the model); `submit` runs the detection only when the frame changed.
   * Resolves with the camera's result, or `{ dropped }` when the scheduler dropped the frame or
   * a newer frame's result was already reported (`late`).
   */
  async process(pixels: FramePixels | undefined, timestamp: number, submit: SubmitFrame): Promise<CameraFrameResult | DroppedFrame | { late: true }> {
    this.counts.frames++;
    let decision: SimilarityDecision | undefined;
    if (pixels) {
      decision = this.gate.check(pixels.data, pixels.width, pixels.height, pixels.channels, timestamp);
      this.counts.similarityMs += decision.ms;
      if (decision.skip && this.lastReported > -Infinity) return this.skip(timestamp);
    }
    const result = await submit();
    if ('dropped' in result) {
      this.counts.dropped++;
      return result;
    }
    if (timestamp < this.lastReported) {
      // With several runners a camera's frames can finish out of order; the newer one won.
      this.counts.late++;
      return { late: true };
    }
    if (decision) this.gate.analysed(decision.thumbnail, timestamp);
    return this.analysed(result, timestamp);
  }

  /** The tracked, filtered result of a detection run on a frame of this camera. */
  analysed(result: DetectionResult, timestamp: number): CameraFrameResult {
    this.counts.analysed++;
    this.lastReported = Math.max(this.lastReported, timestamp);
    this.lastInputDimensions = result.inputDimensions;
    const wanted = filterDetections(result.detections, this.options.filter);
    const tracked = this.tracker.update(wanted, timestamp);
    return { timestamp, inputDimensions: result.inputDimensions, detections: this.zoned(tracked, result.inputDimensions), skipped: false, result };
  }

  /** The previous result again, for an unchanged frame: tracks stay alive, no inference. */
  skip(timestamp: number): CameraFrameResult {
    this.counts.skipped++;
    this.lastReported = Math.max(this.lastReported, timestamp);
    const tracked = this.tracker.keepAlive(timestamp);
    return { timestamp, inputDimensions: this.lastInputDimensions, detections: this.zoned(tracked, this.lastInputDimensions), skipped: true };
  }

  private zoned(tracked: Tracked<Detection>[], dims: [number, number]): ReportedDetection[] {
    return applyZones(tracked, this.options.zones, dims, { anchor: this.options.zoneAnchor });
  }

  /** Forget tracks and the reference frame (stream restarted). */
  reset(): void {
    this.tracker.reset();
    this.gate.reset();
    this.lastReported = -Infinity;
  }

  get stats(): CameraAnalysisStats {
    const { similarityMs, ...counts } = this.counts;
    return {
      ...counts,
      tracker: this.tracker.stats,
      similarity: this.gate.stats,
      similarityMs: this.gate.stats.checked ? similarityMs / this.gate.stats.checked : 0,
    };
  }
}
