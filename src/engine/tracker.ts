/**
 * A multi-object tracker per camera, in the spirit of SORT (Bewley et al., 2016): each track
 * predicts where its box will be with a constant-velocity filter, detections are associated to
 * predictions by IoU (greedy, per class), and tracks are confirmed after a few hits and ended
 * after a time unseen. It is pure: time comes only from the frame timestamps passed in, so the
 * same frames always give the same ids, and nothing here starts a timer.
 *
 * Why an alpha-beta filter and not a full Kalman filter: SORT's Kalman filter on (cx, cy, s, r)
 * with fixed noise converges within a few frames to constant gains, which is exactly an
 * alpha-beta filter. Constant gains keep the code small and make the variable frame interval
 * of NVR cameras (dropped frames, skipped frames, snapshot pacing) a plain `dt`.
 */
import { iou } from '../models/geometry';

export type Xywh = [number, number, number, number];

/** What the tracker needs of a detection; every other field is carried through. */
export interface TrackInput {
  className: string;
  score: number;
  /** [x, y, width, height] in image pixels. */
  boundingBox: Xywh;
}

/** Scrypted's ObjectDetectionResult tracking fields. */
export interface TrackFields {
  /** Stable for as long as the tracker follows the object. */
  id: string;
  history: { firstSeen: number; lastSeen: number };
  /**
   * First and last time the object was seen moving (Scrypted's meaning). An object that has
   * not moved yet has both set to its firstSeen and `moving: false`.
   */
  movement: { moving: boolean; firstSeen: number; lastSeen: number };
}

export type Tracked<T extends TrackInput> = T & TrackFields;

export interface TrackerOptions {
  /** Minimum IoU between a track's predicted box and a detection to associate them. */
  iouThreshold: number;
  /**
   * Second association pass for what IoU left unmatched (fast objects, low frame rates): the
   * distance between predicted and detected centres, in units of the track's box size
   * (sqrt(w*h)), must be below this. 0 disables the pass.
   */
  maxCentreDistance: number;
  /** Hits (frames with a matching detection) before a track is reported. 1 reports at once. */
  minHits: number;
  /** A confirmed track unseen for longer than this (by frame timestamps) ends. */
  maxUnseenMs: number;
  /** Movement of the box centre, relative to the box size, over `movingWindowMs` that counts as moving. */
  movingThreshold: number;
  movingWindowMs: number;
  /** Filter gains: position (alpha) and velocity (beta), both 0..1. */
  alpha: number;
  beta: number;
  /** Prefix for the ids (e.g. the camera id); ids are `${idPrefix}${n}`. */
  idPrefix: string;
}

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = {
  iouThreshold: 0.2,
  maxCentreDistance: 0.6,
  minHits: 2,
  maxUnseenMs: 2000,
  movingThreshold: 0.25,
  movingWindowMs: 1000,
  alpha: 0.7,
  beta: 0.3,
  idPrefix: '',
};

/** Beyond this gap the velocity is not extrapolated further: a long-unseen object rarely keeps a straight line. */
const MAX_PREDICT_MS = 1000;
/** Centre samples kept for the movement decision are pruned to this many. */
const MAX_SAMPLES = 64;

interface Sample {
  t: number;
  cx: number;
  cy: number;
}

/** Filter state: centre and size, and their velocities in pixels per ms. */
interface State {
  cx: number;
  cy: number;
  w: number;
  h: number;
  vx: number;
  vy: number;
  vw: number;
  vh: number;
}

class Track<T extends TrackInput> {
  id: string | undefined;
  hits = 1;
  /** When the filter state was last corrected or advanced. */
  updatedAt: number;
  firstSeen: number;
  lastSeen: number;
  movingSince: number | undefined;
  lastMoving: number | undefined;
  moving = false;
  samples: Sample[] = [];
  last: T;
  state: State;

  constructor(
    readonly className: string,
    detection: T,
    timestamp: number,
  ) {
    const [x, y, w, h] = detection.boundingBox;
    this.state = { cx: x + w / 2, cy: y + h / 2, w, h, vx: 0, vy: 0, vw: 0, vh: 0 };
    this.updatedAt = this.firstSeen = this.lastSeen = timestamp;
    this.last = detection;
    this.samples.push({ t: timestamp, cx: this.state.cx, cy: this.state.cy });
  }

  get confirmed(): boolean {
    return this.id !== undefined;
  }

  /** The box the filter expects at `timestamp`, as x1, y1, x2, y2. */
  predict(timestamp: number): [number, number, number, number] {
    const dt = Math.min(MAX_PREDICT_MS, Math.max(0, timestamp - this.updatedAt));
    const s = this.state;
    const cx = s.cx + s.vx * dt;
    const cy = s.cy + s.vy * dt;
    const w = Math.max(1, s.w + s.vw * dt);
    const h = Math.max(1, s.h + s.vh * dt);
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
  }

