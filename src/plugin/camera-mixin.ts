import {
  MixinDeviceBase, ScryptedDeviceType, ScryptedInterface,
  type Camera, type MediaManager, type VideoCamera, type MediaObject, type MixinDeviceOptions, type ObjectDetectionResult, type ObjectDetectionTypes,
  type ObjectDetector, type ObjectsDetected, type Setting, type Settings, type SettingValue,
} from '@scrypted/sdk';
import { StorageSettings } from '@scrypted/sdk/storage-settings';
import { CameraAnalysis, type CameraFrameResult, type FramePixels } from '../engine/camera-analysis';
import { parseMinScores } from '../engine/filters';
import type { ScheduledResult } from '../engine/scheduler';
import { placeImage } from '../models/geometry';
import { COCO_LABELS } from '../models/labels';
import { ImageInputError, sharp, type ImageSource } from '../models/preprocess';
import type { InputSpec } from '../models/spec';
import { FramePump, type PumpFrame, type PumpState, type PumpTuning } from './frame-pump';
import { imageToSource, isScryptedImage } from './media';
import { cameraValidators, FPS_RANGE, FRAME_SOURCE_MODES, parseZones, SIMILARITY_RANGE, TRACK_END_RANGE, type FrameSourceMode } from './mixin-settings';
import type { PluginServices } from './services';
import { SettingError } from './settings';

const CAMERA_TYPES: string[] = [ScryptedDeviceType.Camera, ScryptedDeviceType.Doorbell];

/**
 * What the mixin adds to a camera: ObjectDetector and Settings. Offered to cameras and doorbells
 * and to anything with a video stream or snapshots; never to devices that already detect
 * objects through this plugin (their interfaces already carry ObjectDetector from us, and the
 * host does not ask a provider about its own devices' API type).
 */
export function canMixinCamera(type: string, interfaces: string[]): string[] | undefined {
  const isCamera = CAMERA_TYPES.includes(type)
    || interfaces.includes(ScryptedInterface.Camera)
    || interfaces.includes(ScryptedInterface.VideoCamera);
  if (!isCamera) return undefined;
  // This plugin's own devices are the detector (ObjectDetection), not cameras.
  if (interfaces.includes(ScryptedInterface.ObjectDetection)) return undefined;
  return [ScryptedInterface.ObjectDetector, ScryptedInterface.Settings];
}

/** The options getMixin passes: Scrypted's, plus the settings group (as SettingsMixinDeviceBase takes them). */
export interface CameraMixinOptions extends MixinDeviceOptions<CameraDevice> {
  group?: string;
  groupKey?: string;
}

type CameraDevice = Partial<Camera & VideoCamera & Settings & ObjectDetector>;

/** Settings whose change needs a new pump (new stream options); the rest apply to the next frame. */
const RESTART_KEYS = new Set(['fps', 'frameSource']);

/** Recent analysed frames kept for getDetectionInput. */
const KEPT_INPUTS = 4;
/** An error this recent still shows in the status line of a camera that works again. */
const RECENT_ERROR_MS = 60_000;
/** The same error is written to the console at most this often. */
const LOG_EVERY_MS = 10_000;

interface KeptInput {
  id: string;
  source: ImageSource;
}

/**
 * One camera's detection: a frame pump into the shared scheduler, a CameraAnalysis (skip
 * unchanged, filter, track, zones) and ObjectDetector events on the camera. Settings live in
 * the mixin's storage and apply live.
 */
export class CameraDetectionMixin extends MixinDeviceBase<CameraDevice> implements ObjectDetector, Settings {
  private readonly group: string;
  private readonly groupKey: string;
  private readonly analysis: CameraAnalysis;
  private pump?: FramePump;
  private released = false;
  /** Bumped on every pump start/stop: results of an older pump are not reported. */
  private epoch = 0;
  private sequence = 0;
  private readonly kept: KeptInput[] = [];
  private lastEmptyEmitted = true;
  private readonly emitted: number[] = [];
  private latencyMs?: number;
  private readonly counts = { events: 0, detectErrors: 0 };
  private lastError?: { message: string; at: number };
  private readonly logged = new Map<string, number>();

