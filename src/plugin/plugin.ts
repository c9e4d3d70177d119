import sdk, {
  ScryptedDeviceBase, ScryptedInterface,
  type MediaObject, type ObjectDetection, type ObjectDetectionGeneratorResult, type ObjectDetectionGeneratorSession,
  type ObjectDetectionModel, type ObjectDetectionResult, type ObjectDetectionSession, type ObjectsDetected,
  type MixinProvider, type Setting, type Settings, type SettingValue, type VideoFrame, type WritableDeviceState,
} from '@scrypted/sdk';
import { StorageSettings, type StorageSetting } from '@scrypted/sdk/storage-settings';
import path from 'path';
import { CameraAnalysis } from '../engine/camera-analysis';
import type { DetectionResult, DetectorConfig, DetectOptions } from '../engine/detector';
import { DetectionScheduler, type SchedulerOptions } from '../engine/scheduler';
import { formatSummary } from '../engine/stats';
import { detectStream } from '../engine/stream';
import { CATALOG, DEFAULT_MODEL_ID } from '../models/catalog';
import { COCO_LABELS } from '../models/labels';
import type { ModelSpec } from '../models/spec';
import type { PluginServices } from './services';
import { configurePythonPool } from '../runtimes';
import type { BatchMode } from '../engine/batching';
import { CameraDetectionMixin, canMixinCamera } from './camera-mixin';
import { DetectorManager, type DetectorStatus } from './detector-manager';
import { imageToSource, mediaToSource } from './media';
import {
  BATCH_MODES, DEVICES, RUNTIMES, SettingError, defaultConcurrency, defaultThreads, deviceFor, validateDevice, validateSetting,
} from './settings';

/** Classes that make an NVR record or notify; the rest are reported but do not trigger. */
const TRIGGER_CLASSES = ['person', 'car', 'truck', 'bus', 'motorcycle', 'bicycle', 'dog', 'cat', 'bird', 'horse'];

/** Settings whose change needs the model reloaded (the others are read on every request). */
const RELOAD_KEYS = new Set(['model', 'runtime', 'device', 'threads', 'concurrency', 'pythonPath', 'maxBatch']);
const SCHEDULER_KEYS = new Set(['batchMode', 'batchWindowMs', 'maxBatch', 'maxAgeMs']);

const STATS_LOG_INTERVAL_MS = 60_000;

export class DetectionPlugin extends ScryptedDeviceBase implements ObjectDetection, MixinProvider, Settings {
  readonly scheduler: DetectionScheduler;
  private readonly detectors: DetectorManager;
  private readonly cameraMixins = new Set<CameraDetectionMixin>();
  private readonly statsTimer: NodeJS.Timeout;