  correct(detection: T, timestamp: number, o: TrackerOptions): void {
    const [x, y, w, h] = detection.boundingBox;
    const z = [x + w / 2, y + h / 2, w, h];
    const s = this.state;
    const dt = Math.max(0, timestamp - this.updatedAt);
    const predicted = this.predict(timestamp);
    const p = [(predicted[0] + predicted[2]) / 2, (predicted[1] + predicted[3]) / 2, predicted[2] - predicted[0], predicted[3] - predicted[1]];
    const keys = ['cx', 'cy', 'w', 'h'] as const;
    const vkeys = ['vx', 'vy', 'vw', 'vh'] as const;
    for (let i = 0; i < 4; i++) {
      const r = z[i] - p[i];
      if (this.hits === 1 && dt > 0) {
        // Second sighting: the displacement itself is the best velocity estimate there is.
        s[vkeys[i]] = (z[i] - s[keys[i]]) / dt;
        s[keys[i]] = z[i];
      } else {
        s[keys[i]] = p[i] + o.alpha * r;
        if (dt > 0) s[vkeys[i]] += (o.beta * r) / dt;
      }
    }
    this.hits++;
    this.updatedAt = this.lastSeen = timestamp;
    this.last = detection;
    this.observeMovement(timestamp, o);
  }

  /** Decides `moving` from how far the filtered centre went over the recent window. */
  observeMovement(timestamp: number, o: TrackerOptions): void {
    const s = this.state;
    this.samples.push({ t: timestamp, cx: s.cx, cy: s.cy });
    const from = timestamp - o.movingWindowMs;
    let first = 0;
    while (first < this.samples.length - 1 && this.samples[first + 1].t <= from) first++;
    if (first > 0) this.samples.splice(0, first);
    if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES);
    const oldest = this.samples[0];
    const size = Math.sqrt(Math.max(1, s.w * s.h));
    const moved = Math.hypot(s.cx - oldest.cx, s.cy - oldest.cy) / size;
    this.moving = moved > o.movingThreshold;
    if (this.moving) {
      this.movingSince ??= timestamp;
      this.lastMoving = timestamp;
    }
  }

  output(): Tracked<T> {
    return {
      ...this.last,
      id: this.id!,
      history: { firstSeen: this.firstSeen, lastSeen: this.lastSeen },
      movement: {
        moving: this.moving,
        firstSeen: this.movingSince ?? this.firstSeen,
        lastSeen: this.lastMoving ?? this.firstSeen,
      },
    };
  }
}

function xyxy(b: Xywh): [number, number, number, number] {
  return [b[0], b[1], b[0] + b[2], b[1] + b[3]];
}

export interface TrackerStats {
  /** Tracks alive now (confirmed or not). */
  active: number;
  /** Confirmed tracks alive now. */
  confirmed: number;
  /** Ids handed out so far (confirmed tracks ever). */
  created: number;
  /** Confirmed tracks ended after being unseen too long. */
  ended: number;
}

/**
 * Follows objects across the frames of one camera (or one generateObjectDetections session).
 * Call `update` with each analysed frame's detections, `keepAlive` for a frame that reused the
 * previous result without inference. Timestamps are the frames' own (ms), not the wall clock.
 */
export class Tracker<T extends TrackInput = TrackInput> {
  readonly options: TrackerOptions;
  private tracks: Track<T>[] = [];
  private nextId = 1;
  private ended = 0;
  private lastTimestamp = -Infinity;
  /** Tracks (confirmed or not) seen in the last analysed frame: what keepAlive carries on. */
  private lastMatched: Track<T>[] = [];

  constructor(options: Partial<TrackerOptions> = {}) {
    this.options = { ...DEFAULT_TRACKER_OPTIONS, ...options };
    const o = this.options;
    if (!(o.minHits >= 1)) throw new RangeError(`minHits must be at least 1, got ${o.minHits}`);
    if (!(o.maxUnseenMs >= 0)) throw new RangeError(`maxUnseenMs must be >= 0, got ${o.maxUnseenMs}`);
    for (const k of ['alpha', 'beta', 'iouThreshold'] as const) {
      if (!(o[k] >= 0 && o[k] <= 1)) throw new RangeError(`${k} must be within 0..1, got ${o[k]}`);
    }
  }

