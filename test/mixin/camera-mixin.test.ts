import type { ObjectsDetected, Setting } from '@scrypted/sdk';
import fs from 'fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detector as DetectorType } from '../../src/engine/detector';
import type { DetectionScheduler as SchedulerType } from '../../src/engine/scheduler';
import type { CameraDetectionMixin as MixinType } from '../../src/plugin/camera-mixin';
import type { PumpTuning } from '../../src/plugin/frame-pump';
import type { PluginServices } from '../../src/plugin/services';
import { FakeCamera, FakeVideoFrameGenerator, vtestFrames, type FakeBehaviour } from '../harness/fake-camera';
import { TestHost } from '../harness/host';
import { installHost } from '../harness/load';
import type { HostMediaObject } from '../harness/media';
import { sleep, until } from '../harness/wait';
import { YOLOX } from '../paths';

const MODEL = YOLOX;
const hasShared = fs.existsSync(MODEL);

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

const FAST: Partial<PumpTuning> = { backoffMinMs: 100, backoffMaxMs: 400, stallMs: 3_000 };

describe.skipIf(!hasShared)('camera mixin through the test host', () => {
  const host = new TestHost();
  let Mixin: typeof MixinType;
  let canMixinCamera: (type: string, interfaces: string[]) => string[] | undefined;
  let detector: DetectorType;
  let scheduler: SchedulerType;
  let services: PluginServices;
  const mixins: MixinType[] = [];
  let inferences = 0;

  beforeAll(async () => {
    // @scrypted/sdk binds to the host's managers when it is first loaded: install them first.
    installHost(host);
    ({ CameraDetectionMixin: Mixin, canMixinCamera } = await import('../../src/plugin/camera-mixin.js'));
    const { Detector } = await import('../../src/engine/detector.js');
    const { DetectionScheduler } = await import('../../src/engine/scheduler.js');
    detector = await Detector.create({ model: MODEL, runtime: 'onnx', device: 'cpu', threads: 1, concurrency: 1 });
    const detect = detector.runtime.detect.bind(detector.runtime);
    detector.runtime.detect = (frames, options) => {
      inferences += frames.length;
      return detect(frames, options);
    };
    scheduler = new DetectionScheduler({}, detector);
    services = {
      scheduler,
      spec: async () => detector.spec,
      detectOptions: () => ({ confidence: 0.3, iou: 0.45, maxDetections: 100 }),
      mediaManager: host.mediaManager,
      systemManager: host.systemManager,
    };
    host.addDevice('Frame Generator', 'API', ['VideoFrameGenerator'], new FakeVideoFrameGenerator());
  });

  afterAll(async () => {
    for (const m of mixins) await m.release();
    await scheduler?.close();
  });

  /** A camera of another plugin, and (unless `attach` is false) the mixin on it as getMixin would make it. */
  function camera(name: string, behaviour: FakeBehaviour = 'ok', options: { interfaces?: string[]; settings?: Record<string, string>; tuning?: Partial<PumpTuning> } = {}) {
    const fake = new FakeCamera(name, vtestFrames(0, 40, 2), behaviour);
    const interfaces = options.interfaces ?? ['Camera', 'VideoCamera'];
    const id = host.addDevice(name, 'Camera', interfaces, fake);
    const storage = host.storageFor(`mixin:${id}:plugin`);
    for (const [k, v] of Object.entries(options.settings ?? {})) storage.setItem(k, v);
    const mixin = new Mixin({
      mixinDevice: host.systemManager.getDeviceById<FakeCamera>(id),
      mixinDeviceInterfaces: interfaces as never,
      mixinDeviceState: host.deviceManager.createDeviceState(id, async () => undefined),
      mixinProviderNativeId: undefined,
      group: 'Object Detection',
      groupKey: 'nvrdetect',
    }, services, { ...FAST, ...options.tuning });
    mixins.push(mixin);
    return { id, fake, mixin, console: host.consoleFor(`mixin:${id}:plugin`) };
  }

  const detections = (id: string) => host.eventsOf('ObjectDetector', id).map((e) => e.eventData as ObjectsDetected);
  const setting = async (mixin: MixinType, key: string): Promise<Setting | undefined> =>
    (await mixin.getSettings()).find((s) => s.key === `nvrdetect:${key}`);

  /** After a stop: no more events, no scheduler source, no generator. Returns the event count it settled at. */
  async function expectQuiet(cam: ReturnType<typeof camera>): Promise<number> {
    await sleep(300);
    const settled = detections(cam.id).length;
    await sleep(1_000);
    expect(detections(cam.id).length).toBe(settled);
    expect(scheduler.hasSource(cam.id)).toBe(false);
    expect(cam.fake.activeGenerators).toBe(0);
    return settled;
  }

  it('is offered to cameras, doorbells and video devices, not to other devices or detectors', () => {
    expect(canMixinCamera('Camera', ['Camera'])).toEqual(['ObjectDetector', 'Settings']);
    expect(canMixinCamera('Doorbell', ['BinarySensor'])).toEqual(['ObjectDetector', 'Settings']);
    expect(canMixinCamera('Sensor', ['VideoCamera'])).toEqual(['ObjectDetector', 'Settings']);
    expect(canMixinCamera('Light', ['OnOff'])).toBeUndefined();
    expect(canMixinCamera('API', ['ObjectDetection', 'Camera', 'Settings'])).toBeUndefined();
  });

  it('emits tracked persons from decoded video, then stops everything when disabled and resumes when enabled', async () => {
    const listenersBefore = host.listenerCount();
    const timersBefore = timers();
    const cam = camera('Street');
    await until('5 events with persons', () => detections(cam.id).filter((d) => d.detections?.some((x) => x.className === 'person')).length >= 5);

    const events = detections(cam.id);
    const last = events.at(-1)!;
    expect(last.sourceId).toBe(cam.id);
    expect(last.inputDimensions).toEqual([768, 576]);
    expect(typeof last.detectionId).toBe('string');
    expect(new Set(events.map((e) => e.detectionId)).size).toBe(events.length);
    const person = last.detections!.find((d) => d.className === 'person')!;
    expect(person.id).toMatch(new RegExp(`^${cam.id}-`));
    expect(person.history!.lastSeen).toBeGreaterThanOrEqual(person.history!.firstSeen);
    expect(person.movement).toBeDefined();
    expect(person.zones).toEqual([]);
    // Tracking: one id follows a pedestrian over several events.
    const idCounts = new Map<string, number>();
    for (const e of events) for (const d of e.detections ?? []) idCounts.set(d.id!, (idCounts.get(d.id!) ?? 0) + 1);
    expect(Math.max(...idCounts.values())).toBeGreaterThanOrEqual(3);

    expect(cam.mixin.stats.via).toBe('video');
    expect(cam.fake.activeGenerators).toBe(1);
    expect(scheduler.hasSource(cam.id)).toBe(true);
    expect((await setting(cam.mixin, 'status'))?.value).toMatch(/^Detecting \(video/);
    expect((await cam.mixin.getObjectTypes()).classes).toContain('person');

    const input = await cam.mixin.getDetectionInput(last.detectionId!) as HostMediaObject;
    expect(input.mimeType).toBe('image/jpeg');
    expect((await sharp(input.data as Buffer).metadata()).format).toBe('jpeg');
    await expect(cam.mixin.getDetectionInput('nope')).rejects.toThrow(/not one of the last/);

    await cam.mixin.putSetting('nvrdetect:enabled', false);
    const stopped = await expectQuiet(cam);
    expect(cam.fake.generatorsEnded).toBe(1);
    expect((await setting(cam.mixin, 'status'))?.value).toBe('Disabled');

    await cam.mixin.putSetting('nvrdetect:enabled', true);
    await until('events again', () => detections(cam.id).length > stopped + 2);

    await cam.mixin.release();
    await expectQuiet(cam);
    expect(host.listenerCount()).toBe(listenersBefore);
    expect(timers()).toBeLessThanOrEqual(timersBefore);
  });

  it('takes snapshots when the camera has no video stream', async () => {
    const cam = camera('Snapshots only', 'ok', { interfaces: ['Camera'], settings: { fps: '4' } });
    await until('3 events with persons', () => detections(cam.id).filter((d) => d.detections?.some((x) => x.className === 'person')).length >= 3);
    expect(cam.mixin.stats.via).toBe('snapshot');
    expect(cam.fake.pictures).toBeGreaterThanOrEqual(3);
    expect(detections(cam.id).at(-1)!.inputDimensions).toEqual([768, 576]);
    const before = cam.fake.pictures;
    await sleep(1_000);
    // The fps cap paces the snapshots (4/s, with slack for a slow machine).
    expect(cam.fake.pictures - before).toBeLessThanOrEqual(5);
    await cam.mixin.release();
    const pictures = cam.fake.pictures;
    await sleep(600);
    expect(cam.fake.pictures).toBe(pictures);
    expect(scheduler.hasSource(cam.id)).toBe(false);
  });

  it('skips inference on an unchanged scene while events keep coming', async () => {
    const cam = camera('Static', 'static', { settings: { fps: '5' } });
    await until('first event', () => detections(cam.id).length >= 1);
    const inferencesBefore = cam.mixin.stats.inferences;
    const eventsBefore = detections(cam.id).length;
    await sleep(2_500);
    const s = cam.mixin.stats;
    expect(detections(cam.id).length - eventsBefore).toBeGreaterThanOrEqual(6);
    expect(s.inferences - inferencesBefore).toBeLessThanOrEqual(1);
    expect(s.skipped).toBeGreaterThanOrEqual(6);
    // Tracks stay alive on the skipped frames: the same ids throughout.
    const ids = detections(cam.id).slice(eventsBefore).map((e) => (e.detections ?? []).map((d) => d.id).sort().join());
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).not.toBe('');

    await cam.mixin.putSetting('nvrdetect:similaritySkip', false);
    const analysedBefore = cam.mixin.stats.inferences;
    await sleep(1_500);
    expect(cam.mixin.stats.inferences - analysedBefore).toBeGreaterThanOrEqual(4);
    await cam.mixin.release();
  });

  it('does not report detections outside an inclusion zone or inside an exclusion zone', async () => {
    const cam = camera('Zoned', 'static');
    await until('an event with 2+ persons', () => (detections(cam.id).at(-1)?.detections?.filter((d) => d.className === 'person').length ?? 0) >= 2);
    const persons = detections(cam.id).at(-1)!.detections!.filter((d) => d.className === 'person');
    // A small square around the first person's feet (bottom centre of its box, normalised).
    const [x, y, w, h] = persons[0].boundingBox!;
    const fx = (x + w / 2) / 768;
    const fy = (y + h) / 576;
    const square = (r: number) => [[fx - r, fy - r], [fx + r, fy - r], [fx + r, fy + r], [fx - r, fy + r]].map((p) => p.map((v) => Math.min(1, Math.max(0, v))));
    const near = (d: { boundingBox?: number[] }) => Math.abs((d.boundingBox![0] + d.boundingBox![2] / 2) / 768 - fx) < 0.02 && Math.abs((d.boundingBox![1] + d.boundingBox![3]) / 576 - fy) < 0.02;

    await cam.mixin.putSetting('nvrdetect:zones', JSON.stringify([{ name: 'door', type: 'exclude', polygon: square(0.02) }]));
    let mark = detections(cam.id).length;
    await until('events with the exclusion zone', () => detections(cam.id).length >= mark + 3);
    for (const e of detections(cam.id).slice(mark + 1)) {
      expect(e.detections!.some(near)).toBe(false);
      expect(e.detections!.length).toBeGreaterThanOrEqual(1);
    }

    await cam.mixin.putSetting('nvrdetect:zones', JSON.stringify([{ name: 'door', type: 'include', polygon: square(0.02) }]));
    mark = detections(cam.id).length;
    await until('events with the inclusion zone', () => detections(cam.id).length >= mark + 3);
    for (const e of detections(cam.id).slice(mark + 1)) {
      expect(e.detections!.length).toBeGreaterThanOrEqual(1);
      for (const d of e.detections!) {
        expect(near(d)).toBe(true);
        expect(d.zones).toEqual(['door']);
      }
    }
    await cam.mixin.release();
  });

  it('refuses bad settings with a clear message and applies good ones live', async () => {
    const cam = camera('Settings', 'static', { settings: { enabled: 'false' } });
    const put = (key: string, value: unknown) => cam.mixin.putSetting(`nvrdetect:${key}`, value as never);
    await expect(put('fps', 'fast')).rejects.toThrow(/fps cap must be a number from 0.1 to 30 \(got "fast"\)/);
    await expect(put('fps', 0)).rejects.toThrow(/from 0.1 to 30/);
    await expect(put('classes', ['person', 'unicorn'])).rejects.toThrow(/unknown class\(es\) unicorn/);
    await expect(put('minScores', 'person=2')).rejects.toThrow(/within 0\.\.1/);
    await expect(put('minScores', 'unicorn=0.5')).rejects.toThrow(/unknown class/);
    await expect(put('minScores', 'person')).rejects.toThrow(/CLASS=SCORE/);
    await expect(put('zones', '[{"name": "a"')).rejects.toThrow(/zones must be JSON/);
    await expect(put('zones', '[{"name": "a", "type": "include", "polygon": [[0,0],[2,0],[1,1]]}]')).rejects.toThrow(/normalised/);
    await expect(put('frameSource', 'rtsp')).rejects.toThrow(/frame source must be one of auto, video, snapshot/);
    await expect(put('trackEndSeconds', -1)).rejects.toThrow(/track end time/);
    await expect(put('status', 'ok')).rejects.toThrow(/read-only/);
    await expect(cam.mixin.putSetting('bogus', 1)).rejects.toThrow(/unknown setting/);
    expect(host.storageFor(`mixin:${cam.id}:plugin`).getItem('fps')).toBeNull();

    const settings = await cam.mixin.getSettings();
    expect(settings.every((s) => s.key!.startsWith('nvrdetect:') && s.group === 'Object Detection')).toBe(true);
    expect(settings.find((s) => s.key === 'nvrdetect:enabled')?.value).toBe(false);

    await put('minScores', 'person = 0.99 , car:0.5');
    expect((await setting(cam.mixin, 'minScores'))?.value).toBe('person=0.99, car=0.5');
    await put('enabled', true);
    await until('a few frames', () => cam.mixin.stats.frames >= 4);
    await sleep(500);
    expect(detections(cam.id).flatMap((e) => e.detections ?? []).some((d) => d.className === 'person')).toBe(false);
    await put('minScores', '');
    await until('persons once the minimum score is lifted', () => detections(cam.id).some((e) => e.detections?.some((d) => d.className === 'person')));
    await cam.mixin.release();
  });

  it('reports a failing camera clearly, retries it with backoff, and keeps the other cameras going', async () => {
    const good = camera('Good');
    const refused = camera('Refused', 'stream-error');
    const corrupt = camera('Corrupt stream', 'generator-throws');
    const empty = camera('Empty frames', 'zero-bytes');
    const wrong = camera('Wrong size', 'wrong-size');
    const emptySnap = camera('Empty snapshots', 'zero-bytes', { interfaces: ['Camera'] });
    const stalled = camera('Stalled', 'stall', { tuning: { stallMs: 500 } });
    const bad = [refused, corrupt, empty, wrong, emptySnap, stalled];
    try {
      await checkFailures();
    } finally {
      for (const c of [good, ...bad]) await c.mixin.release();
    }
    expect(bad.filter((c) => c !== stalled).every((c) => c.fake.activeGenerators === 0)).toBe(true);
    for (const c of [good, ...bad]) expect(scheduler.hasSource(c.id)).toBe(false);

    async function checkFailures() {
    await until('errors on every bad camera', () => bad.every((c) => c.mixin.stats.lastError));
    const goodBefore = detections(good.id).length;
    await until('the good camera keeps going', () => detections(good.id).length >= goodBefore + 3);

    expect(refused.mixin.stats.lastError).toMatch(/getting the video stream failed: Refused: connection refused; retrying in 0\.\d s/);
    expect(corrupt.mixin.stats.lastError).toMatch(/waiting for a video frame failed: Corrupt stream: stream decode error/);
    expect(empty.mixin.stats.lastError).toMatch(/frame 768x576 returned no pixels/);
    expect(wrong.mixin.stats.lastError).toMatch(/frame 768x576 returned 194688 bytes for 416x312 RGB \(expected 389376\)/);
    expect(emptySnap.mixin.stats.lastError).toMatch(/empty snapshot \(0 bytes\)/);
    expect(stalled.mixin.stats.lastError).toMatch(/camera stalled: nothing after 0\.5 s waiting for a video frame/);
    // The corrupt stream gives two good frames before each failure: those are reported.
    expect(detections(corrupt.id).length).toBeGreaterThan(0);
    for (const c of [refused, corrupt, empty, wrong, emptySnap]) {
      if (c !== corrupt) expect(detections(c.id)).toEqual([]);
      expect(c.console.text()).toContain(c.mixin.stats.lastError!.split(';')[0]);
    }
    // Backoff: the refusing camera is retried, with growing delays.
    await until('retries', () => refused.mixin.stats.streamFailures >= 3);
    expect((await setting(refused.mixin, 'status'))?.value).toMatch(/Camera failing: .*connection refused; retrying in/);
    expect((await setting(wrong.mixin, 'statistics'))?.value).toMatch(/bad frames [1-9]/);
    expect(good.mixin.stats.lastError).toBeUndefined();
    }
  });

  it('leaves the shared scheduler serving after all this', () => {
    expect(inferences).toBeGreaterThan(0);
    expect(scheduler.stats().sources).toEqual([]);
  });
});
