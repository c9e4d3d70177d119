/**
 * npm run bench -- --runtime onnx --model ../shared/models/yolox_nano.onnx --cameras 8 --fps 10 --seconds 20 --json
 *
 * Simulated cameras fed real frames (vtest.avi, decoded once) through the scheduler, for one or
 * several configurations (comma lists sweep), side by side with the raw runtime measured in the
 * same run. Also: one camera at 5 fps (latency floor), the overload case (16 x 15 fps) and the
 * naive serial loop against the keep-latest path.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { parseBatchMode, type BatchMode } from '../engine/batching';
import { CameraSimulator, frameSource, MemorySampler, sleep, type FrameSet } from '../engine/bench/cameras';
import { renderPlot, type PlotSeries } from '../engine/bench/plot';
import { pacedOrtMain, pacedPython, rawOrtMain, rawOrtWorkers, rawPython, runtimeDirect, type RawResult } from '../engine/bench/raw-reference';
import { LatencySamples } from '../engine/bench/samples';
import { Detector } from '../engine/detector';
import { round, type LatencySummary } from '../engine/histogram';
import { DetectionScheduler } from '../engine/scheduler';
import { formatSummary, type LaneSnapshot, type StatsSnapshot } from '../engine/stats';
import { detectStream } from '../engine/stream';
import { placeImage } from '../models/geometry';
import { prepareImage } from '../models/preprocess';
import type { InputSpec } from '../models/spec';
import { defaultSearchDirs, resolveModel } from '../models/store';

interface Args {
  runtime: string[];
  model: string;
  device: string;
  concurrency: number[];
  threads: number[];
  batch: BatchMode[];
  windowMs: number[];
  maxBatch: number[];
  cameras: number[];
  fps: number;
  seconds: number;
  warmupSeconds: number;
  rawSeconds: number;
  latencySeconds: number;
  overloadSeconds: number;
  serialSeconds: number;
  serialFps: number;
  maxAgeMs: number;
  prefetch: number;
  media: string;
  frames: number;
  /** `source`: full-size frames, the plugin decodes/resizes; `model`: frames already at the model's letterbox size, as Scrypted's Image.toBuffer({resize}) hands them. */
  frameSize: 'source' | 'model';
  scenarios: Set<string>;
  json: boolean;
  name?: string;
  out: string;
}

const HELP = `usage: bench [--runtime onnx[,openvino]] [--model FILE|id] [--cameras 8[,1,4,16]] [--fps 10] [--seconds 20]
  [--concurrency 2[,1]] [--threads 1[,2]] [--batch none[,list,window]] [--window-ms 10] [--max-batch 4]
  [--scenarios main,latency,overload,serial] [--latency-seconds 20] [--overload-seconds 20] [--serial-seconds 10]
  [--serial-fps auto|N] [--raw-seconds 4] [--warmup-seconds 2] [--max-age-ms 2000] [--prefetch 1] [--device cpu]
  [--media ../shared/media/vtest.avi] [--frames 40] [--frame-size source|model] [--name NAME] [--out bench/results] [--json]`;

