import { isDropped, type FrameInput } from './job';
import type { DetectionScheduler, FrameMeta, ScheduledResult } from './scheduler';

export interface DetectStreamOptions<F> {
  /** The source the frames go through (a fresh one per stream by default); closed when the stream ends. */
  sourceId?: string;
  /**
   * Turns a frame into scheduler input. Started as each frame arrives, before the next is pulled
   * (convert while the producer's buffer is still valid; return a thunk to defer the work until
   * the frame is picked, so frames that get replaced cost nothing).
   */
  toInput: (frame: F) => FrameInput | Promise<FrameInput>;
  meta?: (frame: F) => FrameMeta;
  /**
   * Results the consumer has not taken yet, at most; beyond it the oldest finished one is skipped,
   * so a consumer slower than the model costs memory no more than a model slower than the camera.
   */
  maxPending?: number;
  /** Called for a frame that failed (conversion or runtime); without it the stream throws. */
  onError?: (error: Error, frame: F) => void;
}

export interface StreamResult<F> {
  frame: F;
  result: ScheduledResult;
}

let streamCounter = 0;

interface Pending<F> {
  frame: F;
  settled: boolean;
  outcome: Promise<{ result?: ScheduledResult; error?: Error }>;
}

/**
 * Detection for a frame generator (Scrypted's generateObjectDetections): frames are pulled as
 * fast as the producer yields them and each takes this stream's keep-latest slot, so a slow
 * model never makes the producer (the NVR's decoder) wait; frames replaced before they ran are
 * skipped. Results come out in frame order. Ending the consumer early stops the producer.
 */
export async function* detectStream<F>(
  scheduler: DetectionScheduler,
  frames: AsyncIterable<F>,
  options: DetectStreamOptions<F>,
): AsyncGenerator<StreamResult<F>, void, undefined> {
  const sourceId = options.sourceId ?? `stream-${++streamCounter}`;
  const maxPending = Math.max(2, options.maxPending ?? 8);
  const iterator = frames[Symbol.asyncIterator]();
  const pending: Pending<F>[] = [];
  let producerDone = false;
  let producerError: Error | undefined;
  let stopped = false;
  let submitted = Promise.resolve();
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  scheduler.openSource(sourceId);

  const produce = async () => {
    try {
      while (!stopped) {
        const next = await iterator.next();
        if (next.done || stopped) break;
        const frame = next.value;
        const entry: Pending<F> = { frame, settled: false, outcome: undefined as never };
        // Conversions may finish out of order; submissions must not, or an older frame would
        // replace a newer one in the slot.
        const previous = submitted;
        let markSubmitted!: () => void;
        submitted = new Promise<void>((resolve) => (markSubmitted = resolve));
        entry.outcome = (async () => {
          try {
            const input = await options.toInput(frame);
            await previous;
            const answer = scheduler.submitFrame(sourceId, input, options.meta?.(frame) ?? {});
            markSubmitted();
            const value = await answer;
            return isDropped(value) ? {} : { result: value };
          } catch (e) {
            return { error: e instanceof Error ? e : new Error(String(e)) };
          } finally {
            markSubmitted();
            entry.settled = true;
            notify();
          }
        })();
        pending.push(entry);
        // Bound what a slow consumer leaves behind: skip the oldest answered frame.
        if (pending.length > maxPending) {
          const at = pending.findIndex((p) => p.settled);
          if (at >= 0) pending.splice(at, 1);
        }
        notify();
      }
    } catch (e) {
      producerError = e instanceof Error ? e : new Error(String(e));
    } finally {
      producerDone = true;
      notify();
    }
  };
  const producer = produce();

  try {
    for (;;) {
      if (pending.length) {
        const head = pending[0];
        const outcome = await head.outcome;
        if (pending[0] === head) pending.shift();
        if (outcome.error) {
          if (!options.onError) throw outcome.error;
          options.onError(outcome.error, head.frame);
        } else if (outcome.result) {
          yield { frame: head.frame, result: outcome.result };
        }
        continue;
      }
      if (producerDone) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    if (producerError) throw producerError;
  } finally {
    stopped = true;
    if (!producerDone) void Promise.resolve(iterator.return?.()).catch(() => undefined);
    scheduler.closeSource(sourceId);
    void producer;
  }
}
