/**
 * Skip what has not changed. Before a frame costs an inference, a small grey thumbnail of it is
 * compared with the thumbnail of the last frame that was analysed; when they differ by less
 * than a threshold, the frame reuses the last detections (the tracker keeps those tracks alive)
 * and the model does not run. Comparing with the last *analysed* frame, not the previous one,
 * means a slow drift (a person walking slowly, light changing) still adds up to an analysis.
 *
 * The thumbnail is computed from the RGB pixels the pipeline already prepared for the model
 * (about 416x312 for a 4:3 camera and a 416 model), not from the camera's full frame and not
 * through libvips: a strided box average over those bytes costs a few hundredths of a millisecond
 * (see test/tracking/similarity.test.ts), where a sharp resize round trip costs about a millisecond.
 */

export interface Thumbnail {
  width: number;
  height: number;
  /** Grey levels 0..255, row-major. */
  data: Float32Array;
}

export interface ThumbnailOptions {
  /** Thumbnail width; the height follows the image's aspect ratio. */
  width: number;
  /** Samples per cell side: 3 averages 9 pixels per thumbnail cell, enough to smooth compression noise. */
  samplesPerSide: number;
}

export const DEFAULT_THUMBNAIL_OPTIONS: ThumbnailOptions = { width: 64, samplesPerSide: 3 };

/**
 * A grey thumbnail of packed 8-bit pixels (1, 3 or 4 channels, HWC) by averaging a regular grid
 * of samples in each cell: cost is proportional to the thumbnail, not the frame.
 */
export function greyThumbnail(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  options: Partial<ThumbnailOptions> = {},
): Thumbnail {
  const o = { ...DEFAULT_THUMBNAIL_OPTIONS, ...options };
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new RangeError(`thumbnail source must have 1, 3 or 4 channels, got ${channels}`);
  if (pixels.length < width * height * channels) {
    throw new RangeError(`thumbnail source ${width}x${height}x${channels} needs ${width * height * channels} bytes, got ${pixels.length}`);
  }
  const tw = Math.max(1, Math.min(width, o.width));
  const th = Math.max(1, Math.min(height, Math.round((tw * height) / width)));
  const n = Math.max(1, Math.round(o.samplesPerSide));
  // Byte offsets of the samples: columns within a row, rows within the image, shared by all cells.
  const xs = new Int32Array(tw * n);
  for (let i = 0; i < tw * n; i++) xs[i] = Math.min(width - 1, Math.floor(((i + 0.5) * width) / (tw * n))) * channels;
  const ys = new Int32Array(th * n);
  for (let j = 0; j < th * n; j++) ys[j] = Math.min(height - 1, Math.floor(((j + 0.5) * height) / (th * n))) * width * channels;
  // Integer BT.601 luma (x256) summed per cell, then scaled once: no floating point per sample.
  const sums = new Int32Array(tw * th);
  for (let j = 0; j < th * n; j++) {
    const row = ys[j];
    const base = ((j / n) | 0) * tw;
    if (channels === 1) {
      for (let i = 0; i < tw * n; i++) sums[base + ((i / n) | 0)] += pixels[row + xs[i]] << 8;
    } else {
      for (let i = 0; i < tw * n; i++) {
        const p = row + xs[i];
        sums[base + ((i / n) | 0)] += 77 * pixels[p] + 150 * pixels[p + 1] + 29 * pixels[p + 2];
      }
    }
  }
  const data = new Float32Array(tw * th);
  const scale = 1 / (256 * n * n);
  for (let k = 0; k < data.length; k++) data[k] = sums[k] * scale;
  return { width: tw, height: th, data };
}

/** Mean absolute difference in grey levels (0..255); Infinity when the thumbnails' sizes differ. */
export function meanAbsoluteDifference(a: Thumbnail, b: Thumbnail): number {
  if (a.width !== b.width || a.height !== b.height) return Infinity;
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

/** Largest difference of one thumbnail cell, in grey levels: catches a small object moving in a still scene. */
export function maxCellDifference(a: Thumbnail, b: Thumbnail): number {
  if (a.width !== b.width || a.height !== b.height) return Infinity;
  let max = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (d > max) max = d;
  }
  return max;
}

export interface SimilarityOptions {
  /** Off: every frame is analysed. */
  enabled: boolean;
  /** Skip when the mean absolute difference (grey levels, 0..255) is below this... */
  threshold: number;
  /**
   * ...and no thumbnail cell changed by this much or more. The mean alone hides one person
   * walking through a still scene (a few percent of the cells); one cell does not.
   */
  maxCellDifference: number;
  /** Analyse at least this often whatever the difference, so a result never goes stale for long. */
  maxSkipMs: number;
  thumbnail: Partial<ThumbnailOptions>;
}

export const DEFAULT_SIMILARITY_OPTIONS: SimilarityOptions = {
  enabled: true,
  threshold: 1.5,
  maxCellDifference: 20,
  maxSkipMs: 5000,
  thumbnail: {},
};

export interface SimilarityDecision {
  skip: boolean;
  /** Mean absolute difference with the last analysed frame (Infinity when there is none). */
  difference: number;
  maxCellDifference: number;
  /** Pass to `analysed` once the frame has really been analysed. */
  thumbnail: Thumbnail;
  /** Time spent making the thumbnail and comparing. */
  ms: number;
}

export interface SimilarityStats {
  checked: number;
  skipped: number;
}

/**
 * The per-camera skip decision. Two steps, because a frame that was judged worth analysing can
 * still be dropped by the scheduler (a newer frame replaced it): only a frame whose detections
 * were really produced becomes the reference, through `analysed`.
 */
export class SimilarityGate {
  readonly options: SimilarityOptions;
  private reference: Thumbnail | undefined;
  private referenceTimestamp = -Infinity;
  private counts: SimilarityStats = { checked: 0, skipped: 0 };

  constructor(options: Partial<SimilarityOptions> = {}) {
    this.options = { ...DEFAULT_SIMILARITY_OPTIONS, ...options };
  }

  /** Whether this frame can reuse the last result. `skip` is counted here. */
  check(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4, timestamp: number): SimilarityDecision {
    const started = performance.now();
    const thumbnail = greyThumbnail(pixels, width, height, channels, this.options.thumbnail);
    let difference = Infinity;
    let cell = Infinity;
    if (this.reference) {
      difference = meanAbsoluteDifference(this.reference, thumbnail);
      cell = maxCellDifference(this.reference, thumbnail);
    }
    const o = this.options;
    const skip = o.enabled && difference < o.threshold && cell < o.maxCellDifference && timestamp - this.referenceTimestamp < o.maxSkipMs;
    this.counts.checked++;
    if (skip) this.counts.skipped++;
    return { skip, difference, maxCellDifference: cell, thumbnail, ms: performance.now() - started };
  }

  /** The frame with this thumbnail was analysed: later frames are compared with it. */
  analysed(thumbnail: Thumbnail, timestamp: number): void {
    this.reference = thumbnail;
    this.referenceTimestamp = timestamp;
  }

  /** Forget the reference (stream restarted, camera moved, model or settings changed). */
  reset(): void {
    this.reference = undefined;
    this.referenceTimestamp = -Infinity;
  }

  get stats(): SimilarityStats {
    return { ...this.counts };
  }
}
