import type { CocoAnnotation, CocoDetection, CocoGroundTruth } from './coco-dataset';

/**
 * COCO's bounding-box detection metric, a line-by-line port of pycocotools' COCOeval
 * (evaluate -> accumulate -> summarize) so the numbers agree with it to floating-point noise:
 * IoU thresholds 0.50:0.05:0.95, 101-point interpolated precision, area ranges all / small /
 * medium / large taken from the annotations' `area` field, maxDets 1 / 10 / 100 applied per
 * image and category, crowd regions ignored (a detection matched to one is neither a true nor a
 * false positive, and crowd IoU divides by the detection's area), category-wise evaluation.
 * test/eval/coco-metric.test.ts pins it to pycocotools' own output.
 */

export interface AreaRange {
  name: 'all' | 'small' | 'medium' | 'large';
  range: [number, number];
}

export interface CocoEvalParams {
  iouThresholds: number[];
  recallThresholds: number[];
  /** Ascending; the last one is used for matching (as pycocotools does). */
  maxDets: number[];
  areaRanges: AreaRange[];
}

/** numpy.linspace, reproduced value for value (the thresholds are compared with `<`). */
export function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

export const COCO_PARAMS: CocoEvalParams = {
  iouThresholds: linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1),
  recallThresholds: linspace(0, 1, Math.round((1 - 0) / 0.01) + 1),
  maxDets: [1, 10, 100],
  areaRanges: [
    { name: 'all', range: [0, 1e5 ** 2] },
    { name: 'small', range: [0, 32 ** 2] },
    { name: 'medium', range: [32 ** 2, 96 ** 2] },
    { name: 'large', range: [96 ** 2, 1e5 ** 2] },
  ],
};

/** The twelve numbers pycocotools' summarize() prints, in its order; -1 where undefined. */
export interface CocoStats {
  /** AP @[.50:.95], all areas, 100 detections: "the" COCO mAP. */
  ap: number;
  ap50: number;
  ap75: number;
  apSmall: number;
  apMedium: number;
  apLarge: number;
  ar1: number;
  ar10: number;
  ar100: number;
  arSmall: number;
  arMedium: number;
  arLarge: number;
}

export const STAT_NAMES: (keyof CocoStats)[] = ['ap', 'ap50', 'ap75', 'apSmall', 'apMedium', 'apLarge', 'ar1', 'ar10', 'ar100', 'arSmall', 'arMedium', 'arLarge'];

export interface CategoryResult {
  id: number;
  name: string;
  /** Non-crowd ground-truth boxes of this category. */
  gtCount: number;
  /** AP @[.50:.95] (all areas, 100 detections); -1 when the category has no ground truth. */
  ap: number;
  ap50: number;
}

export interface OperatingPoint {
  threshold: number;
  /** At IoU 0.5, all areas, crowd regions ignored, same greedy matching as the mAP. */
  precision: number;
  recall: number;
  truePositives: number;
  falsePositives: number;
  groundTruths: number;
}

export interface CocoEvalResult {
  stats: CocoStats;
  categories: CategoryResult[];
  images: number;
  detections: number;
  /** precision[t][r][k][a][m] flattened; -1 where undefined (pycocotools' `eval['precision']`). */
  precision: Float64Array;
  /** recall[t][k][a][m] flattened (pycocotools' `eval['recall']`). */
  recall: Float64Array;
  dims: { T: number; R: number; K: number; A: number; M: number };
  /** Precision and recall at a score threshold, when asked for. */
  operatingPoint?: OperatingPoint;
}

/** One detection or ground truth as the matcher sees it. */
interface Item {
  bbox: [number, number, number, number];
  area: number;
  crowd: boolean;
  score: number;
}

/** Result of matching one image x category x area range (pycocotools' evaluateImg). */
interface ImageEval {
  /** Scores of the (at most maxDet) detections, descending. */
  scores: number[];
  /** matched[t][d] and ignored[t][d] per IoU threshold. */
  matched: Uint8Array[];
  ignored: Uint8Array[];
  gtIgnored: Uint8Array;
}

export class CocoEvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CocoEvalError';
  }
}

