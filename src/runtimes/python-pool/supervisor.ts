import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PoolClient, PoolRequestError, PoolUnavailableError } from './client';
import { commandParts, DEFAULT_MAX_FRAME_BYTES, MsgType, PROTOCOL_VERSION } from './frames';
import { SharedFrameMemory } from './shared-memory';

export type PoolRuntimeName = 'openvino' | 'onnx-python' | 'coreml';
export type BatchMode = 'none' | 'list' | 'window';

/** The configure command of docs/protocol.md section 4, minus `cmd` and `protocol`. */
export interface PoolConfig {
  runtime: PoolRuntimeName;
  device: string;
  threads: number;
  concurrency: number;
  batch: { mode: BatchMode; windowMs: number; maxBatchSize: number };
  models: { spec: object; path: string }[];
  maxFrameBytes?: number;
  cacheFrames?: number;
  maxQueue?: number;
}

export interface ModelStatus {
  index: number;
  name: string;
  loaded: boolean;
  maxBatch: number;
  device?: string;
  error: string | null;
}

/** The pool's ready answer. */
export interface PoolReady {
  ready: true;
  protocol: number;
  runtime: string;
  device: string;
  pid: number;
  workers: { prepare: number; predict: number };
  models: (ModelStatus | null)[];
  startupMs: number;
  maxFrameBytes: number;
  /** Whether the pool mapped the shared frame memory (infer_shared works). */
  sharedMemory?: boolean;
}

export type PoolState = 'starting' | 'ready' | 'restarting' | 'failed' | 'closed';

export interface PoolStatusEvent {
  state: PoolState;
  /** Human-readable, for the settings UI and console. */
  message: string;
  pid?: number;
  restarts: number;
  ready?: PoolReady;
}

export interface SupervisorOptions {
  python: string;
  runtimeDir: string;
  config: PoolConfig;
  /** Default deadline of one request (ms). */
  requestTimeoutMs?: number;
  /** Deadline of start-up: spawn, imports, model compile (ms). */
  startTimeoutMs?: number;
  /** Requests waiting for an answer at once; further callers queue (within their deadline). */
  maxInFlight?: number;
  /** No byte from the pool for this long while requests wait: it is hung, kill and restart. */
  hangTimeoutMs?: number;
  /** First restart delay; doubles per consecutive crash up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  env?: NodeJS.ProcessEnv;
  onStatus?: (event: PoolStatusEvent) => void;
  onError?: (err: Error) => void;
  /** The pool's stderr, one line at a time. */
  onLog?: (line: string) => void;
  /** Pass frames through shared memory where the platform has it (Linux /dev/shm); default true. */
  sharedMemory?: boolean;
}

/** Errors that restarting cannot fix: stop and report instead of looping. */
const PERMANENT = new Set(['runtime_unavailable', 'protocol_mismatch', 'bad_command']);

interface Running {
  child: ChildProcess;
  client: PoolClient;
  exited: Promise<void>;
  readyAt?: number;
}

/**
 * Spawns `python -m nvr_pool`, configures it, and keeps it alive: when it exits or hangs, every
 * waiting request fails at once with PoolUnavailableError, and a new process is started after a
 * backoff. `close()` ends the process and waits for it, so no child outlives the runtime.
 */
export class PoolSupervisor {
  private running: Running | undefined;
  private readyPromise: Promise<Running> | undefined;
  private state: PoolState = 'starting';
  private restarts = 0;
  private consecutiveCrashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private wakeRestart: (() => void) | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastReady: PoolReady | undefined;
  private fatal: Error | undefined;
  private slots: number;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly shared: SharedFrameMemory | undefined;
  private readonly opts: Required<Omit<SupervisorOptions, 'onStatus' | 'onError' | 'onLog' | 'env'>> & SupervisorOptions;

  /** The interpreter the pool runs on (its virtual environment's). */
  get python(): string {
    return this.opts.python;
  }

