import type { Job } from './job';
import { LaneStats } from './stats';

/** An API call found the request queue full: it is refused at once instead of waiting without bound. */
export class SchedulerBusyError extends Error {
  readonly code = 'busy';
  constructor(readonly queued: number, readonly limit: number) {
    super(`detector busy: ${queued} request(s) already queued (limit ${limit}); try again later`);
    this.name = 'SchedulerBusyError';
  }
}

/** The scheduler was closed before it could answer. */
export class SchedulerClosedError extends Error {
  readonly code = 'closed';
  constructor(message = 'detector scheduler is closed') {
    super(message);
    this.name = 'SchedulerClosedError';
  }
}

/**
 * API requests (detectObjects from other plugins, the CLI): not perishable, so each one is
 * answered, first in first out, from a queue with a bound. Answers are released in arrival
 * order even when two requests run on different runners at once.
 */
export class RequestQueue {
  private readonly queue: Job[] = [];
  private head = 0;
  /** Answers waiting for an earlier request to be answered first, in order. */
  private readonly order: { settled: boolean; release?: () => void }[] = [];
  busyRejected = 0;
  readonly stats: LaneStats;

  constructor(public limit: number, readonly id = 'requests', now = performance.now()) {
    this.stats = new LaneStats(id, now);
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  get waitingSince(): number | undefined {
    return this.length ? this.queue[this.head].arrival : undefined;
  }

  /** Queues a request or throws SchedulerBusyError when the queue is full. */
  push(job: Job): void {
    if (this.length >= this.limit) {
      this.busyRejected++;
      throw new SchedulerBusyError(this.length, this.limit);
    }
    // Wrap the answer so it is delivered only after every earlier request's answer.
    const ticket: { settled: boolean; release?: () => void } = { settled: false };
    this.order.push(ticket);
    const { resolve, reject } = job;
    const deliver = (fn: () => void) => {
      ticket.settled = true;
      ticket.release = fn;
      this.flush();
    };
    job.resolve = (v) => deliver(() => resolve(v));
    job.reject = (e) => deliver(() => reject(e));
    this.queue.push(job);
  }

  private flush(): void {
    while (this.order.length && this.order[0].settled) this.order.shift()!.release!();
  }

  take(): Job | undefined {
    if (!this.length) return undefined;
    const job = this.queue[this.head];
    this.queue[this.head++] = undefined as unknown as Job;
    if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return job;
  }

  /** Removes every queued request (on close). */
  drain(): Job[] {
    const jobs = this.queue.slice(this.head);
    this.queue.length = 0;
    this.head = 0;
    return jobs;
  }
}
