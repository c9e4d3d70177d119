/**
 * `npm run detect -- --video FILE [--cameras N] [--fps F] [--seconds S] [--json]`: a video file
 * played as N live cameras through the same per-camera pipeline the camera mixin runs (skip
 * unchanged frames, shared scheduler with keep-latest slots, class filter, tracker, zones).
 * Each camera decodes the file with its own ffmpeg, starting at a different point of the clip so
 * the cameras do not show the same picture, and offers frames at the pace of a camera; capture
 * never waits for inference, so a camera the model cannot keep up with drops frames (counted).
 */
import { CameraAnalysis, type CameraFrameResult } from '../engine/camera-analysis';
import { sleep } from '../engine/bench/cameras';
import type { DetectOptions } from '../engine/detector';
import { round } from '../engine/histogram';
import type { DroppedFrame } from '../engine/job';
import { DetectionScheduler } from '../engine/scheduler';
import { totalDropped } from '../engine/stats';
import { probeVideo, readVideoFrames, type VideoFrame } from '../engine/tools/video-frames';
import { detectorFromOptions, listOption, numberOption, UsageError } from './args';

export interface VideoOptions {
  video?: string;
  cameras?: string;
  fps?: string;
  seconds?: string;
  model?: string;
  runtime?: string;
  device?: string;
  threads?: string;
  concurrency?: string;
  confidence?: string;
  iou?: string;
  classes?: string;
  json?: boolean;
  /** Analyse every frame: no unchanged-frame skip. */
  'no-skip'?: boolean;
}

export interface CameraReport {
  camera: string;
  startFrame: number;
  framesIn: number;
  /** Frames analysed by the model, per second of the run. */
  fps: number;
  /** Results emitted (analysed + skipped), per second. */
  outputFps: number;
  analysed: number;
  skipped: number;
  dropped: number;
  failed: number;
  latencyMs: { p50: number; p95: number; p99: number };
  tracks: { created: number; active: number };
  error?: string;
}

