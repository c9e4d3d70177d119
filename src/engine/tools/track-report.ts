/**
 * Tracking report on a whole clip: runs the detector on every frame (or reads a cache), tracks,
 * and prints identity metrics. Usage:
 *   npx tsx src/engine/tools/track-report.ts [--video FILE] [--model FILE] [--stride N]
 *     [--cache FILE.json] [--confidence C] [--json]
 * `--stride N` keeps every Nth frame, to see how tracking holds at a camera's lower detection fps.
 */
import { parseArgs } from 'util';
import { Detector } from '../detector';
import { Tracker, type TrackerOptions } from '../tracker';
import { trackMetrics, type TrackedFrame } from './track-metrics';
import { detectVideo } from './video-detections';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      video: { type: 'string', default: '../shared/media/vtest.avi' },
      model: { type: 'string', default: '../shared/models/yolox_nano.onnx' },
      cache: { type: 'string' },
      stride: { type: 'string', default: '1' },
      confidence: { type: 'string', default: '0.3' },
      classes: { type: 'string', default: 'person' },
      tracker: { type: 'string', default: '{}' },
      json: { type: 'boolean', default: false },
    },
  });
  const detector = await Detector.create({ model: values.model!, runtime: 'onnx', device: 'cpu', threads: 2, concurrency: 1 });
  let frames;
  try {
    const started = performance.now();
    frames = await detectVideo(values.video!, detector, {
      confidence: Number(values.confidence), iou: 0.45, maxDetections: 100, cacheFile: values.cache,
      onFrame: (f) => { if (f.index % 100 === 0) process.stderr.write(`frame ${f.index} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`); },
    });
  } finally {
    await detector.close();
  }
  const classes = new Set(values.classes!.split(',').filter(Boolean));
  const stride = Math.max(1, Number(values.stride));
  const options = JSON.parse(values.tracker!) as Partial<TrackerOptions>;
  const tracker = new Tracker(options);
  const tracked: TrackedFrame[] = [];
  let trackMs = 0;
  for (const f of frames.filter((_, i) => i % stride === 0)) {
    const input = f.detections.filter((d) => !classes.size || classes.has(d.className));
    const t0 = performance.now();
    tracked.push({ timestamp: f.timestamp, detections: tracker.update(input, f.timestamp) });
    trackMs += performance.now() - t0;
  }
  const metrics = trackMetrics(tracked);
  const report = {
    video: values.video, stride, classes: [...classes], tracker: tracker.options,
    trackerMsPerFrame: trackMs / Math.max(1, tracked.length), ...metrics,
  };
  if (values.json) console.log(JSON.stringify({ ...report, perFrame: tracked }));
  else console.log(JSON.stringify(report, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