  readonly storageSettings = new StorageSettings(this, {
    enabled: {
      title: 'Detect objects on this camera',
      type: 'boolean',
      defaultValue: true,
    },
    fps: {
      title: 'Detection frames per second (cap)',
      description: 'At most this many frames a second are taken from the camera for detection.',
      type: 'number',
      range: FPS_RANGE,
      defaultValue: 5,
    },
    frameSource: {
      title: 'Frame source',
      description: 'auto: decoded video through a VideoFrameGenerator when one is installed, otherwise snapshots.',
      choices: [...FRAME_SOURCE_MODES],
      defaultValue: 'auto',
    },
    classes: {
      title: 'Classes',
      description: 'Report only these classes on this camera. Empty: what the plugin reports.',
      multiple: true,
      combobox: true,
      choices: [...COCO_LABELS],
      defaultValue: [],
    },
    minScores: {
      title: 'Minimum score per class',
      description: 'e.g. person=0.5, car=0.6: raises the bar for those classes on this camera. '
        + 'Classes not listed (and scores below it) use the plugin\'s confidence threshold.',
      placeholder: 'person=0.5, car=0.6',
      defaultValue: '',
    },
    zones: {
      title: 'Zones',
      subgroup: 'Zones',
      description: 'JSON list of polygons in normalised coordinates (0..1, origin top-left), e.g. '
        + '[{"name": "yard", "type": "include", "polygon": [[0,0.4],[1,0.4],[1,1],[0,1]]}]. '
        + 'A detection counts as inside when the bottom centre of its box is. '
        + 'Outside every include zone or inside an exclude zone: not reported.',
      type: 'textarea',
      defaultValue: '',
    },
    similaritySkip: {
      title: 'Skip unchanged frames',
      description: 'A frame that barely differs from the last analysed one reuses its detections (tracks stay alive) without inference.',
      type: 'boolean',
      defaultValue: true,
    },
    similarityThreshold: {
      title: 'Unchanged-frame threshold',
      description: 'Mean grey-level difference (0..255) below which a frame counts as unchanged.',
      type: 'number',
      range: SIMILARITY_RANGE,
      defaultValue: 1.5,
    },
    trackEndSeconds: {
      title: 'Track end time (s)',
      description: 'An object unseen for this long is forgotten; seen again later, it gets a new id.',
      type: 'number',
      range: TRACK_END_RANGE,
      defaultValue: 2,
    },
    status: {
      title: 'Status',
      subgroup: 'Status',
      readonly: true,
      noStore: true,
      mapGet: () => this.statusText(),
    },
    statistics: {
      title: 'Statistics',
      subgroup: 'Status',
      type: 'textarea',
      readonly: true,
      noStore: true,
      mapGet: () => this.statisticsText(),
    },
  });

  constructor(options: CameraMixinOptions, private readonly services: PluginServices, private readonly tuning: Partial<PumpTuning> = {}) {
    super(options);
    this.group = options.group ?? 'Object Detection';
    this.groupKey = options.groupKey ?? 'nvrdetect';
    this.analysis = new CameraAnalysis(this.id, this.analysisOptions());
    if (this.storageSettings.values.enabled) this.startPump();
  }

  // ---- ObjectDetector ------------------------------------------------------------------------

  async getObjectTypes(): Promise<ObjectDetectionTypes> {
    const spec = await this.services.spec();
    const camera: string[] = this.storageSettings.values.classes;
    const plugin = this.services.detectOptions().classes ?? [];
    const classes = camera.length ? camera : plugin.length ? [...plugin] : [...spec.labels];
    return { classes };
  }

  /** The analysed frame of a recent event, as JPEG (at the size given to the model). */
  async getDetectionInput(detectionId: string): Promise<MediaObject> {
    const kept = this.kept.find((k) => k.id === detectionId);
    if (!kept) {
      throw new Error(`detection ${detectionId} is not one of the last ${KEPT_INPUTS} frames of this camera (only the most recent are kept)`);
    }
    const { source } = kept;
    const jpeg = source.kind === 'raw'
      ? await sharp()(source.data, { raw: { width: source.width, height: source.height, channels: source.channels } }).jpeg().toBuffer()
      : Buffer.from(source.data);
    return this.services.mediaManager.createMediaObject(jpeg, 'image/jpeg', { sourceId: this.id });
  }

  // ---- Settings ------------------------------------------------------------------------------