  readonly storageSettings = new StorageSettings(this, {
    model: {
      title: 'Model',
      group: 'Model',
      description: 'A built-in model (downloaded once, checked and cached) or the path of an .onnx file. '
        + 'Unknown files are recognised from their tensor shapes; a <model>.json beside the file overrides that.',
      combobox: true,
      choices: CATALOG.map((e) => e.id),
      defaultValue: DEFAULT_MODEL_ID,
    },
    runtime: {
      title: 'Runtime',
      group: 'Model',
      description: 'onnx runs ONNX Runtime inside the plugin (worker threads). openvino (Intel CPU/iGPU/NPU), '
        + 'onnx-python and coreml (Mac) run in a Python pool the plugin sets up in its data folder on first use.',
      choices: [...RUNTIMES],
      defaultValue: 'onnx',
    },
    device: {
      title: 'Device',
      group: 'Model',
      description: 'onnx: execution provider cpu, cuda (onnxruntime-node with CUDA libraries), coreml (Mac), dml (Windows). '
        + 'openvino: CPU, GPU, NPU. auto: the runtime\'s default (onnx: cpu; openvino: AUTO).',
      combobox: true,
      defaultValue: 'auto',
      onGet: async (): Promise<StorageSetting> => ({ choices: DEVICES[this.storageSettings.values.runtime] ?? ['auto'] }),
    },
    threads: {
      title: 'Threads per runner',
      group: 'Performance',
      description: 'Intra-op threads of each model session. 0 lets the runtime decide.',
      type: 'integer',
      defaultValue: defaultThreads(),
    },
    concurrency: {
      title: 'Concurrent runners',
      group: 'Performance',
      description: 'Model sessions running side by side (worker threads, or pool workers).',
      type: 'integer',
      defaultValue: defaultConcurrency(),
    },
    batchMode: {
      title: 'Batching',
      group: 'Performance',
      description: 'none: each runner takes one frame. list: a free runner takes every ready frame (up to max batch). '
        + 'window: the first ready frame waits up to the batch window for others. Frames are taken round robin across cameras.',
      choices: [...BATCH_MODES],
      defaultValue: 'none',
    },
    batchWindowMs: {
      title: 'Batch window (ms)',
      group: 'Performance',
      type: 'integer',
      defaultValue: 10,
    },
    maxBatch: {
      title: 'Max batch size',
      group: 'Performance',
      type: 'integer',
      defaultValue: 4,
    },
    maxAgeMs: {
      title: 'Maximum frame age (ms)',
      group: 'Performance',
      description: 'Camera frames older than this are dropped unprocessed (counted in the statistics).',
      type: 'integer',
      defaultValue: 2000,
    },
    pythonPath: {
      title: 'Python path',
      group: 'Model',
      description: 'Python 3.9+ for the pool runtimes. Empty: python3 from the PATH.',
      defaultValue: '',
    },
    confidence: {
      title: 'Confidence threshold',
      group: 'Detection',
      description: 'Detections scoring below this are dropped.',
      type: 'number',
      range: [0.01, 0.99],
      defaultValue: 0.25,
    },
    nmsIou: {
      title: 'NMS IoU',
      group: 'Detection',
      description: 'Boxes of the same class overlapping more than this are merged (non-maximum suppression).',
      type: 'number',
      range: [0.05, 0.95],
      defaultValue: 0.45,
    },
    classes: {
      title: 'Classes to report',
      group: 'Detection',
      description: 'Report only these classes. Empty reports every class the model knows.',
      multiple: true,
      combobox: true,
      choices: [...COCO_LABELS],
      defaultValue: [],
    },
    status: {
      title: 'Status',
      group: 'Status',
      readonly: true,
      noStore: true,
      mapGet: () => this.statusText(),
    },
    statistics: {
      title: 'Statistics',
      group: 'Status',
      description: 'Since the last minute\'s log line: frames in, processed, dropped, latency (arrival to result) by stage, batch sizes.',
      type: 'textarea',
      readonly: true,
      noStore: true,
      mapGet: () => this.statisticsText(),
    },
  });

  constructor(nativeId?: string) {
    super(nativeId);
    this.scheduler = new DetectionScheduler(this.schedulerOptions());
    this.detectors = new DetectorManager(
      (detector) => void this.scheduler.setDetector(detector),
      (status) => this.onStatus(status),
    );
    configurePythonPool(() => ({
      dataDir: this.volume,
      pythonPath: this.storageSettings.values.pythonPath || undefined,
      // The scheduler forms the batches; the pool runs whatever arrives together.
      batchMode: 'list',
      maxBatchSize: this.storageSettings.values.maxBatch,
      onLog: (line) => this.console.log('[python]', line),
      onError: (error) => this.console.error('[python]', error.message),
      onStatus: (event) => {
        this.console.log('[python]', JSON.stringify(event));
        void this.onDeviceEvent(ScryptedInterface.Settings, undefined);
      },
    }));
    this.statsTimer = setInterval(() => this.logStatistics(), STATS_LOG_INTERVAL_MS);
    this.statsTimer.unref?.();
    this.reload();
  }

  private get volume(): string {
    return process.env.SCRYPTED_PLUGIN_VOLUME ?? path.resolve('.nvr-detect');
  }

  private schedulerOptions(): Partial<SchedulerOptions> {
    const values = this.storageSettings.values;
    return {
      mode: values.batchMode as BatchMode,
      windowMs: values.batchWindowMs,
      maxBatch: values.maxBatch,
      maxAgeMs: values.maxAgeMs,
      detectOptions: this.detectOptions(),
    };
  }

  private detectorConfig(): DetectorConfig {
    const values = this.storageSettings.values;
    return {
      model: values.model,
      runtime: values.runtime,
      device: deviceFor(values.runtime, values.device),
      threads: values.threads,
      concurrency: values.concurrency,
      store: {
        cacheDir: path.join(this.volume, 'models'),
        onProgress: (message) => this.console.log(message),
      },
    };
  }

