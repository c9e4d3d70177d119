import { describe, expect, it } from 'vitest';
import { pacedOrtMain, pacedPython, type PacedRaw } from '../../src/engine/bench/raw-reference';
import { catalogEntry } from '../../src/models/catalog';
import { prepareImage } from '../../src/models/preprocess';
import { rawPhoto, YOLOX } from '../models/helpers';
import { SKIP_REASON, TEST_PYTHON } from '../python-pool/helpers';

const spec = catalogEntry('yolox_nano')!.spec;
const pace = { fps: 10, skipSeconds: 0.3, seconds: 1 };

/** Starts a paced reference a moment from now; resolves with its result and when it ended. */
async function runFromNow(paced: PacedRaw) {
  const startAt = Date.now() + 200;
  const result = await paced.run(startAt);
  return { result, startAt, endedAt: Date.now() };
}

// The one-camera latency check interleaves these with the camera's frames: they must start at the
// time given, keep the pace, and count only the runs after the skipped seconds.
describe('paced raw references (the one-camera check)', () => {
  it('ORT on the main thread: waits for its start, runs one per period, counts after the skip', async () => {
    const frame = (await prepareImage(await rawPhoto('dog.jpg'), spec.input)).frame;
    const paced = await pacedOrtMain(YOLOX, spec, frame, 1, pace);
    const { result, startAt, endedAt } = await runFromNow(paced);
    expect(endedAt).toBeGreaterThanOrEqual(startAt + (pace.skipSeconds + pace.seconds) * 1000 - 1000 / pace.fps);
    // 10 runs start in the counted second (one per 100 ms); a late timer may push the last one out.
    expect(result.runsPerSecond).toBeGreaterThanOrEqual(9);
    expect(result.runsPerSecond).toBeLessThanOrEqual(10);
    expect(result.label).toBe('ort main thread x1t paced 10 fps');
    expect(result.p50).toBeGreaterThan(0);
    expect(result.p95).toBeGreaterThanOrEqual(result.p50);
  }, 60_000);

  describe.skipIf(!!SKIP_REASON)('the Python runtime alone', () => {
    it('OpenVINO: ready first, then starts at the time sent on stdin and keeps the pace', async () => {
      const paced = await pacedPython(TEST_PYTHON!, 'openvino', YOLOX, 'CPU', 2, 1, pace);
      const { result, startAt, endedAt } = await runFromNow(paced);
      expect(endedAt).toBeGreaterThanOrEqual(startAt + (pace.skipSeconds + pace.seconds) * 1000 - 1000 / pace.fps);
      expect(result.runsPerSecond).toBeGreaterThanOrEqual(9);
      expect(result.runsPerSecond).toBeLessThanOrEqual(10);
      expect(result).toMatchObject({ kind: 'python-raw', runners: 2, threads: 1 });
      expect(result.p50).toBeGreaterThan(0);
    }, 60_000);

    it('a model it cannot load fails with the reason, not a hang', async () => {
      await expect(pacedPython(TEST_PYTHON!, 'openvino', '/nonexistent/model.onnx', 'CPU', 1, 1, pace)).rejects.toThrow(
        /raw openvino reference exited \(1\) before answering: [\s\S]*nonexistent/,
      );
    }, 60_000);
  });
});