/** One camera's frames from the file: paced (or not, with fps 0), capped at `fps`, for `seconds`. */
async function pumpCamera(options: {
  id: string;
  file: string;
  startFrame: number;
  fps: number;
  sourceFps: number;
  deadline: number;
  submit: (frame: VideoFrame) => Promise<CameraFrameResult | DroppedFrame | { late: true }>;
  onFrame: (frame: { index: number; timestamp: number }, out: CameraFrameResult | DroppedFrame | { late: true }) => void;
  counts: { failed: number };
}): Promise<void> {
  const { fps, sourceFps, deadline, counts } = options;
  const interval = fps > 0 ? 1000 / Math.min(fps, sourceFps) : 0;
  const started = performance.now();
  let nextDue = 0;
  let offered = 0;
  const pending = new Set<Promise<void>>();
  for await (const frame of readVideoFrames(options.file, { startFrame: options.startFrame })) {
    if (performance.now() >= deadline) break;
    // Relative time in the clip; the cap keeps frames at least `interval` apart in clip time.
    const clipMs = ((frame.index - options.startFrame) * 1000) / sourceFps;
    if (interval && clipMs + 1e-6 < nextDue) continue;
    nextDue = clipMs + interval;
    if (interval) {
      const wait = started + offered * interval - performance.now();
      if (wait > 0) await sleep(wait);
    } else {
      // Unpaced: still let results and the scheduler run between frames.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    offered++;
    const p = options.submit(frame).then(
      (out) => options.onFrame(frame, out),
      (e: Error) => {
        counts.failed++;
        if (counts.failed <= 3) console.error(`${options.id}: frame ${frame.index} failed: ${e.message}`);
      },
    );
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }
  await Promise.all(pending);
}

/**
 * Runs the video command. `values` are detect.ts's parsed options. Resolves with the exit code:
 * 0 when every camera ran, 1 when one failed (its error is printed; the others keep going).
 */
export async function runVideo(values: VideoOptions): Promise<number> {
  const file = values.video;
  if (!file) throw new UsageError('--video needs a file');
  const cameras = numberOption('cameras', values.cameras, 1, 1, 64);
  const seconds = numberOption('seconds', values.seconds, 0, 0, 86_400);
  const info = await probeVideo(file).catch((e: Error) => {
    throw new UsageError(`cannot read video ${file}: ${e.message}`);
  });
  const fps = numberOption('fps', values.fps, info.fps, 0, 1000);
  const classes = listOption(values.classes);
  const detectOptions: DetectOptions = {
    confidence: numberOption('confidence', values.confidence, 0.3, 0, 1),
    iou: numberOption('iou', values.iou, 0.45, 0, 1),
    maxDetections: 100,
  };
  const detector = await detectorFromOptions(values, (m) => console.error(m));
  const scheduler = new DetectionScheduler({ detectOptions }, detector);
  const total = info.frames ?? 0;
  const clipMs = total ? (total * 1000) / info.fps : 0;
  const runMs = seconds > 0 ? seconds * 1000 : fps > 0 && clipMs ? clipMs * 1.05 + 2000 : Infinity;
  const started = performance.now();
  const deadline = started + runMs;

  const ids = Array.from({ length: cameras }, (_, k) => `camera${k + 1}`);
  const startFrames = ids.map((_, k) => (total ? Math.floor((k * total) / cameras) : 0));
  const analyses = new Map(ids.map((id) => [id, new CameraAnalysis(id, { filter: { classes }, similarity: { enabled: !values['no-skip'] }, tracker: { idPrefix: `${id}/` } })]));
  const counts = new Map(ids.map((id) => [id, { failed: 0, error: undefined as string | undefined }]));

  const onFrame = (id: string) => (frame: { index: number; timestamp: number }, out: CameraFrameResult | DroppedFrame | { late: true }) => {
    if (!values.json || 'dropped' in out || 'late' in out) return;
    process.stdout.write(JSON.stringify({
      camera: id,
      frame: frame.index,
      timestamp: out.timestamp,
      skipped: out.skipped,
      inputDimensions: out.inputDimensions,
      detections: out.detections.map((d) => ({
        id: d.id, className: d.className, score: round(d.score, 3), boundingBox: d.boundingBox.map((v) => round(v, 1)),
        zones: d.zones, moving: d.movement.moving, firstSeen: d.history.firstSeen,
      })),
      ...(out.result ? { latencyMs: round((out.result as { latency?: { totalMs: number } }).latency?.totalMs ?? 0, 1) } : {}),
    }) + '\n');
  };

  const progress = values.json ? undefined : setInterval(() => {
    const s = scheduler.stats();
    console.error(`${((performance.now() - started) / 1000).toFixed(0)} s: ${s.overall.fps.toFixed(1)} fps analysed over ${cameras} camera(s), ` +
      `latency p50 ${s.overall.latency.p50.toFixed(0)} ms, skipped ${[...analyses.values()].reduce((n, a) => n + a.stats.skipped, 0)}`);
  }, 5000);

  let exitCode = 0;
  try {
    await Promise.all(ids.map(async (id, k) => {
      const camera = analyses.get(id)!;
      const c = counts.get(id)!;
      const startFrame = startFrames[k];
      try {
        await pumpCamera({
          id, file, startFrame, fps, sourceFps: info.fps, deadline, counts: c,
          // Timestamps are the clip's (ms), offset per camera: the tracker runs on frame time.
          submit: (frame) => {
            const source = { kind: 'raw' as const, data: frame.data, width: frame.width, height: frame.height, channels: 3 as const };
            return camera.process(source, frame.timestamp, () => scheduler.submitFrame(id, source, { options: detectOptions }));
          },
          onFrame: onFrame(id),
        });
      } catch (e) {
        c.error = (e as Error).message;
        exitCode = 1;
        console.error(`${id}: ${c.error}`);
      }
    }));
  } finally {
    if (progress) clearInterval(progress);
  }
  const elapsedS = (performance.now() - started) / 1000;
  const stats = scheduler.stats();
  await scheduler.close();

  const reports: CameraReport[] = ids.map((id, k) => {
    const a = analyses.get(id)!.stats;
    const c = counts.get(id)!;
    const lane = stats.sources.find((s) => s.id === id);
    const dropped = lane ? totalDropped(lane) : 0;
    return {
      camera: id,
      startFrame: startFrames[k],
      // Every frame offered goes into the analysis (process() counts it before anything can fail).
      framesIn: a.frames,
      fps: round(a.analysed / elapsedS, 1),
      outputFps: round((a.analysed + a.skipped) / elapsedS, 1),
      analysed: a.analysed,
      skipped: a.skipped,
      dropped,
      failed: c.failed,
      latencyMs: { p50: lane?.latency.p50 ?? 0, p95: lane?.latency.p95 ?? 0, p99: lane?.latency.p99 ?? 0 },
      tracks: { created: a.tracker.created, active: a.tracker.active },
      ...(c.error ? { error: c.error } : {}),
    };
  });
  const summary = {
    video: file, cameras, fpsPerCamera: fps, elapsedS: round(elapsedS, 2),
    model: detector.model.spec.name ?? values.model, runtime: detector.runtime.info,
    overall: { fps: round(stats.overall.fps, 1), latencyMs: stats.overall.latency, meanBatch: stats.meanBatch },
    perCamera: reports,
  };
  if (values.json) {
    process.stdout.write(JSON.stringify({ summary }) + '\n');
  } else {
    console.log(`${file}: ${cameras} camera(s) at ${fps > 0 ? `${fps} fps` : 'full speed'} for ${elapsedS.toFixed(1)} s, ` +
      `${round(stats.overall.fps, 1)} fps analysed in all, mean batch ${stats.meanBatch}`);
    console.log('camera     frames  analysed fps  out fps  skipped  dropped  latency p50/p95 ms  tracks (active)');
    for (const r of reports) {
      console.log(`${r.camera.padEnd(10)} ${String(r.framesIn).padStart(6)}  ${r.fps.toFixed(1).padStart(12)}  ${r.outputFps.toFixed(1).padStart(7)}  ` +
        `${String(r.skipped).padStart(7)}  ${String(r.dropped).padStart(7)}  ${`${r.latencyMs.p50.toFixed(0)}/${r.latencyMs.p95.toFixed(0)}`.padStart(18)}  ` +
        `${r.tracks.created} (${r.tracks.active})${r.error ? `  error: ${r.error}` : ''}${r.failed ? `  failed ${r.failed}` : ''}`);
    }
  }
  return exitCode || (reports.some((r) => r.failed) ? 1 : 0);
}
