/**
 * How ready frames become batches. One setting for every runtime:
 * - `none`: each free runner takes one frame (up to `concurrency` single-frame runs in flight)
 * - `list`: a free runner takes every ready frame, up to `maxBatch`
 * - `window`: the first ready frame opens a window of `windowMs`; the batch leaves when the window
 *   closes or it holds `maxBatch` frames; while one batch runs the next one fills.
 * A runtime that cannot run an N-batch tensor runs the batch as a loop on one runner.
 */
export type BatchMode = 'none' | 'list' | 'window';
export const BATCH_MODES: readonly BatchMode[] = ['none', 'list', 'window'];

export interface BatchSettings {
  mode: BatchMode;
  maxBatch: number;
  windowMs: number;
}

export const DEFAULT_BATCH: BatchSettings = { mode: 'none', maxBatch: 4, windowMs: 10 };

export type BatchDecision =
  /** Take this many frames now (0: nothing ready). */
  | { take: number }
  /** Nothing leaves yet: look again after this many ms (the window is still open). */
  | { waitMs: number };

/**
 * Decides, for a runner that is free (or about to be), whether a batch leaves now and how big.
 * `windowOpenedAt` is when the first frame of the batch being filled became ready; `windowClosed`
 * says the window's timer has fired. Node's timers count whole milliseconds from a clock cached at
 * the start of the loop's turn, so one set for the window's length may fire a fraction of a
 * millisecond before `now` says it is over: the window closes then, instead of a second timer
 * (at least 1 ms) for the remainder.
 */
export function decideBatch(settings: BatchSettings, ready: number, windowOpenedAt: number | undefined, now: number, windowClosed = false): BatchDecision {
  if (ready <= 0) return { take: 0 };
  const max = Math.max(1, Math.floor(settings.maxBatch));
  switch (settings.mode) {
    case 'none':
      return { take: 1 };
    case 'list':
      return { take: Math.min(ready, max) };
    case 'window': {
      if (ready >= max) return { take: max };
      const waited = now - (windowOpenedAt ?? now);
      if (windowClosed || waited >= settings.windowMs) return { take: ready };
      return { waitMs: settings.windowMs - waited };
    }
  }
}

export function parseBatchMode(value: string): BatchMode {
  if ((BATCH_MODES as readonly string[]).includes(value)) return value as BatchMode;
  throw new Error(`unknown batch mode "${value}" (use ${BATCH_MODES.join(', ')})`);
}
