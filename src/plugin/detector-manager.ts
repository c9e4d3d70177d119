import { Detector, type DetectorConfig } from '../engine/detector';

export interface DetectorStatus {
  state: 'loading' | 'ready' | 'error';
  /** What is serving now, e.g. `yolox_nano on onnx/cpu, 2 workers x 1 thread`. */
  serving?: string;
  error?: string;
}

function describe(detector: Detector): string {
  const { info } = detector.runtime;
  return `${detector.spec.name} on ${info.runtime}/${info.device}, ${info.concurrency} runner(s) x ${detector.config.threads || 'auto'} thread(s), batch up to ${info.maxBatch}`;
}

/**
 * Keeps one Detector serving while settings change. A new configuration loads beside the old
 * one; only when it is ready does it take over, and the old one closes once the requests it
 * is running have finished. A configuration that fails to load leaves the old one serving and
 * the error in `status`.
 */
export class DetectorManager {
  private current?: Detector;
  private loading?: Promise<Detector>;
  private generation = 0;
  private readonly inFlight = new Map<Detector, number>();
  private readonly retiring = new Set<Detector>();
  status: DetectorStatus = { state: 'loading' };

  constructor(private readonly onStatus: (status: DetectorStatus) => void = () => undefined) {}

  /** Starts loading `config`; resolves when it serves (or rejects with the load error). */
  configure(config: DetectorConfig): Promise<Detector> {
    const generation = ++this.generation;
    this.setStatus({ state: 'loading', serving: this.current && describe(this.current) });
    const loading = Detector.create(config).then(
      (detector) => {
        if (generation !== this.generation) {
          // A newer configuration was asked for while this one loaded.
          void detector.close();
          return this.loading ?? detector;
        }
        const previous = this.current;
        this.current = detector;
        this.loading = undefined;
        if (previous) this.retire(previous);
        this.setStatus({ state: 'ready', serving: describe(detector) });
        return detector;
      },
      (error: Error) => {
        if (generation === this.generation) {
          this.loading = undefined;
          this.setStatus({ state: 'error', serving: this.current && describe(this.current), error: error.message });
        }
        throw error;
      },
    );
    this.loading = loading;
    loading.catch(() => undefined);
    return loading;
  }

  /** The detector that serves now, waiting for the first one to load. */
  async get(): Promise<Detector> {
    if (this.current) return this.current;
    if (this.loading) return this.loading;
    throw new Error(this.status.error ? `no model is loaded: ${this.status.error}` : 'no model is configured');
  }

  /** Runs `fn` on the serving detector, keeping it open until `fn` settles. */
  async use<T>(fn: (detector: Detector) => Promise<T>): Promise<T> {
    const detector = await this.get();
    this.inFlight.set(detector, (this.inFlight.get(detector) ?? 0) + 1);
    try {
      return await fn(detector);
    } finally {
      const left = (this.inFlight.get(detector) ?? 1) - 1;
      if (left) this.inFlight.set(detector, left);
      else {
        this.inFlight.delete(detector);
        if (this.retiring.has(detector)) this.retire(detector);
      }
    }
  }

  private retire(detector: Detector): void {
    if (this.inFlight.get(detector)) {
      this.retiring.add(detector);
      return;
    }
    this.retiring.delete(detector);
    void detector.close();
  }

  private setStatus(status: DetectorStatus): void {
    this.status = status;
    this.onStatus(status);
  }

  async close(): Promise<void> {
    this.generation++;
    const all = [this.current, ...this.retiring].filter((d): d is Detector => !!d);
    this.current = undefined;
    this.retiring.clear();
    await Promise.all(all.map((d) => d.close()));
  }
}