  private reload(): void {
    this.detectors.configure(this.detectorConfig()).catch((e: Error) => {
      this.console.error('model failed to load:', e.message);
      this.log.a(`Object detection model failed to load: ${e.message}`);
    });
  }

  private onStatus(status: DetectorStatus): void {
    if (status.state === 'ready') this.console.log('serving', status.serving);
    void this.onDeviceEvent(ScryptedInterface.Settings, undefined);
  }

  private statusText(): string {
    const { state, serving, error } = this.detectors.status;
    if (state === 'error') return `Error: ${error}${serving ? ` (still serving ${serving})` : ''}`;
    if (state === 'loading') return serving ? `Loading new configuration (serving ${serving})` : 'Loading model';
    return `Serving ${serving}`;
  }

  private statisticsText(): string {
    const stats = this.scheduler.stats();
    const lines = [formatSummary(stats)];
    for (const s of stats.sources) {
      lines.push(`${s.id}: ${s.fps.toFixed(1)} of ${s.fpsIn.toFixed(1)} fps, dropped ${Object.entries(s.dropped).map(([k, v]) => `${k} ${v}`).join(' ')}, p95 ${s.latency.p95.toFixed(1)} ms`);
    }
    return lines.join('\n');
  }

  /** One line a minute in the console, then the counters start over. */
  private logStatistics(): void {
    const stats = this.scheduler.stats();
    if (stats.overall.framesIn) this.console.log(formatSummary(stats));
    this.scheduler.resetStats();
  }

  async getSettings(): Promise<Setting[]> {
    return this.storageSettings.getSettings();
  }

  /** Refuses a bad value with a message the settings UI shows; a good one takes effect at once. */
  async putSetting(key: string, value: SettingValue): Promise<void> {
    const settings = this.storageSettings.settings;
    if (!(key in settings)) throw new SettingError(`unknown setting "${key}"`);
    if (settings[key as keyof typeof settings].readonly) throw new SettingError(`${key} is read-only`);
    const labels = this.scheduler.detector?.spec.labels ?? COCO_LABELS;
    const normalised = (key === 'device'
      ? validateDevice(this.storageSettings.values.runtime, value)
      : validateSetting(key, value, labels)) as SettingValue;
    if (key === 'runtime' && normalised !== this.storageSettings.values.runtime) {
      // A device of one runtime means nothing to another: start the new one on its default.
      await this.storageSettings.putSetting('device', 'auto');
    }
    await this.storageSettings.putSetting(key, normalised);
    if (SCHEDULER_KEYS.has(key) || key === 'confidence' || key === 'nmsIou' || key === 'classes') {
      this.scheduler.configure(this.schedulerOptions());
    }
    if (RELOAD_KEYS.has(key)) this.reload();
  }

  private detectOptions(session?: ObjectDetectionGeneratorSession): DetectOptions {
    const values = this.storageSettings.values;
    const override = Number(session?.settings?.confidence);
    return {
      confidence: Number.isFinite(override) && override > 0 && override < 1 ? override : values.confidence,
      iou: values.nmsIou,
      maxDetections: 100,
      classes: values.classes,
    };
  }

  /** `detections` defaults to the result's, as class, score and box. */
  private toObjectsDetected(
    result: DetectionResult,
    timestamp: number,
    sourceId?: string,
    detections: ObjectDetectionResult[] = result.detections.map(({ className, score, boundingBox }) => ({ className, score, boundingBox })),
  ): ObjectsDetected {
    return { timestamp, inputDimensions: result.inputDimensions, detections, sourceId };
  }

  /** The input spec of whatever model the scheduler serves when the frame is picked. */
  private async inputSpec(): Promise<ModelSpec['input']> {
    return (await this.detectors.get()).spec.input;
  }

  /** An API request: queued in order behind other callers (a clear "busy" error when the queue is full). */
  async detectObjects(mediaObject: MediaObject, session?: ObjectDetectionSession): Promise<ObjectsDetected> {
    await this.detectors.get();
    const result = await this.scheduler.request(
      async () => mediaToSource(mediaObject, sdk.mediaManager, await this.inputSpec()),
      this.detectOptions(session),
    );
    return this.toObjectsDetected(result, Date.now(), session?.sourceId);
  }

