import type { Setting } from '@scrypted/sdk';
import fs from 'fs';
import path from 'path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionPlugin } from '../../src/plugin/plugin';
import { FakeCamera, FakeVideoFrameGenerator, vtestFrames } from '../harness/fake-camera';
import { poolChildren, TEST_PYTHON } from '../python-pool/helpers';
import { HostImage, HostMediaObject } from '../harness/media';
import { loadPluginFromSource } from '../harness/load';
import type { TestHost } from '../harness/host';
import { SHARED } from '../paths';
import { iouXywh } from '../models/helpers';

const shared = SHARED;
const media = (name: string) => fs.readFileSync(path.join(shared, 'media', name));
const hasShared = fs.existsSync(path.join(shared, 'models', 'yolox_nano.onnx'));

const iou = iouXywh;

describe.skipIf(!hasShared)('plugin through the test host', () => {
  let host: TestHost;
  let plugin: DetectionPlugin;

  beforeAll(async () => {
    process.env.SCRYPTED_PLUGIN_VOLUME = fs.mkdtempSync('/tmp/nvr-volume-');
    process.env.NVR_MODELS_DIR = path.join(shared, 'models');
    ({ host, plugin } = await loadPluginFromSource<DetectionPlugin>());
    await plugin.storageSettings.putSetting('concurrency', 1);
    await plugin.getDetectionModel();
  });

  afterAll(async () => {
    await plugin?.release();
  });

  const setting = async (key: string): Promise<Setting | undefined> => (await plugin.getSettings()).find((s) => s.key === key);

  it('describes its model the way Video Analysis expects', async () => {
    const model = await plugin.getDetectionModel();
    expect(model.name).toBe('yolox_nano');
    expect(model.inputSize).toEqual([416, 416, 3]);
    expect(model.inputFormat).toBe('rgb');
    expect(model.classes).toContain('person');
    expect(model.triggerClasses).toEqual(expect.arrayContaining(['person', 'car', 'dog']));
    expect(model.triggerClasses).not.toContain('toothbrush');
    expect(Array.isArray(model.settings)).toBe(true);
  });

  it('detects objects in a JPEG media object, in the image\'s pixels', async () => {
    const mo = new HostMediaObject('image/jpeg', media('dog.jpg'));
    const result = await plugin.detectObjects(mo);
    expect(result.inputDimensions).toEqual([768, 576]);
    expect(typeof result.timestamp).toBe('number');
    const dog = result.detections!.find((d) => d.className === 'dog')!;
    expect(dog.score).toBeGreaterThan(0.7);
    expect(iou(dog.boundingBox!, [133, 205, 190, 337])).toBeGreaterThan(0.9);
    const classes = result.detections!.map((d) => d.className);
    expect(classes).toEqual(expect.arrayContaining(['dog', 'bicycle', 'car']));
  });

  it('detects objects in a raw RGB Scrypted Image, asking the host for the model-sized frame', async () => {
    const { data, info } = await sharp(media('dog.jpg')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const image = new HostImage(data, info.width, info.height);
    const result = await plugin.detectObjects(image);
    // Letterbox: 768x576 scales to 416x312, so that is what the plugin asks the host for.
    expect(image.toBufferCalls).toEqual([{ resize: { width: 416, height: 312 }, format: 'rgb' }]);
    expect(result.inputDimensions).toEqual([768, 576]);
    const dog = result.detections!.find((d) => d.className === 'dog')!;
    expect(iou(dog.boundingBox!, [133, 205, 190, 337])).toBeGreaterThan(0.85);
  });

  it('applies a changed setting without a restart', async () => {
    const before = await plugin.detectObjects(new HostMediaObject('image/jpeg', media('dog.jpg')));
    expect(before.detections!.length).toBeGreaterThan(1);
    await plugin.putSetting('classes', ['dog']);
    const onlyDogs = await plugin.detectObjects(new HostMediaObject('image/jpeg', media('dog.jpg')));
    expect(onlyDogs.detections!.map((d) => d.className)).toEqual(['dog']);
    await plugin.putSetting('classes', []);
    await plugin.putSetting('confidence', 0.9);
    const strict = await plugin.detectObjects(new HostMediaObject('image/jpeg', media('dog.jpg')));
    expect(strict.detections!.every((d) => d.score >= 0.9)).toBe(true);
    expect(strict.detections!.length).toBeLessThan(before.detections!.length);
    await plugin.putSetting('confidence', 0.25);
    expect((await setting('confidence'))?.value).toBe(0.25);
    // Settings changes are announced so the UI refreshes.
    expect(host.eventsOf('Settings').length).toBeGreaterThan(0);
  });

  it('reloads the model when threads change and keeps serving meanwhile', async () => {
    const pending = plugin.detectObjects(new HostMediaObject('image/jpeg', media('person.jpg')));
    await plugin.putSetting('threads', 1);
    const during = await pending;
    expect(during.detections!.map((d) => d.className)).toEqual(expect.arrayContaining(['person', 'dog', 'horse']));
    await expect.poll(async () => String((await setting('status'))?.value), { timeout: 30_000 }).toMatch(/^Serving yolox_nano .*x 1 thread/);
    const after = await plugin.detectObjects(new HostMediaObject('image/jpeg', media('person.jpg')));
    expect(after.detections!.map((d) => d.className)).toEqual(expect.arrayContaining(['person', 'dog', 'horse']));
  });

  it('refuses bad setting values with a message, keeping the old value', async () => {
    await expect(plugin.putSetting('confidence', 1.5)).rejects.toThrow(/confidence must be a number from 0.01 to 0.99/);
    await expect(plugin.putSetting('confidence', 'abc')).rejects.toThrow(/confidence/);
    await expect(plugin.putSetting('model', '/nope/missing.onnx')).rejects.toThrow(/neither a known model .* nor an existing file/);
    await expect(plugin.putSetting('device', 'tpu')).rejects.toThrow(/device for onnx must be one of auto, cpu, cuda, coreml, dml/);
    await expect(plugin.putSetting('runtime', 'tensorflow')).rejects.toThrow(/runtime must be one of onnx, openvino/);
    await expect(plugin.putSetting('batchMode', 'sometimes')).rejects.toThrow(/batch mode must be one of none, list, window/);
    await expect(plugin.putSetting('maxBatch', 0)).rejects.toThrow(/max batch size must be a whole number from 1 to 64/);
    await expect(plugin.putSetting('classes', ['unicorn'])).rejects.toThrow(/unknown class\(es\) unicorn/);
    await expect(plugin.putSetting('threads', 2.5)).rejects.toThrow(/whole number/);
    await expect(plugin.putSetting('status', 'x')).rejects.toThrow(/read-only/);
    expect((await setting('confidence'))?.value).toBe(0.25);
    expect((await setting('model'))?.value).toBe('yolox_nano');
  });

  it('reports a model that fails to load and keeps serving the previous one', async () => {
    const corrupt = path.join(process.env.SCRYPTED_PLUGIN_VOLUME!, 'corrupt.onnx');
    fs.writeFileSync(corrupt, Buffer.from('this is not a model'));
    await plugin.putSetting('model', corrupt);
    await expect.poll(async () => String((await setting('status'))?.value), { timeout: 30_000 }).toMatch(/^Error: .*corrupt\.onnx.*still serving yolox_nano/);
    expect(host.consoleFor('plugin').text()).toMatch(/model failed to load/);
    const still = await plugin.detectObjects(new HostMediaObject('image/jpeg', media('dog.jpg')));
    expect(still.detections!.map((d) => d.className)).toContain('dog');
    await plugin.putSetting('model', 'yolox_nano');
    await expect.poll(async () => String((await setting('status'))?.value), { timeout: 30_000 }).toMatch(/^Serving yolox_nano/);
  });

  it('answers bad media with a clear error and then serves the next request', async () => {
    await expect(plugin.detectObjects(new HostMediaObject('image/jpeg', Buffer.from('not a jpeg at all')))).rejects.toThrow(/could not read image \(image\/jpeg, 17 bytes\)/);
    await expect(plugin.detectObjects(new HostMediaObject('image/jpeg', Buffer.alloc(0)))).rejects.toThrow(/empty image buffer/);
    await expect(plugin.detectObjects(new HostMediaObject('video/mp4', Buffer.from('x')))).rejects.toThrow(/unsupported media type "video\/mp4"/);
    const truncated = media('dog.jpg').subarray(0, 5000);
    await expect(plugin.detectObjects(new HostMediaObject('image/jpeg', truncated))).rejects.toThrow(/image/);
    const wrongSize = new HostImage(Buffer.alloc(10 * 10 * 3), 10, 10);
    wrongSize.toBuffer = async () => Buffer.alloc(7);
    await expect(plugin.detectObjects(wrongSize)).rejects.toThrow(/returned 7 bytes/);
    const ok = await plugin.detectObjects(new HostMediaObject('image/png', media('basketball1.png')));
    expect(ok.detections!.filter((d) => d.className === 'person').length).toBeGreaterThanOrEqual(2);
  });

  it('shows live statistics of the requests it served', async () => {
    const stats = String((await setting('statistics'))?.value);
    expect(stats).toMatch(/fps processed/);
    expect(stats).toMatch(/requests \d+ done, 0 queued, 0 busy/);
    expect(Number(/requests (\d+) done/.exec(stats)![1])).toBeGreaterThan(5);
  });

  it('applies batching settings to the shared scheduler at once', async () => {
    await plugin.putSetting('batchMode', 'window');
    await plugin.putSetting('batchWindowMs', 25);
    expect(plugin.scheduler.settings).toMatchObject({ mode: 'window', windowMs: 25 });
    const results = await Promise.all(['dog.jpg', 'person.jpg', 'giraffe.jpg'].map((f) => plugin.detectObjects(new HostMediaObject('image/jpeg', media(f)))));
    expect(results[2].detections!.map((d) => d.className)).toContain('giraffe');
    await plugin.putSetting('batchMode', 'none');
  });

  it('generates detections for a stream of video frames', async () => {
    const frames = await Promise.all(['dog.jpg', 'person.jpg', 'iceblock.jpg'].map(async (name, i) => {
      const { data, info } = await sharp(media(name)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return { __json_copy_serialize_children: true as const, timestamp: 1000 + i, image: new HostImage(data, info.width, info.height) };
    }));
    async function* generator() {
      yield* frames;
    }
    const results = [];
    for await (const r of await plugin.generateObjectDetections(generator(), { sourceId: 'cam-1' })) results.push(r);
    // Frames the model could not keep up with are skipped (keep latest); the rest come in order.
    const stamps = results.map((r) => r.detected.timestamp);
    expect(stamps[stamps.length - 1]).toBe(1002);
    expect([...stamps].sort()).toEqual(stamps);
    const last = results[results.length - 1].detected;
    expect(last.detections!.filter((d) => d.score > 0.5)).toEqual([]);
    const first = results.find((r) => r.detected.timestamp === 1000);
    if (first) expect(first.detected.detections!.map((d) => d.className)).toContain('dog');
  });

  it('is a MixinProvider: a camera it is enabled on emits tracked ObjectDetector events until released', async () => {
    host.addDevice('Frame Generator', 'API', ['VideoFrameGenerator'], new FakeVideoFrameGenerator());
    const fake = new FakeCamera('Street', vtestFrames(0, 30, 3));
    const id = host.addDevice('Street', 'Camera', ['Camera', 'VideoCamera'], fake);
    expect(await plugin.canMixin('Camera', ['Camera', 'VideoCamera'])).toEqual(['ObjectDetector', 'Settings']);
    expect(await plugin.canMixin('Light', ['OnOff'])).toBeUndefined();
    const mixin = await plugin.getMixin(host.systemManager.getDeviceById(id), ['Camera', 'VideoCamera'] as never,
      host.deviceManager.createDeviceState(id, async () => undefined));
    const events = () => host.eventsOf('ObjectDetector', id);
    await expect.poll(() => events().filter((e) => JSON.stringify(e.eventData).includes('"person"')).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    expect(plugin.scheduler.hasSource(id) || plugin.scheduler.stats().sources.length > 0).toBe(true);
    // The camera's frames show in the plugin's statistics, beside API requests.
    expect(String((await setting('statistics'))?.value)).toMatch(/source\(s\)/);
    await plugin.releaseMixin(id, mixin);
    const count = events().length;
    await new Promise((r) => setTimeout(r, 600));
    expect(events().length).toBe(count);
    expect(plugin.scheduler.hasSource(id)).toBe(false);
    expect(fake.activeGenerators).toBe(0);
  });

  it.skipIf(!TEST_PYTHON)('switches runtime to openvino and back live: requests in flight finish on the old one, the pool process ends with it', async () => {
    // The pool runs on the prepared test interpreter instead of building a venv in the volume.
    process.env.NVR_PYTHON = TEST_PYTHON;
    const status = async () => String((await setting('status'))?.value);
    const inFlight = plugin.detectObjects(new HostMediaObject('image/jpeg', media('dog.jpg')));
    await plugin.putSetting('runtime', 'openvino');
    expect((await inFlight).detections!.map((d) => d.className)).toContain('dog');
    await expect.poll(status, { timeout: 120_000 }).toMatch(/^Serving yolox_nano on openvino\//);
    expect((await setting('device'))?.value).toBe('auto');
    expect(poolChildren().length).toBe(1);
    const viaPool = await plugin.detectObjects(new HostMediaObject('image/jpeg', media('dog.jpg')));
    expect(viaPool.detections!.map((d) => d.className)).toEqual(expect.arrayContaining(['dog', 'bicycle', 'car']));
    const dog = viaPool.detections!.find((d) => d.className === 'dog')!;
    expect(iou(dog.boundingBox!, [133, 205, 190, 337])).toBeGreaterThan(0.9);
    await expect(plugin.putSetting('device', 'cuda')).rejects.toThrow(/device for openvino must be one of auto, CPU, GPU, NPU/);

    await plugin.putSetting('runtime', 'onnx');
    await expect.poll(status, { timeout: 60_000 }).toMatch(/^Serving yolox_nano on onnx\/cpu/);
    await expect.poll(() => poolChildren().length, { timeout: 10_000 }).toBe(0);
    const back = await plugin.detectObjects(new HostMediaObject('image/jpeg', media('dog.jpg')));
    expect(back.detections!.map((d) => d.className)).toContain('dog');
  }, 240_000);
});
