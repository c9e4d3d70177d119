import fs from 'fs';
import { describe, expect, it, vi } from 'vitest';
import { runVideo } from '../../src/cli/detect-video';
import { VTEST, YOLOX } from '../paths';

const VIDEO = VTEST;
const MODEL = YOLOX;

describe.skipIf(!fs.existsSync(VIDEO) || !fs.existsSync(MODEL))('detect --video', () => {
  it('runs the clip as two paced cameras and prints per-frame tracked detections and a summary', async () => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    let code: number;
    try {
      code = await runVideo({ video: VIDEO, cameras: '2', fps: '5', seconds: '3', json: true, model: MODEL, threads: '1', concurrency: '1', classes: 'person' });
    } finally {
      write.mockRestore();
    }
    expect(code).toBe(0);
    const records = lines.join('').trim().split('\n').map((l) => JSON.parse(l));
    const summary = records.pop().summary;
    expect(summary.perCamera.map((c: { camera: string }) => c.camera)).toEqual(['camera1', 'camera2']);
    for (const c of summary.perCamera) {
      // 5 fps for 3 s: about 15 frames offered, each answered, dropped or skipped.
      expect(c.framesIn).toBeGreaterThanOrEqual(12);
      expect(c.framesIn).toBeLessThanOrEqual(17);
      expect(c.analysed + c.skipped + c.dropped + c.failed).toBe(c.framesIn);
      expect(c.tracks.created).toBeGreaterThan(0);
    }
    // The cameras start at different points of the clip.
    expect(summary.perCamera[1].startFrame).toBeGreaterThan(300);
    const frames = records.filter((r) => r.camera === 'camera2');
    expect(frames.length).toBeGreaterThan(5);
    const withPersons = frames.filter((f) => f.detections.length);
    expect(withPersons.length).toBeGreaterThan(3);
    for (const d of withPersons.flatMap((f) => f.detections)) {
      expect(d.id).toMatch(/^camera2\/\d+$/);
      expect(d.className).toBe('person');
    }
    // Frame timestamps follow the clip at the capped rate (every other frame of a 10 fps clip).
    for (let k = 1; k < frames.length; k++) expect((frames[k].timestamp - frames[k - 1].timestamp) % 200).toBe(0);
  });

  it('names the file it cannot read', async () => {
    await expect(runVideo({ video: '/nonexistent/clip.avi' })).rejects.toThrow(/cannot read video \/nonexistent\/clip.avi/);
  });
});
