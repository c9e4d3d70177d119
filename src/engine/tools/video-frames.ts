import { spawn, type ChildProcessByStdio } from 'child_process';
import type { Readable } from 'stream';

/** One decoded video frame: packed RGB (rgb24), HWC. */
export interface VideoFrame {
  /** 0-based index in the decoded stream. */
  index: number;
  /** Presentation time in ms, from the frame index and the stream's frame rate. */
  timestamp: number;
  width: number;
  height: number;
  channels: 3;
  data: Uint8Array;
}

export interface VideoInfo {
  width: number;
  height: number;
  fps: number;
  frames?: number;
}

export interface ReadVideoOptions {
  /** Scale to this size (ffmpeg does it while decoding); the source size when absent. */
  width?: number;
  height?: number;
  /** Stop after this many frames. */
  maxFrames?: number;
  /** Skip this many frames first (decoded and dropped by ffmpeg's select filter). */
  startFrame?: number;
  ffmpeg?: string;
  ffprobe?: string;
}

export class VideoError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VideoError';
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new VideoError(`could not start ${command}: ${e.message}`, { cause: e })));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new VideoError(`${command} exited with ${code}: ${err.trim()}`))));
  });
}

/** Size, frame rate and (where the container says) frame count of the first video stream. */
export async function probeVideo(file: string, ffprobe = 'ffprobe'): Promise<VideoInfo> {
  const out = await run(ffprobe, [
    '-v', 'error', '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height,r_frame_rate,avg_frame_rate,nb_frames',
    '-of', 'json', file,
  ]);
  const stream = (JSON.parse(out) as { streams?: Record<string, string | number>[] }).streams?.[0];
  if (!stream) throw new VideoError(`${file} has no video stream`);
  const rate = (s: unknown) => {
    const [n, d] = String(s ?? '0/1').split('/').map(Number);
    return d ? n / d : 0;
  };
  const fps = rate(stream.avg_frame_rate) || rate(stream.r_frame_rate) || 25;
  const frames = Number(stream.nb_frames);
  return { width: Number(stream.width), height: Number(stream.height), fps, frames: Number.isFinite(frames) && frames > 0 ? frames : undefined };
}

/**
 * Decodes a video file to rgb24 frames with a spawned ffmpeg. Frames are read from ffmpeg's
 * stdout as they come (back-pressure pauses ffmpeg while the consumer is busy), so memory stays
 * at about one frame whatever the clip's length. Breaking out of the loop kills ffmpeg.
 */
export async function* readVideoFrames(file: string, options: ReadVideoOptions = {}): AsyncGenerator<VideoFrame> {
  const info = await probeVideo(file, options.ffprobe);
  const width = options.width ?? info.width;
  const height = options.height ?? info.height;
  const frameBytes = width * height * 3;
  const start = options.startFrame ?? 0;
  const filters: string[] = [];
  if (start > 0) filters.push(`select=gte(n\\,${start})`);
  if (width !== info.width || height !== info.height) filters.push(`scale=${width}:${height}`);
  const args = ['-v', 'error', '-nostdin', '-i', file];
  if (filters.length) args.push('-vf', filters.join(','));
  // passthrough: one output frame per decoded frame (no duplication to a constant rate).
  args.push('-fps_mode', 'passthrough');
  if (options.maxFrames !== undefined) args.push('-frames:v', String(options.maxFrames));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');

  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(options.ffmpeg ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(new VideoError(`could not start ffmpeg: ${e.message}`, { cause: e })));
    child.on('close', (code) => resolve(code));
  });
  exited.catch(() => undefined);

  let index = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= frameBytes) {
        const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
        // Copy the frame out so consumers may keep it after the next chunk arrives.
        const data = new Uint8Array(all.subarray(0, frameBytes));
        const rest = all.subarray(frameBytes);
        pending = rest.length ? [rest] : [];
        pendingBytes = rest.length;
        const n = start + index;
        yield { index: n, timestamp: Math.round((n * 1000) / info.fps), width, height, channels: 3, data };
        index++;
      }
    }
    const code = await exited;
    if (code !== 0) throw new VideoError(`ffmpeg failed on ${file} (exit ${code}): ${stderr.trim()}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
