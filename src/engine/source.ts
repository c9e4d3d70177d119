import type { Job } from './job';
import { LaneStats } from './stats';

/**
 * A camera or stream: a slot of one frame. A newer frame replaces one that has not started
 * (keep latest), so capture never waits for inference and stale frames never pile up.
 */
export class FrameSource {
  private slot?: Job;
  readonly stats: LaneStats;
  constructor(readonly id: string, now = performance.now()) {
    this.stats = new LaneStats(id, now);
  }

  /** Puts a frame in the slot; returns the frame it replaced, if any (the caller drops it). */
  offer(job: Job): Job | undefined {
    const previous = this.slot;
    this.slot = job;
    return previous;
  }

  /** Arrival of the waiting frame (for the batching window). */
  get waitingSince(): number | undefined {
    return this.slot?.arrival;
  }

  peek(): Job | undefined {
    return this.slot;
  }

  take(): Job | undefined {
    const job = this.slot;
    this.slot = undefined;
    return job;
  }
}