  constructor(options: SupervisorOptions) {
    this.opts = {
      requestTimeoutMs: 30_000,
      startTimeoutMs: 120_000,
      maxInFlight: 64,
      hangTimeoutMs: 15_000,
      backoffMs: 250,
      maxBackoffMs: 10_000,
      sharedMemory: true,
      // An option passed as undefined keeps its default.
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as SupervisorOptions),
    };
    this.slots = this.opts.maxInFlight;
    this.shared = this.opts.sharedMemory ? SharedFrameMemory.create((err) => this.report(err)) : undefined;
  }

  /** The shared frame memory, while the running pool has it mapped and it works. */
  get sharedMemory(): SharedFrameMemory | undefined {
    return this.lastReady?.sharedMemory && !this.shared?.error ? this.shared : undefined;
  }

  get ready(): PoolReady | undefined {
    return this.lastReady;
  }

  get currentState(): PoolState {
    return this.state;
  }

  get pid(): number | undefined {
    return this.running?.child.pid;
  }

  /** Starts the pool (if not yet) and resolves with its ready answer. */
  async start(): Promise<PoolReady> {
    await this.connection();
    return this.lastReady!;
  }

  /** Sends one request, waiting for a started pool and a free in-flight slot within the deadline. */
  async request(type: MsgType, parts: Uint8Array[], timeoutMs = this.opts.requestTimeoutMs): Promise<unknown> {
    const deadline = performance.now() + timeoutMs;
    // A ready pool with a free slot (every frame, normally) needs no deadline timers of its own:
    // the client's per-request deadline covers it.
    const running = this.state === 'ready' && this.running ? this.running : await withDeadline(this.connection(), timeoutMs, 'waiting for the python pool to start');
    if (this.slots > 0) {
      this.slots--;
    } else {
      const slot = this.waitForSlot();
      try {
        await withDeadline(slot, Math.max(1, deadline - performance.now()), 'waiting for a free request slot');
      } catch (err) {
        void slot.then(() => this.releaseSlot()); // hand the slot on once it comes
        throw err;
      }
    }
    try {
      return await running.client.request(type, parts, Math.max(1, deadline - performance.now()));
    } finally {
      this.releaseSlot();
    }
  }

  command(command: Record<string, unknown>, timeoutMs?: number): Promise<unknown> {
    return this.request(MsgType.Command, commandParts(command), timeoutMs);
  }

  /** Asks the pool to finish and exit; kills it if it does not within graceMs. Idempotent. */
  async close(graceMs = 3000): Promise<void> {
    if (this.state === 'closed') return;
    this.setState('closed', 'python pool closed');
    clearTimeout(this.restartTimer);
    this.wakeRestart?.(); // requests waiting for a restart fail now with "closed"
    clearInterval(this.watchdog);
    const running = this.running;
    this.running = undefined;
    this.readyPromise = undefined;
    if (running) {
      running.client.failAll(new PoolUnavailableError('python pool closed'));
      running.child.stdin?.end(); // end of input: the pool answers what it accepted and exits 0
      const timer = setTimeout(() => running.child.kill('SIGKILL'), graceMs);
      await running.exited;
      clearTimeout(timer);
    }
    this.shared?.close();
  }

  // ------------------------------------------------------------------ lifecycle

  private connection(): Promise<Running> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.state === 'closed') return Promise.reject(new PoolUnavailableError('python pool is closed'));
    if (!this.readyPromise) {
      this.readyPromise = this.spawnAndConfigure();
      this.readyPromise.catch(() => undefined);
    }
    return this.readyPromise;
  }

  private async spawnAndConfigure(): Promise<Running> {
    this.setState(this.restarts ? 'restarting' : 'starting', this.restarts ? `restarting python pool (restart ${this.restarts})` : 'starting python pool');
    const child = spawn(this.opts.python, ['-m', 'nvr_pool'], {
      cwd: this.opts.runtimeDir,
      env: { ...process.env, ...this.opts.env, PYTHONPATH: this.opts.runtimeDir, PYTHONUNBUFFERED: '1' },
      // The shared frame memory is the pool's fd 3 (configure.sharedFd).
      stdio: this.shared ? ['pipe', 'pipe', 'pipe', this.shared.fd] : ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => {
        if (child.pid === undefined) resolve(); // never started: no exit event will come
      });
    });
    const maxFrame = this.opts.config.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const client = new PoolClient(child.stdin!, child.stdout!, Math.max(maxFrame, DEFAULT_MAX_FRAME_BYTES), (err) => {
      this.report(new PoolUnavailableError(`python pool sent a corrupt frame (${err.message}); restarting it`, { cause: err }));
      child.kill('SIGKILL');
    });
    const running: Running = { child, client, exited };
    this.running = running;
    child.stdin!.on('error', () => undefined); // EPIPE when it dies: the exit handler reports it
    const stderrTail: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
      this.opts.onLog?.(line);
    });
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
      if (child.pid === undefined) {
        // The interpreter itself could not be run: restarting will not help.
        this.fatal = new PoolUnavailableError(`cannot run python "${this.opts.python}": ${err.message}; set the Python path setting`, { cause: err });
        client.failAll(this.fatal);
        this.running = undefined;
        this.setState('failed', this.fatal.message);
        this.report(this.fatal);
      }
    });
    child.once('exit', (code, signal) => this.onExit(running, code, signal, stderrTail, spawnError));

    try {
      const ready = (await client.request(
        MsgType.Command,
        commandParts({ cmd: 'configure', protocol: PROTOCOL_VERSION, ...this.opts.config, ...(this.shared && { sharedFd: 3 }) }),
        this.opts.startTimeoutMs,
      )) as PoolReady;
      running.readyAt = performance.now();
      this.lastReady = ready;
      this.setState('ready', `python pool ready: ${ready.runtime} on ${ready.device}, ${ready.workers.predict} workers, started in ${Math.round(ready.startupMs)} ms`, ready);
      this.startWatchdog();
      return running;
    } catch (err) {
      if (err instanceof PoolRequestError && PERMANENT.has(err.code)) {
        this.fatal = new PoolUnavailableError(`python pool cannot start: ${err.message}`, { cause: err });
        this.setState('failed', this.fatal.message);
        this.report(this.fatal);
        this.running = undefined;
        child.stdin!.end();
        throw this.fatal;
      }
      if (this.fatal) throw this.fatal;
      if (spawnError) throw new PoolUnavailableError(`cannot run ${this.opts.python}: ${spawnError.message}`, { cause: spawnError });
      child.kill('SIGKILL'); // a start-up that failed or timed out: the exit handler restarts it
      throw err;
    }
  }

  private onExit(running: Running, code: number | null, signal: NodeJS.Signals | null, stderrTail: string[], spawnError?: Error): void {
    const how = spawnError ? `could not start (${spawnError.message})` : signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const tail = stderrTail.slice(-5).join(' | ');
    const err = new PoolUnavailableError(`python pool (pid ${running.child.pid ?? '?'}) ${how}${tail && !signal ? `: ${tail}` : ''}`);
    running.client.failAll(err);
    if (this.running !== running || this.state === 'closed' || this.state === 'failed') return;
    this.running = undefined;
    this.readyPromise = undefined;
    clearInterval(this.watchdog);
    // A pool that served for a while before dying starts the backoff afresh.
    if (running.readyAt !== undefined && performance.now() - running.readyAt > 30_000) this.consecutiveCrashes = 0;
    const delay = Math.min(this.opts.maxBackoffMs, this.opts.backoffMs * 2 ** this.consecutiveCrashes);
    this.consecutiveCrashes++;
    this.restarts++;
    this.report(err);
    this.setState('restarting', `${err.message}; restarting in ${delay} ms`);
    // Requests arriving during the backoff wait for this restart (within their own deadlines).
    this.readyPromise = new Promise<void>((resolve) => {
      this.wakeRestart = resolve;
      this.restartTimer = setTimeout(resolve, delay);
    }).then(() => {
      if (this.state === 'closed') throw new PoolUnavailableError('python pool is closed');
      return this.spawnAndConfigure();
    });
    this.readyPromise.catch((e: Error) => this.report(e));
  }

  private startWatchdog(): void {
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      const running = this.running;
      if (!running || running.client.inFlight === 0) return;
      const silentMs = performance.now() - running.client.lastActivity;
      if (silentMs > this.opts.hangTimeoutMs) {
        this.report(new PoolUnavailableError(`python pool (pid ${running.child.pid}) answered nothing for ${Math.round(silentMs)} ms with ${running.client.inFlight} requests waiting: killing it`));
        running.child.kill('SIGKILL');
      }
    }, Math.min(1000, Math.max(50, this.opts.hangTimeoutMs / 4)));
    this.watchdog.unref();
  }

  private waitForSlot(): Promise<void> {
    return new Promise((resolve) => this.slotWaiters.push(() => resolve()));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.slots++;
  }

  private setState(state: PoolState, message: string, ready?: PoolReady): void {
    if (this.state === 'closed' && state !== 'closed') return;
    this.state = state;
    this.opts.onStatus?.({ state, message, pid: this.running?.child.pid, restarts: this.restarts, ready });
  }

  private report(err: Error): void {
    this.opts.onError?.(err);
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new PoolUnavailableError(`python pool: timed out after ${Math.round(ms)} ms ${what}`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