  /**
   * Associates this frame's detections with the tracks and returns the detections of confirmed
   * tracks, each with `id`, `history` and `movement`. Detections of tracks still being confirmed
   * are held back (they will be reported with their id once confirmed).
   */
  update(detections: readonly T[], timestamp: number): Tracked<T>[] {
    // Frames from one camera arrive in order; a timestamp going back (clock reset, a restarted
    // stream) must not make dt negative.
    const t = Math.max(timestamp, this.lastTimestamp);
    this.lastTimestamp = t;
    const o = this.options;

    const matchedTrack = new Set<Track<T>>();
    const matchedDetection = new Set<number>();
    const predicted = new Map<Track<T>, [number, number, number, number]>();
    for (const track of this.tracks) predicted.set(track, track.predict(t));

    const classes = new Set(detections.map((d) => d.className));
    for (const className of classes) {
      const tracks = this.tracks.filter((tr) => tr.className === className);
      const indices = detections.map((_, i) => i).filter((i) => detections[i].className === className);
      if (!tracks.length) continue;

      // Pass 1: greedy on IoU with the predicted boxes, best pairs first. Confirmed tracks win
      // ties over tentative ones so a flicker does not steal an established identity.
      const pairs: { track: Track<T>; det: number; cost: number }[] = [];
      for (const track of tracks) {
        const p = predicted.get(track)!;
        for (const i of indices) {
          const overlap = iou(p, xyxy(detections[i].boundingBox));
          if (overlap >= o.iouThreshold && overlap > 0) pairs.push({ track, det: i, cost: -overlap - (track.confirmed ? 1e-6 : 0) });
        }
      }
      // Pass 2: centre distance for those IoU could not pair (a relative cost, added after all IoU pairs).
      if (o.maxCentreDistance > 0) {
        for (const track of tracks) {
          const p = predicted.get(track)!;
          const pw = p[2] - p[0];
          const ph = p[3] - p[1];
          const size = Math.sqrt(pw * ph);
          for (const i of indices) {
            const [x, y, w, h] = detections[i].boundingBox;
            const areaRatio = (w * h) / Math.max(1, pw * ph);
            if (areaRatio < 0.33 || areaRatio > 3) continue;
            const d = Math.hypot(x + w / 2 - (p[0] + p[2]) / 2, y + h / 2 - (p[1] + p[3]) / 2) / size;
            if (d < o.maxCentreDistance) pairs.push({ track, det: i, cost: 1 + d });
          }
        }
      }
      pairs.sort((a, b) => a.cost - b.cost);
      for (const { track, det } of pairs) {
        if (matchedTrack.has(track) || matchedDetection.has(det)) continue;
        matchedTrack.add(track);
        matchedDetection.add(det);
        track.correct(detections[det], t, o);
        this.confirmIfDue(track);
      }
    }

    // End tracks: tentative ones at their first miss (SORT/DeepSORT's rule: most are flicker),
    // confirmed ones once unseen for longer than maxUnseenMs.
    this.tracks = this.tracks.filter((track) => {
      if (matchedTrack.has(track)) return true;
      if (!track.confirmed) return false;
      if (t - track.lastSeen > o.maxUnseenMs) {
        this.ended++;
        return false;
      }
      return true;
    });

    for (let i = 0; i < detections.length; i++) {
      if (matchedDetection.has(i)) continue;
      const track = new Track(detections[i].className, detections[i], t);
      this.confirmIfDue(track);
      this.tracks.push(track);
    }

    this.lastMatched = this.tracks.filter((tr) => tr.lastSeen === t);
    return this.reported();
  }

  /**
   * For a frame that was not analysed because it had not changed: the previous result again,
   * with its tracks seen at `timestamp` (so they do not end while the scene is still).
   */
  keepAlive(timestamp: number): Tracked<T>[] {
    const t = Math.max(timestamp, this.lastTimestamp);
    this.lastTimestamp = t;
    const o = this.options;
    for (const track of this.lastMatched) {
      // The scene did not change: the object is where it was. An unchanged frame would
      // give the same detection again, so it counts as a hit: a scene that goes still right
      // after an object appeared still gets that object confirmed and reported.
      track.hits++;
      this.confirmIfDue(track);
      // The filter state is left as the last analysed frame set it: the next analysed frame
      // corrects it as if the unchanged frames had not been there (they carried no news).
      track.lastSeen = t;
      track.observeMovement(t, o);
    }
    return this.reported();
  }

  /** Hands a track its id once it has `minHits` hits (ids in the order tracks get confirmed). */
  private confirmIfDue(track: Track<T>): void {
    if (!track.confirmed && track.hits >= this.options.minHits) track.id = `${this.options.idPrefix}${this.nextId++}`;
  }

  /** The confirmed tracks of the last analysed frame, as reported detections. */
  private reported(): Tracked<T>[] {
    return this.lastMatched.filter((tr) => tr.confirmed).map((tr) => tr.output());
  }

  /** Forgets every track (a camera restarted, a model swapped); ids keep counting up. */
  reset(): void {
    this.tracks = [];
    this.lastMatched = [];
    this.lastTimestamp = -Infinity;
  }

  get stats(): TrackerStats {
    let confirmed = 0;
    for (const t of this.tracks) if (t.confirmed) confirmed++;
    return { active: this.tracks.length, confirmed, created: this.nextId - 1, ended: this.ended };
  }
}