  /**
   * Video Analysis hands a frame generator: each session gets its own keep-latest source, so a
   * slow model never makes the NVR's decoder wait (frames replaced before they ran are skipped),
   * and its own tracker, so detections carry stable ids.
   */
  async generateObjectDetections(
    videoFrames: AsyncGenerator<VideoFrame, void> | MediaObject,
    session: ObjectDetectionGeneratorSession,
  ): Promise<AsyncGenerator<ObjectDetectionGeneratorResult, void>> {
    if (!(Symbol.asyncIterator in Object(videoFrames))) {
      throw new Error('generateObjectDetections needs a video frame generator (use VideoFrameGenerator to decode a stream)');
    }
    await this.detectors.get();
    return this.detectFrames(videoFrames as AsyncGenerator<VideoFrame, void>, session);
  }

  private async *detectFrames(frames: AsyncGenerator<VideoFrame, void>, session: ObjectDetectionGeneratorSession): AsyncGenerator<ObjectDetectionGeneratorResult, void> {
    const options = this.detectOptions(session);
    // Report from the first sighting: Video Analysis decides what to do with a one-frame object.
    const analysis = new CameraAnalysis(session?.sourceId ?? 'generator', { tracker: { minHits: 1 } });
    const stream = detectStream(this.scheduler, frames, {
      toInput: (frame) => async () => imageToSource(frame.image, await this.inputSpec()),
      meta: () => ({ options }),
    });
    for await (const { frame, result } of stream) {
      const tracked = analysis.analysed(result, frame.timestamp);
      const detected = this.toObjectsDetected(result, frame.timestamp, session?.sourceId,
        tracked.detections.map(({ className, score, boundingBox, id, history, movement }) => ({ className, score, boundingBox, id, history, movement })));
      yield { __json_copy_serialize_children: true, videoFrame: frame, detected };
    }
  }

  async getDetectionModel(_settings?: { [key: string]: unknown }): Promise<ObjectDetectionModel> {
    const detector = await this.detectors.get();
    const { spec } = detector;
    const reported: string[] = this.storageSettings.values.classes;
    const classes = reported.length ? reported : [...spec.labels];
    return {
      name: spec.name,
      inputSize: [spec.input.width, spec.input.height, 3],
      inputFormat: 'rgb',
      classes,
      triggerClasses: classes.filter((c) => TRIGGER_CLASSES.includes(c)),
      settings: [
        {
          key: 'confidence',
          title: 'Minimum confidence',
          description: 'Overrides the plugin\'s confidence threshold for this camera.',
          type: 'number',
          range: [0.01, 0.99],
          value: this.storageSettings.values.confidence,
        },
      ],
    };
  }

  // ---- per-camera detection (MixinProvider) ---------------------------------------------------

  async canMixin(type: string, interfaces: string[]): Promise<string[] | undefined> {
    return canMixinCamera(type, interfaces);
  }

  private services(): PluginServices {
    return {
      scheduler: this.scheduler,
      spec: async () => (await this.detectors.get()).spec,
      detectOptions: () => this.detectOptions(),
      mediaManager: sdk.mediaManager,
      systemManager: sdk.systemManager,
    };
  }

  async getMixin(mixinDevice: unknown, mixinDeviceInterfaces: ScryptedInterface[], mixinDeviceState: WritableDeviceState): Promise<CameraDetectionMixin> {
    const mixin = new CameraDetectionMixin({
      mixinDevice: mixinDevice as CameraDetectionMixin['mixinDevice'],
      mixinDeviceInterfaces,
      mixinDeviceState,
      mixinProviderNativeId: this.nativeId,
      group: 'Object Detection',
      groupKey: 'nvrdetect',
    }, this.services());
    this.cameraMixins.add(mixin);
    return mixin;
  }

  async releaseMixin(_id: string, mixin: CameraDetectionMixin): Promise<void> {
    this.cameraMixins.delete(mixin);
    await mixin.release();
  }

  /** Releases cameras, models and worker threads (the host calls this on plugin shutdown; the harness in tests). */
  async release(): Promise<void> {
    await Promise.all([...this.cameraMixins].map((m) => m.release()));
    this.cameraMixins.clear();
    clearInterval(this.statsTimer);
    this.detectors.stop();
    await this.scheduler.close();
  }
}