function parseArgs(argv: string[]): Args {
  const raw = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}"\n${HELP}`);
    const [key, inline] = a.slice(2).split('=', 2);
    if (key === 'json' || key === 'help') raw.set(key, 'true');
    else raw.set(key, inline ?? argv[++i] ?? '');
  }
  if (raw.has('help')) {
    console.log(HELP);
    process.exit(0);
  }
  const list = (k: string, d: string) => (raw.get(k) ?? d).split(',').map((s) => s.trim()).filter(Boolean);
  const nums = (k: string, d: string) => list(k, d).map((s) => {
    const n = Number(s);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${k}: "${s}" is not a number`);
    return n;
  });
  const num = (k: string, d: number) => nums(k, String(d))[0];
  return {
    runtime: list('runtime', 'onnx'),
    model: raw.get('model') ?? path.resolve('..', 'shared', 'models', 'yolox_nano.onnx'),
    device: raw.get('device') ?? 'cpu',
    concurrency: nums('concurrency', '2'),
    threads: nums('threads', '1'),
    batch: list('batch', 'none').map(parseBatchMode),
    windowMs: nums('window-ms', '10'),
    maxBatch: nums('max-batch', '4'),
    cameras: nums('cameras', '8'),
    fps: num('fps', 10),
    seconds: num('seconds', 20),
    warmupSeconds: num('warmup-seconds', 2),
    rawSeconds: num('raw-seconds', 4),
    latencySeconds: num('latency-seconds', 20),
    overloadSeconds: num('overload-seconds', 20),
    serialSeconds: num('serial-seconds', 10),
    serialFps: raw.get('serial-fps') === undefined || raw.get('serial-fps') === 'auto' ? 0 : num('serial-fps', 0),
    maxAgeMs: num('max-age-ms', 2000),
    prefetch: num('prefetch', 1),
    media: raw.get('media') ?? path.resolve('..', 'shared', 'media', 'vtest.avi'),
    frames: num('frames', 40),
    frameSize: (raw.get('frame-size') ?? 'source') === 'model' ? 'model' : 'source',
    scenarios: new Set(list('scenarios', 'main,latency,overload,serial')),
    json: raw.has('json'),
    name: raw.get('name'),
    out: raw.get('out') ?? path.join('bench', 'results'),
  };
}

function log(args: Args, message: string): void {
  // With --json, stdout carries only the JSON document.
  (args.json ? process.stderr : process.stdout).write(message + '\n');
}

function decodeVideo(file: string, count: number, input?: InputSpec): FrameSet {
  const probe = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', file]).toString().trim();
  let [width, height] = probe.split(',').map(Number);
  const scale: string[] = [];
  if (input) {
    const placed = placeImage(width, height, input);
    [width, height] = [placed.width, placed.height];
    scale.push('-vf', `scale=${width}:${height}:flags=bilinear`);
  }
  const out = execFileSync('ffmpeg', ['-v', 'error', '-i', file, ...scale, '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 30 });
  const size = width * height * 3;
  const frames = Array.from({ length: Math.floor(out.length / size) }, (_, i) => new Uint8Array(out.buffer, out.byteOffset + i * size, size));
  if (!frames.length) throw new Error(`ffmpeg decoded no frames from ${file}`);
  return { width, height, frames };
}

interface Config {
  runtime: string;
  concurrency: number;
  threads: number;
  batch: BatchMode;
  windowMs: number;
  maxBatch: number;
}

const configLabel = (c: Config) =>
  `${c.runtime} c${c.concurrency} t${c.threads} ${c.batch}${c.batch === 'window' ? ` ${c.windowMs}ms` : ''}${c.batch !== 'none' ? ` b${c.maxBatch}` : ''}`;

function configs(args: Args): Config[] {
  const out: Config[] = [];
  for (const runtime of args.runtime) for (const concurrency of args.concurrency) for (const threads of args.threads) for (const batch of args.batch) {
    for (const windowMs of batch === 'window' ? args.windowMs : [args.windowMs[0]]) {
      for (const maxBatch of batch === 'none' ? [1] : args.maxBatch) out.push({ runtime, concurrency, threads, batch, windowMs, maxBatch });
    }
  }
  return out;
}

interface RunResult {
  config: string;
  cameras: number;
  fps: number;
  seconds: number;
  offeredFps: number;
  throughput: number;
  ratioToRaw: number;
  /** min and max per-camera processed fps over the mean. */
  fairness: { min: number; max: number; withinPct: number };
  /** Arrival to result: exact percentiles over the frames answered in the measured window. */
  latency: LatencySummary;
  /** Where the time went, from the plugin's own stats (2% histograms). */
  stages: LaneSnapshot['stages'];
  dropped: LaneSnapshot['dropped'];
  failed: number;
  perCamera: { id: string; fps: number; processed: number; dropped: LaneSnapshot['dropped']; p95: number }[];
  batchSizes: StatsSnapshot['batchSizes'];
  meanBatch: number;
  memory: ReturnType<MemorySampler['summary']>;
  loadAverage: number;
  summary: string;
}

/** A main-scenario run, compared with its reference measured again right after it. */
type MainRunResult = RunResult & {
  /** The reference measured again right after this run, averaged with the first measurement. */
  rawAdjacent: number;
  ratioToAdjacentRaw: number;
};

/** N cameras at F fps through the scheduler for `seconds` (after a warm-up), counted in that window only. */
/** `startAt` (Date.now() ms, default now): the first frame; the warm-up runs from there, then `seconds` are measured. */
async function runCameras(args: Args, detector: Detector, config: Config, set: FrameSet, cameras: number, fps: number, seconds: number, rawBest: number, startAt = Date.now()): Promise<RunResult> {
  const scheduler = new DetectionScheduler({ mode: config.batch, maxBatch: config.maxBatch, windowMs: config.windowMs, maxAgeMs: args.maxAgeMs, prefetch: args.prefetch }, detector);
  const pending = new Set<Promise<unknown>>();
  // Arrival to result of every frame answered in the measured window, exactly (the stats' histograms are 2% wide).
  const latency = new LatencySamples();
  let measuring = false;
  const sim = new CameraSimulator(cameras, fps, (cam, n) => {
    const p = scheduler.submitFrame(`cam${String(cam).padStart(2, '0')}`, frameSource(set, n + cam * 7), { timestamp: Date.now() });
    pending.add(p);
    // A failed frame is counted in the scheduler's stats (overall.failed), in the measured window only.
    p.then((r) => {
      if (measuring && 'latency' in r) latency.record(r.latency.totalMs);
    }, () => undefined).finally(() => pending.delete(p));
  }, performance.now() + (startAt - Date.now()));
  sim.start();
  await sleep(startAt + args.warmupSeconds * 1000 - Date.now());
  scheduler.resetStats();
  measuring = true;
  const memory = new MemorySampler();
  memory.start(250);
  await sleep(seconds * 1000);
  measuring = false;
  const snap = scheduler.stats();
  memory.stop();
  sim.stop();
  await Promise.allSettled([...pending]);
  await scheduler.close({ closeDetector: false });
  const elapsed = snap.elapsedS;
  const perCamera = snap.sources.map((s) => ({ id: s.id, fps: round(s.processed / elapsed), processed: s.processed, dropped: s.dropped, p95: s.latency.p95 }));
  const fpsList = perCamera.map((c) => c.fps);
  const mean = fpsList.reduce((a, b) => a + b, 0) / Math.max(1, fpsList.length);
  const min = mean ? Math.min(...fpsList) / mean : 0;
  const max = mean ? Math.max(...fpsList) / mean : 0;
  const throughput = round(snap.overall.processed / elapsed);
  return {
    config: configLabel(config), cameras, fps, seconds: elapsed, offeredFps: cameras * fps, throughput,
    ratioToRaw: round(throughput / rawBest, 3),
    fairness: { min: round(min, 3), max: round(max, 3), withinPct: round(100 * Math.max(1 - min, max - 1), 1) },
    latency: latency.summary(), stages: snap.overall.stages, dropped: snap.overall.dropped, failed: snap.overall.failed,
    perCamera, batchSizes: snap.batchSizes, meanBatch: snap.meanBatch, memory: memory.summary(), loadAverage: round(os.loadavg()[0]),
    summary: formatSummary(snap),
  };
}

interface SerialResult {
  config: string;
  fps: number;
  seconds: number;
  naive: { processed: number; throughput: number; latency: LatencySummary; lastSecondP50: number; backlogAtEnd: number };
  keepLatest: { processed: number; throughput: number; latency: LatencySummary; lastSecondP50: number; skipped: number };
}

/** One camera faster than the model: await-each-frame loop against the keep-latest stream. */
async function serialVsDecoupled(detector: Detector, config: Config, set: FrameSet, fps: number, seconds: number): Promise<SerialResult> {
  const period = 1000 / fps;
  // Naive: the camera's frames queue up (a decoder's buffer); the loop reads one, awaits it, reads the next.
  const buffer: { at: number; n: number }[] = [];
  let n = 0;
  const start = performance.now();
  const producer = setInterval(() => buffer.push({ at: performance.now(), n: n++ }), period);
  const naive = new LatencySamples();
  const naiveLast = new LatencySamples();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    const next = buffer.shift();
    if (!next) {
      await sleep(1);
      continue;
    }
    await detector.detect(frameSource(set, next.n));
    const now = performance.now();
    naive.record(now - next.at);
    if (now > end - 1000) naiveLast.record(now - next.at);
  }
  clearInterval(producer);
  const backlog = buffer.length;
  buffer.length = 0;

  // Decoupled: the same camera as a frame generator through detectStream (generateObjectDetections).
  const scheduler = new DetectionScheduler({ mode: config.batch, maxBatch: config.maxBatch, windowMs: config.windowMs, maxAgeMs: 2000 }, detector);
  const stream = async function* () {
    const t0 = performance.now();
    for (let i = 0; ; i++) {
      const due = t0 + i * period;
      if (due > t0 + seconds * 1000) return;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      yield { at: performance.now(), n: i };
    }
  };
  const keep = new LatencySamples();
  const keepLast = new LatencySamples();
  let produced = 0;
  const t1 = performance.now();
  for await (const { frame } of detectStream(scheduler, stream(), { toInput: (f) => { produced++; return frameSource(set, f.n); } })) {
    const now = performance.now();
    keep.record(now - frame.at);
    if (now > t1 + (seconds - 1) * 1000) keepLast.record(now - frame.at);
  }
  await scheduler.close({ closeDetector: false });
  return {
    config: configLabel(config), fps, seconds,
    naive: { processed: naive.count, throughput: round(naive.count / seconds), latency: naive.summary(), lastSecondP50: round(naiveLast.quantile(0.5)), backlogAtEnd: backlog },
    keepLatest: { processed: keep.count, throughput: round(keep.count / seconds), latency: keep.summary(), lastSecondP50: round(keepLast.quantile(0.5)), skipped: produced - keep.count },
  };
}

function table(rows: (string | number)[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const model = await resolveModel(args.model, { searchDirs: defaultSearchDirs() });
  log(args, `model ${model.path} (${model.spec.name}); ${os.cpus().length} CPUs, load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  const set = decodeVideo(args.media, args.frames, args.frameSize === 'model' ? model.spec.input : undefined);
  log(args, `frames: ${set.frames.length} x ${set.width}x${set.height} from ${args.media}`);
  const all = configs(args);

  // Raw references: onnxruntime-node alone, every (runners, threads) the sweep uses, plus the main thread.
  const raw: RawResult[] = [];
  const addRaw = (r: RawResult) => {
    raw.push(r);
    log(args, `raw  ${r.label}: ${r.runsPerSecond} runs/s, p50 ${r.p50} ms`);
  };
  // The sample frame every raw reference runs, prepared once as every detector of this model would.
  const sample = (await prepareImage(frameSource(set, 0), model.spec.input)).frame;
  if (args.runtime.includes('onnx')) {
    const threadsSet = new Set<number>();
    for (const c of all.filter((c) => c.runtime === 'onnx')) {
      threadsSet.add(c.threads);
      threadsSet.add(c.threads * c.concurrency);
    }
    for (const t of [...threadsSet].sort()) addRaw(await rawOrtMain(model.path, model.spec, sample, t, args.rawSeconds));
    const pairs = new Set(all.filter((c) => c.runtime === 'onnx').map((c) => `${c.concurrency}x${c.threads}`));
    for (const p of pairs) {
      const [r, t] = p.split('x').map(Number);
      addRaw(await rawOrtWorkers(model.path, model.spec, sample, r, t, args.rawSeconds));
    }
  }

  const runs: MainRunResult[] = [];
  const latency: (RunResult & { rawPredictP50: number; rawPredict: string; rawPredictHotP50: number; limitMs: number; pass: boolean })[] = [];
  const overload: RunResult[] = [];
  let serial: SerialResult | undefined;
  const references: Record<string, { best: RawResult; direct: RawResult }> = {};
  const detectorKey = (c: Config) => `${c.runtime}/${c.concurrency}/${c.threads}`;
  const byDetector = new Map<string, Config[]>();
  for (const c of all) byDetector.set(detectorKey(c), [...(byDetector.get(detectorKey(c)) ?? []), c]);

  for (const [key, group] of byDetector) {
    const { runtime, concurrency, threads } = group[0];
    const detector = await Detector.create({ model: model.path, runtime, device: args.device, threads, concurrency });
    try {
      const direct = await runtimeDirect(detector, sample, args.rawSeconds, `${runtime} runtime alone c${concurrency} t${threads}`);
      addRaw(direct);
      // The Python runtimes alone (OpenVINO / ONNX Runtime for Python, no pool code), with the pool's interpreter.
      const pool = (detector.runtime as { pool?: { python: string } }).pool;
      const rawPy = () => rawPython(pool!.python, runtime, model.path, detector.runtime.info.device, concurrency, threads, args.rawSeconds);
      if (pool && (runtime === 'openvino' || runtime === 'onnx-python')) addRaw(await rawPy());
      // The reference is the best raw configuration of this runtime with no plugin code: ORT alone
      // for onnx, OpenVINO / ONNX Runtime for Python alone for the pool (our runtime alone if neither).
      const candidates = runtime === 'onnx'
        ? raw.filter((r) => r.kind === 'ort-main' || r.kind === 'ort-workers')
        : raw.filter((r) => r.kind === 'python-raw' && r.label.startsWith(runtime));
      if (!candidates.length) candidates.push(direct);
      const best = candidates.reduce((a, b) => (b.runsPerSecond > a.runsPerSecond ? b : a));
      references[key] = { best, direct };

      for (const config of group) {
        if (args.scenarios.has('main')) {
          for (const cams of args.cameras) {
            const offered = cams * args.fps;
            if (offered < best.runsPerSecond) {
              log(args, `note: ${cams} x ${args.fps} fps offers ${offered} fps, below the raw ${best.runsPerSecond}/s: the ratio is capped by the offered load`);
            }
            const measured = await runCameras(args, detector, config, set, cams, args.fps, args.seconds, best.runsPerSecond);
            // The machine is shared: measure the reference again right after, and compare with the mean of both.
            const again = best.kind === 'python-raw' ? await rawPy()
              : best.kind !== 'runtime-direct'
                ? await (best.kind === 'ort-main' ? rawOrtMain(model.path, model.spec, sample, best.threads, args.rawSeconds)
                  : rawOrtWorkers(model.path, model.spec, sample, best.runners, best.threads, args.rawSeconds))
                : await runtimeDirect(detector, sample, args.rawSeconds, direct.label);
            const rawAdjacent = round((best.runsPerSecond + again.runsPerSecond) / 2);
            const r: MainRunResult = { ...measured, rawAdjacent, ratioToAdjacentRaw: round(measured.throughput / rawAdjacent, 3) };
            runs.push(r);
            log(args, `run  ${r.config} ${cams}x${args.fps}fps: ${r.throughput} fps (${r.ratioToRaw} of raw ${best.runsPerSecond}; ${r.ratioToAdjacentRaw} of adjacent raw ${r.rawAdjacent}), p50 ${r.latency.p50} p95 ${r.latency.p95} ms, fairness ±${r.fairness.withinPct}%, peak RSS ${r.memory.peakMb} MB`);
          }
        }
        if (args.scenarios.has('latency')) {
          // Raw predict with this config's threads at the same 5 fps pace: ORT alone on the main
          // thread for onnx, OpenVINO / ONNX Runtime for Python alone for the pool (our runtime
          // alone for any other, back to back). Its runs are interleaved with the camera's frames,
          // half a period apart, so both are timed under the same conditions: measured a minute
          // apart on this shared machine, raw predict moved by up to 0.75 ms, a quarter of the margin.
          // `hot` is the same runtime back to back, for comparison.
          const hot = raw.find((x) => x.kind === 'ort-main' && x.threads === threads && runtime === 'onnx') ?? (pool ? best : direct);
          const fps = 5;
          const pace = { fps, skipSeconds: args.warmupSeconds, seconds: args.latencySeconds };
          const paced = runtime === 'onnx'
            ? await pacedOrtMain(model.path, model.spec, sample, threads, pace)
            : pool && best.kind === 'python-raw'
              ? await pacedPython(pool.python, runtime, model.path, detector.runtime.info.device, concurrency, threads, pace)
              : undefined;
          const startAt = Date.now() + 100;
          let r: RunResult;
          let predict: RawResult;
          try {
            [r, predict] = await Promise.all([
              runCameras(args, detector, config, set, 1, fps, args.latencySeconds, best.runsPerSecond, startAt),
              paced ? paced.run(startAt + 500 / fps) : Promise.resolve(hot),
            ]);
          } catch (err) {
            paced?.abort();
            throw err;
          }
          const limitMs = round(predict.p50 + 3 + (config.batch === 'window' ? config.windowMs : 0));
          latency.push({ ...r, rawPredictP50: predict.p50, rawPredict: predict.label, rawPredictHotP50: hot.p50, limitMs, pass: r.latency.p50 <= limitMs });
          log(args, `1cam ${r.config} 1x${fps}fps: p50 ${r.latency.p50} ms (raw predict ${predict.p50} ms: ${predict.label}${paced ? ', interleaved' : ''}; back to back ${hot.p50} ms; limit ${limitMs}), stages p50 queue ${r.stages.queue.p50} pre ${r.stages.preprocess.p50} infer ${r.stages.inference.p50} post ${r.stages.postprocess.p50} xfer ${r.stages.transfer.p50}`);
        }
        if (args.scenarios.has('overload') && config === group[0]) {
          const r = await runCameras(args, detector, config, set, 16, 15, args.overloadSeconds, best.runsPerSecond);
          overload.push(r);
          log(args, `over ${r.config} 16x15fps: ${r.throughput} fps, p95 ${r.latency.p95} p99 ${r.latency.p99} max ${r.latency.max} ms, dropped ${JSON.stringify(r.dropped)}, fairness ±${r.fairness.withinPct}%, RSS peak ${r.memory.peakMb} MB growth ${r.memory.growthMb} MB`);
        }
      }
      if (args.scenarios.has('serial') && !serial) {
        // Faster than the model sustains even on all its runners, so the naive loop must fall behind.
        const serialFps = args.serialFps || Math.max(60, Math.ceil(2 * Math.max(best.runsPerSecond, direct.runsPerSecond)));
        serial = await serialVsDecoupled(detector, group[0], set, serialFps, args.serialSeconds);
        log(args, `serial ${serial.config} 1x${serial.fps}fps: naive p50 ${serial.naive.latency.p50} ms (last second ${serial.naive.lastSecondP50}, backlog ${serial.naive.backlogAtEnd}) vs keep-latest p50 ${serial.keepLatest.latency.p50} ms (last second ${serial.keepLatest.lastSecondP50}), ${serial.naive.throughput} vs ${serial.keepLatest.throughput} fps`);
      }
    } finally {
      await detector.close();
    }
  }

  // Floors from the issue, checked on what this run measured.
  const checks: { check: string; pass: boolean; detail: string }[] = [];
  for (const r of runs.filter((x) => x.cameras === 8)) {
    const floor = r.config.startsWith('onnx') ? 0.9 : 0.85;
    const raw = r.rawAdjacent;
    const tag = `${r.config} 8x${r.fps}`;
    if (r.offeredFps >= raw) {
      checks.push({ check: `${tag}: throughput >= ${floor} of raw`, pass: r.ratioToAdjacentRaw >= floor,
        detail: `${r.throughput} / raw = ${r.ratioToRaw}, / adjacent raw = ${r.ratioToAdjacentRaw} (offered ${r.offeredFps} fps, above raw capacity)` });
    } else {
      // Below capacity the most anyone can process is what is offered: the plugin must keep up with it.
      checks.push({ check: `${tag}: keeps up (>= ${floor} of the ${r.offeredFps} fps offered; below raw capacity ${round(raw)}, so no raw ratio)`,
        pass: r.throughput >= floor * r.offeredFps, detail: `${r.throughput} of ${r.offeredFps} fps = ${round(r.throughput / r.offeredFps, 3)}` });
    }
    checks.push({ check: `${tag}: every camera within 20% of mean`, pass: r.fairness.withinPct <= 20, detail: `±${r.fairness.withinPct}%` });
  }
  for (const r of latency) checks.push({ check: `${r.config} 1x5: p50 <= raw predict + 3 ms${r.config.includes('window') ? ' + window' : ''}`, pass: r.pass, detail: `${r.latency.p50} <= ${r.limitMs}` });
  for (const r of overload) {
    checks.push({ check: `${r.config} 16x15: memory flat`, pass: r.memory.growthMb < 50, detail: `peak ${r.memory.peakMb} MB, growth ${r.memory.growthMb} MB` });
    checks.push({ check: `${r.config} 16x15: latency bounded (p99 < max age)`, pass: r.latency.p99 < args.maxAgeMs, detail: `p95 ${r.latency.p95} p99 ${r.latency.p99} ms` });
  }

  const rss = Math.round(process.resourceUsage().maxRSS / 1024);
  const result = {
    at: new Date().toISOString(), host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadAverage: os.loadavg() },
    model: { path: model.path, name: model.spec.name }, frames: { count: set.frames.length, width: set.width, height: set.height, media: args.media },
    args: { ...args, scenarios: [...args.scenarios] }, raw, references, runs, latency, overload, serial, checks, peakRssMb: rss,
  };
  const name = args.name ?? result.at.replace(/[:.]/g, '-');
  fs.mkdirSync(args.out, { recursive: true });
  const jsonFile = path.join(args.out, `${name}.json`);
  fs.writeFileSync(jsonFile, JSON.stringify(result, null, 2));
  let plotFile: string | undefined;
  if (runs.length) {
    const series: PlotSeries[] = [...new Set(runs.map((r) => r.config))].map((label) => ({
      label, points: runs.filter((r) => r.config === label).map((r) => ({ cameras: r.cameras, throughput: r.throughput, p95: r.latency.p95 })),
    }));
    const ref = Object.values(references)[0]?.best;
    plotFile = path.join(args.out, `${name}.svg`);
    fs.writeFileSync(plotFile, renderPlot(series, `${model.spec.name}, ${args.fps} fps per camera`, ref && { label: `raw (${ref.label})`, value: ref.runsPerSecond }));
  }

  if (args.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else {
    console.log('\nraw references');
    console.log(table([['reference', 'runs/s', 'p50 ms', 'p95 ms'], ...raw.map((r) => [r.label, r.runsPerSecond, r.p50, r.p95])]));
    if (runs.length) {
      console.log('\nconfigurations');
      console.log(table([['config', 'cams x fps', 'fps', 'ratio', 'adj ratio', 'p50', 'p95', 'p99', 'fair min/max', 'dropped (repl/stale)', 'batch', 'RSS MB'],
        ...runs.map((r) => [r.config, `${r.cameras}x${r.fps}`, r.throughput, r.ratioToRaw, r.ratioToAdjacentRaw, r.latency.p50, r.latency.p95, r.latency.p99,
          `${r.fairness.min}/${r.fairness.max}`, `${r.dropped.replaced}/${r.dropped.stale}`, r.meanBatch, r.memory.peakMb])]));
    }
    if (latency.length) {
      console.log('\none camera at 5 fps');
      console.log(table([['config', 'p50', 'raw@5fps', 'raw b2b', 'limit', 'queue', 'pre', 'infer', 'post', 'xfer'],
        ...latency.map((r) => [r.config, r.latency.p50, r.rawPredictP50, r.rawPredictHotP50, r.limitMs, r.stages.queue.p50, r.stages.preprocess.p50, r.stages.inference.p50, r.stages.postprocess.p50, r.stages.transfer.p50])]));
    }
    if (overload.length) {
      console.log('\noverload 16 x 15 fps');
      console.log(table([['config', 'fps', 'p50', 'p95', 'p99', 'max', 'replaced', 'stale', 'fair min/max', 'RSS peak', 'growth'],
        ...overload.map((r) => [r.config, r.throughput, r.latency.p50, r.latency.p95, r.latency.p99, r.latency.max, r.dropped.replaced, r.dropped.stale, `${r.fairness.min}/${r.fairness.max}`, r.memory.peakMb, r.memory.growthMb])]));
    }
    if (serial) {
      console.log(`\nserial vs decoupled, one camera at ${serial.fps} fps (${serial.config})`);
      console.log(table([['path', 'processed fps', 'p50', 'p95', 'max', 'last-second p50', 'backlog/skipped'],
        ['naive await loop', serial.naive.throughput, serial.naive.latency.p50, serial.naive.latency.p95, serial.naive.latency.max, serial.naive.lastSecondP50, serial.naive.backlogAtEnd],
        ['keep-latest', serial.keepLatest.throughput, serial.keepLatest.latency.p50, serial.keepLatest.latency.p95, serial.keepLatest.latency.max, serial.keepLatest.lastSecondP50, serial.keepLatest.skipped]]));
    }
    console.log('\nchecks');
    for (const c of checks) console.log(`${c.pass ? 'PASS' : 'FAIL'}  ${c.check}: ${c.detail}`);
    console.log(`\npeak RSS ${rss} MB; results ${jsonFile}${plotFile ? `, plot ${plotFile}` : ''}`);
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`bench: ${e.message}`);
    process.exit(1);
  },
);