/** pycocotools' maskUtils.iou for boxes: a crowd ground truth's union is the detection's own area. */
function boxIou(d: Item, g: Item): number {
  const [dx, dy, dw, dh] = d.bbox;
  const [gx, gy, gw, gh] = g.bbox;
  const w = Math.min(dx + dw, gx + gw) - Math.max(dx, gx);
  if (w <= 0) return 0;
  const h = Math.min(dy + dh, gy + gh) - Math.max(dy, gy);
  if (h <= 0) return 0;
  const inter = w * h;
  const union = g.crowd ? dw * dh : dw * dh + gw * gh - inter;
  return inter / union;
}

/** Stable sort of indices by a key (numpy's argsort(kind='mergesort')). */
function stableArgsort(n: number, key: (i: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => key(a) - key(b));
}

function evaluateImage(gts: Item[], dts: Item[], ious: number[][], range: [number, number], maxDet: number, iouThresholds: number[]): ImageEval | undefined {
  if (!gts.length && !dts.length) return undefined;
  const gtIgnoreRaw = gts.map((g) => (g.crowd || g.area < range[0] || g.area > range[1] ? 1 : 0));
  const gtOrder = stableArgsort(gts.length, (i) => gtIgnoreRaw[i]);
  const gtIgnored = Uint8Array.from(gtOrder.map((i) => gtIgnoreRaw[i]));
  const crowd = gtOrder.map((i) => gts[i].crowd);
  // `dts` are already sorted by score and cut to the largest maxDet; `ious` rows follow them.
  const D = Math.min(dts.length, maxDet);
  const T = iouThresholds.length;
  const matched: Uint8Array[] = [];
  const ignored: Uint8Array[] = [];
  for (let t = 0; t < T; t++) {
    const dtm = new Uint8Array(D);
    const dtIg = new Uint8Array(D);
    const gtm = new Uint8Array(gts.length);
    if (ious.length && gts.length) {
      for (let d = 0; d < D; d++) {
        let best = Math.min(iouThresholds[t], 1 - 1e-10);
        let m = -1;
        for (let gi = 0; gi < gtOrder.length; gi++) {
          // A ground truth already taken stays taken, unless it is a crowd region.
          if (gtm[gi] && !crowd[gi]) continue;
          // Matched to a regular ground truth and reached the ignored ones (sorted last): stop.
          if (m > -1 && gtIgnored[m] === 0 && gtIgnored[gi] === 1) break;
          const v = ious[d][gtOrder[gi]];
          if (v < best) continue;
          best = v;
          m = gi;
        }
        if (m === -1) continue;
        dtIg[d] = gtIgnored[m];
        dtm[d] = 1;
        gtm[m] = 1;
      }
    }
    // Unmatched detections outside the area range are ignored too.
    for (let d = 0; d < D; d++) {
      if (!dtm[d] && (dts[d].area < range[0] || dts[d].area > range[1])) dtIg[d] = 1;
    }
    matched.push(dtm);
    ignored.push(dtIg);
  }
  return { scores: dts.slice(0, D).map((d) => d.score), matched, ignored, gtIgnored };
}

/** First index i with sorted[i] >= x (numpy.searchsorted side='left'). */
function searchLeft(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const EPS = 2.220446049250313e-16; // np.spacing(1)

function meanDefined(values: Iterable<number>): number {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v > -1) {
      sum += v;
      n++;
    }
  }
  return n ? sum / n : -1;
}

/**
 * Evaluates detections against a ground truth the way pycocotools' COCOeval(iouType='bbox')
 * does, over every image and category of the ground truth.
 */
