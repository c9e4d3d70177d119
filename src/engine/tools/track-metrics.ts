import type { TrackFields, TrackInput, Xywh } from '../tracker';

export interface TrackedFrame {
  timestamp: number;
  detections: (TrackInput & Pick<TrackFields, 'id'>)[];
}

export interface TrackMetrics {
  frames: number;
  /** Distinct ids reported. */
  tracks: number;
  /** Mean number of frames an id was reported in. */
  meanTrackFrames: number;
  /** A new id born where another id of the same class was reported just before and is now gone. */
  fragmentations: number;
  /** An id whose box jumped to a different place between consecutive reports (it moved to another object). */
  jumps: number;
  /** fragmentations + jumps. */
  idSwitches: number;
  idSwitchesPer100Frames: number;
}

function iou(a: Xywh, b: Xywh): number {
  const iw = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

/**
 * Identity switches without ground truth. A clip with annotated identities would give the
 * MOT metric; without one these two proxies count what a viewer would call an id switch:
 * - fragmentation: an id is born with a box overlapping (IoU >= `overlap`) the last box of
 *   another id of the same class that was reported within `windowMs` and is not reported now:
 *   the same object most likely got a new id;
 * - jump: between two consecutive reports of one id (within `windowMs`), the box moved by more
 *   than its own size and overlaps its previous place by less than `overlap` / 2: the id most
 *   likely went to another object.
 * A tracker that hands out new ids every frame scores about one switch per object per frame.
 */
export function trackMetrics(frames: readonly TrackedFrame[], options: { overlap?: number; windowMs?: number } = {}): TrackMetrics {
  const overlap = options.overlap ?? 0.3;
  const windowMs = options.windowMs ?? 1000;
  const last = new Map<string, { t: number; box: Xywh; className: string }>();
  const counts = new Map<string, number>();
  let fragmentations = 0;
  let jumps = 0;
  for (const frame of frames) {
    const present = new Set(frame.detections.map((d) => d.id));
    for (const d of frame.detections) {
      counts.set(d.id, (counts.get(d.id) ?? 0) + 1);
      const prev = last.get(d.id);
      if (!prev) {
        for (const [id, other] of last) {
          if (present.has(id) || other.className !== d.className || frame.timestamp - other.t > windowMs) continue;
          if (iou(other.box, d.boundingBox) >= overlap) {
            fragmentations++;
            // That old id is accounted for: it cannot be blamed again for another newcomer.
            last.delete(id);
            break;
          }
        }
      } else if (frame.timestamp - prev.t <= windowMs) {
        const [x, y, w, h] = d.boundingBox;
        const [px, py, pw, ph] = prev.box;
        const dist = Math.hypot(x + w / 2 - (px + pw / 2), y + h / 2 - (py + ph / 2));
        if (dist > Math.sqrt(pw * ph) && iou(prev.box, d.boundingBox) < overlap / 2) jumps++;
      }
      last.set(d.id, { t: frame.timestamp, box: d.boundingBox, className: d.className });
    }
  }
  const lengths = [...counts.values()];
  const idSwitches = fragmentations + jumps;
  return {
    frames: frames.length,
    tracks: counts.size,
    meanTrackFrames: lengths.length ? lengths.reduce((a, b) => a + b, 0) / lengths.length : 0,
    fragmentations,
    jumps,
    idSwitches,
    idSwitchesPer100Frames: frames.length ? (100 * idSwitches) / frames.length : 0,
  };
}