  async getSettings(): Promise<Setting[]> {
    const settings: Setting[] = [];
    if (this.mixinDeviceInterfaces.includes(ScryptedInterface.Settings) && this.mixinDevice.getSettings) {
      try {
        settings.push(...await this.mixinDevice.getSettings());
      } catch (e) {
        this.console.error('the camera\'s own settings failed to load:', (e as Error).message);
      }
    }
    const spec = this.services.scheduler.detector?.spec;
    for (const setting of await this.storageSettings.getSettings()) {
      if (setting.key === 'classes' && spec) setting.choices = [...spec.labels];
      settings.push({ ...setting, key: `${this.groupKey}:${setting.key}`, group: this.group });
    }
    return settings;
  }

  /**
   * Our keys come prefixed with the group key (as the settings UI sends them back); anything
   * else belongs to the camera. A refused value throws a SettingError the UI shows.
   */
  async putSetting(key: string, value: SettingValue): Promise<void> {
    const prefix = `${this.groupKey}:`;
    let own: string | undefined;
    if (key.startsWith(prefix)) own = key.slice(prefix.length);
    else if (this.mixinDeviceInterfaces.includes(ScryptedInterface.Settings) && this.mixinDevice.putSetting) return this.mixinDevice.putSetting(key, value);
    else own = key;
    const settings = this.storageSettings.settings as Record<string, { readonly?: boolean }>;
    if (!(own in settings)) throw new SettingError(`unknown setting "${key}"`);
    if (settings[own].readonly) throw new SettingError(`${own} is read-only`);
    const labels = this.services.scheduler.detector?.spec.labels ?? COCO_LABELS;
    const normalised = cameraValidators[own] ? cameraValidators[own](value, labels) : value;
    await this.storageSettings.putSetting(own, normalised as SettingValue);
    this.applySetting(own);
  }

  private applySetting(key: string): void {
    if (this.released) return;
    const enabled: boolean = this.storageSettings.values.enabled;
    if (key === 'enabled') {
      if (enabled) this.startPump();
      else void this.stopPump();
      return;
    }
    if (RESTART_KEYS.has(key)) {
      if (enabled) void this.stopPump().then(() => !this.released && this.storageSettings.values.enabled && this.startPump());
      return;
    }
    if (key === 'classes' || key === 'minScores') this.analysis.configure({ filter: this.analysisOptions().filter });
    else if (key === 'zones') this.analysis.configure({ zones: this.analysisOptions().zones });
    else if (key === 'similaritySkip' || key === 'similarityThreshold') this.analysis.configure({ similarity: this.analysisOptions().similarity });
    else if (key === 'trackEndSeconds') this.analysis.configure({ tracker: this.analysisOptions().tracker });
  }

  private analysisOptions() {
    const v = this.storageSettings.values;
    let minScoreByClass: Record<string, number> = {};
    let zones: ReturnType<typeof parseZones> = [];
    try {
      minScoreByClass = parseMinScores(String(v.minScores ?? ''));
    } catch (e) {
      this.reportError(new Error(`stored minimum scores ignored: ${(e as Error).message}`));
    }
    try {
      zones = parseZones(v.zones);
    } catch (e) {
      this.reportError(new Error(`stored zones ignored: ${(e as Error).message}`));
    }
    return {
      filter: { classes: v.classes as string[], minScoreByClass },
      zones,
      similarity: { enabled: !!v.similaritySkip, threshold: Number(v.similarityThreshold) },
      tracker: { maxUnseenMs: Number(v.trackEndSeconds) * 1000, idPrefix: `${this.id}-` },
    };
  }

  // ---- pump and results ----------------------------------------------------------------------

  private startPump(): void {
    if (this.released || this.pump?.running) return;
    const epoch = ++this.epoch;
    this.analysis.reset();
    this.lastEmptyEmitted = true;
    try {
      this.services.scheduler.openSource(this.id);
    } catch (e) {
      this.reportError(new Error(`the detector is not available: ${(e as Error).message}`));
      return;
    }
    const v = this.storageSettings.values;
    this.pump = new FramePump({
      camera: this.mixinDevice,
      interfaces: this.mixinDeviceInterfaces,
      systemManager: this.services.systemManager,
      mode: v.frameSource as FrameSourceMode,
      fps: Number(v.fps),
      onFrame: (frame) => this.onFrame(frame, epoch),
      onError: (error, retryInMs) => this.reportError(error, retryInMs),
      onState: (state, via) => this.onPumpState(state, via),
      tuning: this.tuning,
    });
    this.pump.start();
  }