export function evaluateCoco(
  gt: CocoGroundTruth,
  detections: readonly CocoDetection[],
  options: { params?: CocoEvalParams; scoreThreshold?: number } = {},
): CocoEvalResult {
  const p = options.params ?? COCO_PARAMS;
  const imgIds = [...new Set(gt.images.map((im) => im.id))].sort((a, b) => a - b);
  const catIds = [...new Set(gt.categories.map((c) => c.id))].sort((a, b) => a - b);
  const imageIndex = new Map(imgIds.map((id, i) => [id, i]));
  const catIndex = new Map(catIds.map((id, i) => [id, i]));
  const I = imgIds.length;
  const K = catIds.length;

  // Ground truths and detections per (category, image), in input order.
  const cell = (k: number, i: number) => k * I + i;
  const gtCells: Item[][] = Array.from({ length: K * I }, () => []);
  const dtCells: Item[][] = Array.from({ length: K * I }, () => []);
  const gtCount = new Array<number>(K).fill(0);
  const toGt = (a: CocoAnnotation): Item => ({ bbox: a.bbox, area: a.area, crowd: a.iscrowd === 1, score: 0 });
  for (const a of gt.annotations) {
    const i = imageIndex.get(a.image_id);
    const k = catIndex.get(a.category_id);
    if (i === undefined || k === undefined) continue;
    gtCells[cell(k, i)].push(toGt(a));
    if (!a.iscrowd) gtCount[k]++;
  }
  for (const d of detections) {
    const i = imageIndex.get(d.image_id);
    if (i === undefined) throw new CocoEvalError(`detection names image ${d.image_id}, which is not in the ground truth`);
    const k = catIndex.get(d.category_id);
    if (k === undefined) continue;
    const [, , w, h] = d.bbox;
    dtCells[cell(k, i)].push({ bbox: d.bbox, area: w * h, crowd: false, score: d.score });
  }

  const maxDetLast = p.maxDets[p.maxDets.length - 1];
  const A = p.areaRanges.length;
  const T = p.iouThresholds.length;
  const R = p.recallThresholds.length;
  const M = p.maxDets.length;
  // evalImgs[k][a][i]
  const evalImgs: (ImageEval | undefined)[] = new Array(K * A * I);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < I; i++) {
      const gts = gtCells[cell(k, i)];
      const all = dtCells[cell(k, i)];
      const order = stableArgsort(all.length, (j) => -all[j].score);
      const dts = order.slice(0, maxDetLast).map((j) => all[j]);
      const ious = gts.length && dts.length ? dts.map((d) => gts.map((g) => boxIou(d, g))) : [];
      for (let a = 0; a < A; a++) {
        evalImgs[(k * A + a) * I + i] = evaluateImage(gts, dts, ious, p.areaRanges[a].range, maxDetLast, p.iouThresholds);
      }
    }
  }

  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const precisionAt = (t: number, r: number, k: number, a: number, m: number) => (((t * R + r) * K + k) * A + a) * M + m;
  const recallAt = (t: number, k: number, a: number, m: number) => ((t * K + k) * A + a) * M + m;

  for (let k = 0; k < K; k++) {
    for (let a = 0; a < A; a++) {
      const E = [];
      for (let i = 0; i < I; i++) {
        const e = evalImgs[(k * A + a) * I + i];
        if (e) E.push(e);
      }
      if (!E.length) continue;
      let npig = 0;
      for (const e of E) for (const g of e.gtIgnored) if (g === 0) npig++;
      if (npig === 0) continue;
      for (let m = 0; m < M; m++) {
        const maxDet = p.maxDets[m];
        // Concatenate each image's first maxDet detections, then sort all by score (stable).
        const scores: number[] = [];
        const owner: [number, number][] = [];
        E.forEach((e, ei) => {
          const n = Math.min(maxDet, e.scores.length);
          for (let d = 0; d < n; d++) {
            scores.push(e.scores[d]);
            owner.push([ei, d]);
          }
        });
        const order = stableArgsort(scores.length, (j) => -scores[j]);
        const nd = order.length;
        for (let t = 0; t < T; t++) {
          const rc = new Float64Array(nd);
          const pr = new Float64Array(nd);
          let tp = 0;
          let fp = 0;
          for (let j = 0; j < nd; j++) {
            const [ei, d] = owner[order[j]];
            const ig = E[ei].ignored[t][d];
            if (!ig) {
              if (E[ei].matched[t][d]) tp++;
              else fp++;
            }
            rc[j] = tp / npig;
            pr[j] = tp / (fp + tp + EPS);
          }
          recall[recallAt(t, k, a, m)] = nd ? rc[nd - 1] : 0;
          // Make precision monotonically decreasing (the interpolation envelope).
          for (let j = nd - 1; j > 0; j--) if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
          for (let r = 0; r < R; r++) {
            const at = searchLeft(rc, p.recallThresholds[r]);
            // pycocotools leaves the remaining recall thresholds at 0 once one is out of reach.
            if (at >= nd) {
              for (let rr = r; rr < R; rr++) precision[precisionAt(t, rr, k, a, m)] = 0;
              break;
            }
            precision[precisionAt(t, r, k, a, m)] = pr[at];
          }
        }
      }
    }
  }

  const aIndex = (name: AreaRange['name']) => p.areaRanges.findIndex((r) => r.name === name);
  const mIndex = (maxDet: number) => p.maxDets.indexOf(maxDet);
  const tIndex = (iou: number) => p.iouThresholds.findIndex((t) => Math.abs(t - iou) < 1e-9);
  function* precisionValues(a: number, m: number, t?: number, k?: number) {
    if (a < 0 || m < 0) return;
    for (let ti = 0; ti < T; ti++) {
      if (t !== undefined && ti !== t) continue;
      for (let r = 0; r < R; r++) {
        for (let ki = 0; ki < K; ki++) {
          if (k !== undefined && ki !== k) continue;
          yield precision[precisionAt(ti, r, ki, a, m)];
        }
      }
    }
  }
  function* recallValues(a: number, m: number) {
    if (a < 0 || m < 0) return;
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) yield recall[recallAt(t, k, a, m)];
  }
  const all = aIndex('all');
  const m100 = mIndex(100);
  const stats: CocoStats = {
    ap: meanDefined(precisionValues(all, m100)),
    ap50: meanDefined(precisionValues(all, m100, tIndex(0.5))),
    ap75: meanDefined(precisionValues(all, m100, tIndex(0.75))),
    apSmall: meanDefined(precisionValues(aIndex('small'), m100)),
    apMedium: meanDefined(precisionValues(aIndex('medium'), m100)),
    apLarge: meanDefined(precisionValues(aIndex('large'), m100)),
    ar1: meanDefined(recallValues(all, mIndex(1))),
    ar10: meanDefined(recallValues(all, mIndex(10))),
    ar100: meanDefined(recallValues(all, m100)),
    arSmall: meanDefined(recallValues(aIndex('small'), m100)),
    arMedium: meanDefined(recallValues(aIndex('medium'), m100)),
    arLarge: meanDefined(recallValues(aIndex('large'), m100)),
  };
  const names = new Map(gt.categories.map((c) => [c.id, c.name]));
  const categories = catIds.map((id, k) => ({
    id,
    name: names.get(id) ?? String(id),
    gtCount: gtCount[k],
    ap: meanDefined(precisionValues(all, m100, undefined, k)),
    ap50: meanDefined(precisionValues(all, m100, tIndex(0.5), k)),
  }));

  let operatingPoint: OperatingPoint | undefined;
  if (options.scoreThreshold !== undefined) {
    const t50 = tIndex(0.5);
    let tp = 0;
    let fp = 0;
    let groundTruths = 0;
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < I; i++) {
        const e = evalImgs[(k * A + all) * I + i];
        if (!e) continue;
        for (const g of e.gtIgnored) if (g === 0) groundTruths++;
        // Greedy matching goes in score order, so the matches of the detections above the
        // threshold are the same as if the others had never been produced.
        e.scores.forEach((s, d) => {
          if (s < options.scoreThreshold! || e.ignored[t50][d]) return;
          if (e.matched[t50][d]) tp++;
          else fp++;
        });
      }
    }
    operatingPoint = {
      threshold: options.scoreThreshold,
      precision: tp + fp ? tp / (tp + fp) : 0,
      recall: groundTruths ? tp / groundTruths : 0,
      truePositives: tp,
      falsePositives: fp,
      groundTruths,
    };
  }

  return { stats, categories, images: I, detections: detections.length, precision, recall, dims: { T, R, K, A, M }, operatingPoint };
}
