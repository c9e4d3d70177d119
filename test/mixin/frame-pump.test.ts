import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FramePump as PumpType, FramePumpOptions, PumpFrame } from '../../src/plugin/frame-pump';
import { FakeCamera, FakeVideoFrameGenerator, vtestFrames, type FakeBehaviour } from '../harness/fake-camera';
import { TestHost } from '../harness/host';
import { installHost } from '../harness/load';
import { sleep, until } from '../harness/wait';

describe('frame pump', () => {
  const host = new TestHost();
  let FramePump: typeof PumpType;
  const generator = new FakeVideoFrameGenerator(false);
  const pumps: PumpType[] = [];

  beforeAll(async () => {
    installHost(host);
    ({ FramePump } = await import('../../src/plugin/frame-pump.js'));
    host.addDevice('Frame Generator', 'API', ['VideoFrameGenerator'], generator);
  });

  afterEach(async () => {
    for (const p of pumps.splice(0)) await p.stop();
  });

  function pump(behaviour: FakeBehaviour, options: Partial<FramePumpOptions> = {}) {
    const camera = new FakeCamera(behaviour, vtestFrames(0, 4), behaviour, 20);
    const frames: PumpFrame[] = [];
    const errors: { message: string; retryInMs?: number; at: number }[] = [];
    const p = new FramePump({
      camera,
      interfaces: ['Camera', 'VideoCamera'],
      systemManager: host.systemManager,
      mode: 'auto',
      fps: 5,
      onFrame: async (frame) => void frames.push(frame),
      onError: (error, retryInMs) => void errors.push({ message: error.message, retryInMs, at: Date.now() }),
      tuning: { backoffMinMs: 50, backoffMaxMs: 200, stallMs: 300 },
      ...options,
    });
    pumps.push(p);
    p.start();
    return { p, camera, frames, errors };
  }

  it('keeps to the fps cap when the generator decodes faster, and asks the generator for that rate', async () => {
    const { camera, frames } = pump('ok');
    await sleep(1_100);
    // This generator decodes at the camera's 20 fps: the pump keeps to 5.
    expect(camera.framesServed).toBeGreaterThanOrEqual(2 * frames.length);
    expect(frames.length).toBeGreaterThanOrEqual(4);
    expect(frames.length).toBeLessThanOrEqual(6);
    expect(generator.calls.at(-1)).toMatchObject({ fps: 5 });
    expect(frames.every((f) => f.kind === 'image')).toBe(true);
  });

  it('retries a refusing camera with doubling delays up to the maximum', async () => {
    const { errors, p } = pump('stream-error');
    await sleep(1_000);
    const delays = errors.map((e) => e.retryInMs);
    expect(delays.slice(0, 4)).toEqual([50, 100, 200, 200]);
    expect(p.state).toBe('backoff');
  });

  it('stops promptly while a hand-over hangs, and while a camera stalls', async () => {
    const hung = pump('ok', { onFrame: () => new Promise<void>(() => undefined) });
    const stalled = pump('stall');
    await sleep(200);
    const started = Date.now();
    await hung.p.stop();
    await stalled.p.stop();
    expect(Date.now() - started).toBeLessThan(3_500); // the stalled generator never returns: stop() waits closeWaitMs (2 s) for it
    expect(hung.camera.activeGenerators).toBe(0);
    expect(hung.p.state).toBe('stopped');
  });

  it('treats many unusable frames in a row as a failed stream', async () => {
    const { errors } = pump('ok', {
      onFrame: async () => {
        throw new Error('frame 768x576 returned no pixels');
      },
      tuning: { backoffMinMs: 50, backoffMaxMs: 50, maxBadFrames: 3 },
    });
    await until('a failed stream', () => errors.some((e) => e.retryInMs !== undefined), 5_000, 20);
    expect(errors[0]).toMatchObject({ message: 'frame 768x576 returned no pixels', retryInMs: undefined });
    expect(errors.find((e) => e.retryInMs)!.message).toBe('3 unusable frames in a row (last: frame 768x576 returned no pixels)');
  });

  it('says clearly when there is no way to get frames', async () => {
    const { errors } = pump('ok', { interfaces: ['Camera'], mode: 'video' });
    const none = pump('ok', { interfaces: ['VideoCamera'], mode: 'snapshot' });
    await until('errors from both pumps', () => errors.length > 0 && none.errors.length > 0, 5_000, 20);
    expect(errors[0].message).toMatch(/frame source is "video" but this camera has no video stream/);
    expect(none.errors[0].message).toMatch(/frame source is "snapshot" but this camera cannot take pictures/);
  });
});