  /** Stops the pump, closes the scheduler source (a waiting frame is dropped). */
  private async stopPump(): Promise<void> {
    this.epoch++;
    const pump = this.pump;
    this.pump = undefined;
    this.services.scheduler.closeSource(this.id);
    await pump?.stop();
  }

  /** The pump reports a state only when it changes: `running` is new each time. */
  private onPumpState(state: PumpState, via?: string): void {
    if (state === 'running') this.console.log(`receiving frames (${via})`);
    void this.onDeviceEvent(ScryptedInterface.Settings, undefined);
  }

  /**
   * Converts the frame (at model size, for the unchanged-frame check and the model) and hands it
   * to the analysis, which gives it to the scheduler. Returns once handed over: never waits for
   * inference. A throw here is a bad frame (the pump reports it and goes on).
   */
  private async onFrame(frame: PumpFrame, epoch: number): Promise<void> {
    // Asked each frame (it resolves at once once loaded): a model swap may change the input size.
    const { input } = await this.services.spec();
    const source = await frameToSource(frame, input, this.services.mediaManager, !!this.storageSettings.values.similaritySkip);
    if (epoch !== this.epoch) return;
    const pixels: FramePixels | undefined = source.kind === 'raw'
      ? { data: source.data, width: source.width, height: source.height, channels: source.channels }
      : undefined;
    const detectionId = `${this.id}-${this.epoch}-${++this.sequence}`;
    const captured = Date.now();
    const submit = () => this.services.scheduler.submitFrame(this.id, source, { timestamp: captured, options: this.services.detectOptions() });
    this.analysis.process(pixels, frame.timestamp, submit).then(
      (outcome) => {
        if (epoch !== this.epoch || this.released) return;
        if ('dropped' in outcome || 'late' in outcome) return;
        this.report(outcome, detectionId, source);
      },
      (e: unknown) => {
        if (epoch !== this.epoch || this.released) return;
        const error = e instanceof Error ? e : new Error(String(e));
        if (!(error instanceof ImageInputError)) this.counts.detectErrors++;
        this.reportError(new Error(`detection failed: ${error.message}`));
      },
    );
  }

  private report(outcome: CameraFrameResult, detectionId: string, source: ImageSource): void {
    const latency = (outcome.result as ScheduledResult | undefined)?.latency?.totalMs;
    if (latency !== undefined) this.latencyMs = this.latencyMs === undefined ? latency : this.latencyMs * 0.8 + latency * 0.2;
    this.kept.push({ id: detectionId, source });
    if (this.kept.length > KEPT_INPUTS) this.kept.shift();
    // An empty scene is said once, not at every frame: listeners learn that objects left.
    const empty = outcome.detections.length === 0;
    if (empty && this.lastEmptyEmitted) return;
    this.lastEmptyEmitted = empty;
    const detections: ObjectDetectionResult[] = outcome.detections.map((d) => ({
      className: d.className,
      score: d.score,
      boundingBox: d.boundingBox,
      id: d.id,
      history: d.history,
      movement: d.movement,
      zones: d.zones,
    }));
    const detected: ObjectsDetected = {
      detectionId,
      timestamp: outcome.timestamp,
      inputDimensions: outcome.inputDimensions,
      sourceId: this.id,
      detections,
    };
    this.counts.events++;
    const now = Date.now();
    this.emitted.push(now);
    while (this.emitted.length && this.emitted[0] < now - 10_000) this.emitted.shift();
    void this.onDeviceEvent(ScryptedInterface.ObjectDetector, detected);
  }

  /** Shows an error in the status and the console (the same message at most every 10 s). */
  private reportError(error: Error, retryInMs?: number): void {
    const message = retryInMs === undefined ? error.message : `${error.message}; retrying in ${Math.round(retryInMs / 100) / 10} s`;
    this.lastError = { message, at: Date.now() };
    const key = error.message;
    const now = Date.now();
    // A broken camera fails at every frame: say it once per message per interval.
    if (now - (this.logged.get(key) ?? -Infinity) >= LOG_EVERY_MS) {
      this.logged.set(key, now);
      if (this.logged.size > 50) this.logged.delete(this.logged.keys().next().value!);
      this.console.error(`[${this.name ?? this.id}] ${message}`);
      void this.onDeviceEvent(ScryptedInterface.Settings, undefined);
    }
  }

