import { Detector, type DetectorConfig } from '../engine/detector';

export interface DetectorStatus {
  state: 'loading' | 'ready' | 'error';
  /** What is serving now, e.g. `yolox_nano on onnx/cpu, 2 runner(s) x 1 thread(s), batch up to 1`. */
  serving?: string;
  error?: string;
}

function describe(detector: Detector): string {
  const { info } = detector.runtime;
  return `${detector.spec.name} on ${info.runtime}/${info.device}, ${info.concurrency} runner(s) x ${detector.config.threads || 'auto'} thread(s), batch up to ${info.maxBatch}`;
}

/**
 * Loads detectors as settings change, one configuration at a time, and hands each one that
 * loads to `install` (the scheduler, which finishes work on the previous one before closing
 * it). A configuration that fails to load leaves the previous one serving and the error in
 * `status`; a configuration overtaken by a newer one while loading is closed unused.
 */
export class DetectorManager {
  private current?: Detector;
  private loading?: Promise<Detector>;
  private generation = 0;
  status: DetectorStatus = { state: 'loading' };

  constructor(
    private readonly install: (detector: Detector) => void,
    private readonly onStatus: (status: DetectorStatus) => void = () => undefined,
  ) {}

  configure(config: DetectorConfig): Promise<Detector> {
    const generation = ++this.generation;
    this.setStatus({ state: 'loading', serving: this.current && describe(this.current) });
    const loading = Detector.create(config).then(
      (detector) => {
        if (generation !== this.generation) {
          void detector.close();
          return this.get();
        }
        this.current = detector;
        this.loading = undefined;
        this.install(detector);
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

  /** The detector serving now, waiting for the first one to load. */
  async get(): Promise<Detector> {
    if (this.current) return this.current;
    if (this.loading) return this.loading;
    throw new Error(this.status.error ? `no model is loaded: ${this.status.error}` : 'no model is configured');
  }

  private setStatus(status: DetectorStatus): void {
    this.status = status;
    this.onStatus(status);
  }

  /** Stops loading; the installed detectors belong to the scheduler, which closes them. */
  stop(): void {
    this.generation++;
  }
}
