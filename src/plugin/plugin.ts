import sdk, {
  ScryptedDeviceBase, ScryptedInterface,
  type MediaObject, type ObjectDetection, type ObjectDetectionGeneratorResult, type ObjectDetectionGeneratorSession,
  type ObjectDetectionModel, type ObjectDetectionResult, type ObjectDetectionSession, type ObjectsDetected,
  type Setting, type Settings, type SettingValue, type VideoFrame,
} from '@scrypted/sdk';
import { StorageSettings } from '@scrypted/sdk/storage-settings';
import path from 'path';
import type { DetectionResult, DetectorConfig, DetectOptions } from '../engine/detector';
import { CATALOG, DEFAULT_MODEL_ID } from '../models/catalog';
import { COCO_LABELS } from '../models/labels';
import { DetectorManager, type DetectorStatus } from './detector-manager';
import { mediaToSource } from './media';
import { defaultConcurrency, defaultThreads, EXECUTION_PROVIDERS, SettingError, validateSetting } from './settings';

/** Classes that make an NVR record or notify; the rest are reported but do not trigger. */
const TRIGGER_CLASSES = ['person', 'car', 'truck', 'bus', 'motorcycle', 'bicycle', 'dog', 'cat', 'bird', 'horse'];

/** Settings whose change needs the model reloaded (the others are read on every request). */
const RELOAD_KEYS = new Set(['model', 'threads', 'concurrency', 'executionProvider']);

export class DetectionPlugin extends ScryptedDeviceBase implements ObjectDetection, Settings {
  private readonly detectors = new DetectorManager((status) => this.onStatus(status));

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
    executionProvider: {
      title: 'Execution provider',
      group: 'Model',
      description: 'Where ONNX Runtime runs the model. cuda needs onnxruntime-node installed with its CUDA libraries, coreml a Mac, dml Windows.',
      choices: EXECUTION_PROVIDERS,
      defaultValue: 'cpu',
    },
    threads: {
      title: 'Threads per runner',
      group: 'Performance',
      description: 'Intra-op threads of each model session. 0 lets ONNX Runtime decide.',
      type: 'integer',
      defaultValue: defaultThreads(),
    },
    concurrency: {
      title: 'Concurrent runners',
      group: 'Performance',
      description: 'Model sessions running side by side, each in its own worker thread.',
      type: 'integer',
      defaultValue: defaultConcurrency(),
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
  });

  constructor(nativeId?: string) {
    super(nativeId);
    this.reload();
  }

  private get volume(): string {
    return process.env.SCRYPTED_PLUGIN_VOLUME ?? path.resolve('.nvr-detect');
  }

  private detectorConfig(): DetectorConfig {
    const values = this.storageSettings.values;
    return {
      model: values.model,
      runtime: 'onnx',
      device: values.executionProvider,
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

  async getSettings(): Promise<Setting[]> {
    return this.storageSettings.getSettings();
  }

  /** Refuses a bad value with a message the settings UI shows; a good one takes effect at once. */
  async putSetting(key: string, value: SettingValue): Promise<void> {
    if (!(key in this.storageSettings.settings)) throw new SettingError(`unknown setting "${key}"`);
    if (this.storageSettings.settings[key as keyof typeof this.storageSettings.settings].readonly) {
      throw new SettingError(`${key} is read-only`);
    }
    const labels = (await this.detectors.get().catch(() => undefined))?.spec.labels ?? COCO_LABELS;
    const normalised = validateSetting(key, value, labels) as SettingValue;
    await this.storageSettings.putSetting(key, normalised);
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

  private toObjectsDetected(result: DetectionResult, timestamp: number, sourceId?: string): ObjectsDetected {
    const detections: ObjectDetectionResult[] = result.detections.map((d) => ({
      className: d.className,
      score: d.score,
      boundingBox: d.boundingBox,
    }));
    return { timestamp, inputDimensions: result.inputDimensions, detections, sourceId };
  }

  async detectObjects(mediaObject: MediaObject, session?: ObjectDetectionSession): Promise<ObjectsDetected> {
    return this.detectors.use(async (detector) => {
      const source = await mediaToSource(mediaObject, sdk.mediaManager, detector.spec.input);
      const result = await detector.detect(source, this.detectOptions(session));
      return this.toObjectsDetected(result, Date.now(), session?.sourceId);
    });
  }

  async generateObjectDetections(
    videoFrames: AsyncGenerator<VideoFrame, void> | MediaObject,
    session: ObjectDetectionGeneratorSession,
  ): Promise<AsyncGenerator<ObjectDetectionGeneratorResult, void>> {
    if (!(Symbol.asyncIterator in Object(videoFrames))) {
      throw new Error('generateObjectDetections needs a video frame generator (use VideoFrameGenerator to decode a stream)');
    }
    return this.detectFrames(videoFrames as AsyncGenerator<VideoFrame, void>, session);
  }

  private async *detectFrames(frames: AsyncGenerator<VideoFrame, void>, session: ObjectDetectionGeneratorSession): AsyncGenerator<ObjectDetectionGeneratorResult, void> {
    for await (const videoFrame of frames) {
      const detected = await this.detectObjects(videoFrame.image, { ...session });
      detected.timestamp = videoFrame.timestamp;
      yield { __json_copy_serialize_children: true, videoFrame, detected };
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

  /** Releases models and worker threads (the host calls this on plugin shutdown; the harness in tests). */
  async release(): Promise<void> {
    await this.detectors.close();
  }
}