  // ---- status --------------------------------------------------------------------------------

  /** Everything a person (or a test) needs to see how this camera is doing. */
  get stats() {
    const a = this.analysis.stats;
    return {
      enabled: !!this.storageSettings.values.enabled,
      pump: this.pump?.state ?? 'stopped',
      via: this.pump?.via,
      eventsPerSecond: this.emitted.length / 10,
      latencyMs: this.latencyMs,
      frames: a.frames,
      inferences: a.analysed,
      skipped: a.skipped,
      dropped: a.dropped,
      late: a.late,
      events: this.counts.events,
      badFrames: this.pump?.counts.badFrames ?? 0,
      detectErrors: this.counts.detectErrors,
      streamFailures: this.pump?.counts.failures ?? 0,
      tracks: a.tracker.confirmed,
      tracksCreated: a.tracker.created,
      lastError: this.lastError?.message,
      lastErrorAt: this.lastError?.at,
    };
  }

  statusText(): string {
    if (this.released) return 'Released';
    if (!this.storageSettings.values.enabled) return 'Disabled';
    const s = this.stats;
    const recent = s.lastError && Date.now() - s.lastErrorAt! < RECENT_ERROR_MS;
    const error = recent ? `; last error ${Math.round((Date.now() - s.lastErrorAt!) / 1000)} s ago: ${s.lastError}` : '';
    switch (s.pump) {
      case 'running': return `Detecting (${s.via}, ${s.eventsPerSecond.toFixed(1)} events/s, ${s.tracks} tracks)${error}`;
      case 'backoff': return `Camera failing: ${s.lastError ?? 'unknown error'}`;
      case 'starting': return `Starting${error}`;
      default: return `Stopped${error}`;
    }
  }

  statisticsText(): string {
    const s = this.stats;
    const latency = s.latencyMs === undefined ? '-' : `${s.latencyMs.toFixed(0)} ms`;
    return [
      `frames ${s.frames}, inferences ${s.inferences}, skipped unchanged ${s.skipped}, dropped ${s.dropped}`,
      `events ${s.events} (${s.eventsPerSecond.toFixed(1)}/s), latency ${latency}`,
      `tracks now ${s.tracks}, created ${s.tracksCreated}`,
      `bad frames ${s.badFrames}, detection errors ${s.detectErrors}, stream failures ${s.streamFailures}`,
      s.lastError ? `last error ${new Date(s.lastErrorAt!).toISOString()}: ${s.lastError}` : 'no errors',
    ].join('\n');
  }

  /** Stops the pump and frees what the camera held: scheduler source, generator, timers, listeners. */
  override async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.stopPump();
    this.kept.length = 0;
    super.release();
  }
}

/**
 * A frame as the model's input. Video frames are asked for RGB at the model's size (the host
 * resizes); snapshots are fetched as JPEG and, when the unchanged-frame check needs pixels,
 * decoded and resized here, otherwise left encoded for the scheduler to decode when picked.
 */
export async function frameToSource(frame: PumpFrame, input: InputSpec, mediaManager: MediaManager, wantPixels: boolean): Promise<ImageSource> {
  const media = frame.kind === 'image' ? frame.image : frame.media;
  if (isScryptedImage(media)) return imageToSource(media, input);
  let jpeg: Buffer;
  try {
    jpeg = await mediaManager.convertMediaObjectToBuffer(media, 'image/jpeg');
  } catch (e) {
    throw new ImageInputError(`snapshot of type ${media.mimeType} could not be read as JPEG: ${(e as Error).message}`, { cause: e });
  }
  if (!jpeg?.length) throw new ImageInputError('the camera returned an empty snapshot (0 bytes)');
  if (!wantPixels) return { kind: 'encoded', data: jpeg, mimeType: 'image/jpeg' };
  try {
    const image = sharp()(jpeg);
    const meta = await image.metadata();
    if (!meta.width || !meta.height) throw new Error('no dimensions');
    const placement = placeImage(meta.width, meta.height, input);
    const data = await image.resize(placement.width, placement.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    return { kind: 'raw', data, width: placement.width, height: placement.height, channels: 3, originalSize: [meta.width, meta.height] };
  } catch (e) {
    throw new ImageInputError(`snapshot (${jpeg.length} bytes) is not a readable image: ${(e as Error).message}`, { cause: e });
  }
}
