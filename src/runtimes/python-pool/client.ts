import type { Readable, Writable } from 'node:stream';
import { encodeRequest, FrameError, MsgType, ResponseReader, Status, type Response } from './frames';

/** The pool answered a request with an error (protocol section 2); the pool itself is fine. */
export class PoolRequestError extends Error {
  constructor(readonly code: string, message: string, readonly reqId: number) {
    super(`python pool: ${code}: ${message}`);
    this.name = 'PoolRequestError';
  }
}

/** The pool process died, hung, or was closed while the request waited. */
export class PoolUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PoolUnavailableError';
  }
}

interface Pending {
  resolve: (body: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Multiplexes requests over one pool process's stdin/stdout by request id. Each request has its
 * own deadline; `failAll` rejects everything still waiting at once (used when the process dies).
 */
export class PoolClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly reader: ResponseReader;
  private closedWith: Error | undefined;
  /** performance.now() of the last byte received: the supervisor's hang detector reads it. */
  lastActivity = performance.now();

  constructor(
    private readonly input: Writable,
    output: Readable,
    private readonly maxFrameBytes: number,
    private readonly onCorrupt: (err: Error) => void,
  ) {
    this.reader = new ResponseReader(maxFrameBytes);
    output.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  get inFlight(): number {
    return this.pending.size;
  }

  request(type: MsgType, parts: Uint8Array[], timeoutMs: number): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const reqId = this.allocateId();
    const chunks = encodeRequest(reqId, type, parts, this.maxFrameBytes);
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        reject(new PoolUnavailableError(`python pool: request ${reqId} (${MsgType[type]}) got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(reqId, { resolve, reject, timer });
      if (this.pending.size === 1) this.lastActivity = performance.now(); // the hang clock starts now
      // A failed write (EPIPE, reported on the stream's 'error' event, which the supervisor
      // listens to) means the process is dying: its exit fails this request with the
      // real reason (signal, exit code, last stderr lines) a moment later; a pipe that breaks
      // without an exit is caught by the supervisor's hang watchdog.
      // Corked, the chunks leave in one writev. The caller's pixels are written from where they
      // lie: they are in the socket before the pool can answer, so before the caller reuses them.
      this.input.cork();
      for (const chunk of chunks) this.input.write(chunk);
      this.input.uncork();
    });
  }

  /** Rejects every waiting request with `err`, now, and refuses new ones. */
  failAll(err: Error): void {
    this.closedWith = err;
    const waiting = [...this.pending.keys()];
    for (const reqId of waiting) this.settle(reqId, undefined, err);
  }

  private allocateId(): number {
    // Ids wrap past 2^32 - 1 and skip 0 (reserved) and ids still in flight.
    do {
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    } while (this.pending.has(this.nextId));
    return this.nextId;
  }

  private receive(chunk: Buffer): void {
    this.lastActivity = performance.now();
    let responses: Response[];
    try {
      responses = this.reader.push(chunk);
    } catch (err) {
      this.onCorrupt(err as FrameError);
      return;
    }
    for (const r of responses) {
      if (r.status === Status.Ok) {
        this.settle(r.reqId, r.body);
      } else {
        const { code, message } = (r.body ?? {}) as { code?: string; message?: string };
        this.settle(r.reqId, undefined, new PoolRequestError(code ?? 'unknown', message ?? 'no message', r.reqId));
      }
    }
  }

  private settle(reqId: number, body: unknown, err?: Error): void {
    const pending = this.pending.get(reqId);
    if (!pending) return; // timed out already, or an id-0 notice
    this.pending.delete(reqId);
    clearTimeout(pending.timer);
    if (err) pending.reject(err);
    else pending.resolve(body);
  }
}
