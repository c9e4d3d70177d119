/**
 * Which classes a camera reports and how sure the model must be, per class. Applied before the
 * tracker, so unwanted classes never make tracks, and before zones.
 */

export interface ClassFilter {
  /** Report only these classes; all when empty or absent. */
  classes?: readonly string[];
  /** Minimum score for every class (the model's confidence threshold already applies below this). */
  minScore?: number;
  /** Per-class minimum scores, overriding `minScore` for those classes. */
  minScoreByClass?: Readonly<Record<string, number>>;
}

export function filterDetections<T extends { className: string; score: number }>(detections: readonly T[], filter: ClassFilter): T[] {
  const wanted = filter.classes?.length ? new Set(filter.classes) : undefined;
  const byClass = filter.minScoreByClass ?? {};
  const floor = filter.minScore ?? 0;
  return detections.filter((d) => (!wanted || wanted.has(d.className)) && d.score >= (byClass[d.className] ?? floor));
}

/** The lowest score any class may need: the confidence to ask the decoder for. */
export function lowestMinScore(filter: ClassFilter): number {
  const values = [filter.minScore ?? 0, ...Object.values(filter.minScoreByClass ?? {})];
  return Math.min(...values);
}

export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

/**
 * Parses the settings text form of per-class scores: `person=0.5, car=0.6` (also `person:0.5`,
 * one per line). Empty text gives {}. Throws a FilterError naming the bad entry.
 */
export function parseMinScores(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const raw of text.split(/[,;\n]/)) {
    const entry = raw.trim();
    if (!entry) continue;
    const m = /^(.+?)\s*[=:]\s*([0-9]*\.?[0-9]+)$/.exec(entry);
    if (!m) throw new FilterError(`minimum score "${entry}" is not CLASS=SCORE (e.g. person=0.5)`);
    const score = Number(m[2]);
    if (!(score >= 0 && score <= 1)) throw new FilterError(`minimum score for ${m[1]} must be within 0..1, got ${m[2]}`);
    out[m[1].trim()] = score;
  }
  return out;
}

export function formatMinScores(scores: Readonly<Record<string, number>>): string {
  return Object.entries(scores).map(([k, v]) => `${k}=${v}`).join(', ');
}
