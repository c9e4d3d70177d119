import { randomBytes } from 'node:crypto';
import fs from 'node:fs';

/** tmpfs: the file's pages are memory and never reach a disk. */
const SHM_DIR = '/dev/shm';
/** Regions start on cache-line boundaries. */
const ALIGN = 64;
/**
 * The arena never grows past this; a request that finds no room goes through the socket. Docker
 * gives a container 64 MiB of /dev/shm by default, shared with everything else in it.
 */
export const SHARED_MEMORY_LIMIT = 32 * 1024 * 1024;

/**
 * Frame pixels for the pool, written into a file the pool inherits and maps (infer_shared,
 * docs/protocol.md section 3.4): one pwritev instead of a megabyte pushed through the socket's
 * small buffer in pieces, each piece a wake-up of both processes.
 *
 * The file is unlinked as soon as it is made, so it lives exactly as long as the descriptors on it
 * (ours and the pool's): nothing is left in /dev/shm when either process dies. Regions are
 * allocated first-fit and released when their request settles. A request abandoned at its
 * deadline releases its region while the pool may still be reading it; the pool then reads the
 * next frame's pixels for an answer nobody waits for, and every other request is unaffected.
 */
export class SharedFrameMemory {
  private capacity = 0;
  /** Regions in use, [start, end), by start. */
  private readonly live: [number, number][] = [];
  private failed: Error | undefined;

  /** A new arena, or undefined where there is no tmpfs to put it in (not Linux, no writable /dev/shm). */
  static create(onError?: (err: Error) => void, limit = SHARED_MEMORY_LIMIT): SharedFrameMemory | undefined {
    if (process.platform !== 'linux') return undefined;
    const path = `${SHM_DIR}/nvr-pool-${process.pid}-${randomBytes(6).toString('hex')}`;
    let fd: number;
    try {
      fd = fs.openSync(path, 'wx+', 0o600);
    } catch {
      return undefined;
    }
    fs.rmSync(path, { force: true });
    return new SharedFrameMemory(fd, limit, onError);
  }

  constructor(
    readonly fd: number,
    private readonly limit: number,
    private readonly onError?: (err: Error) => void,
  ) {}

  /** The error that turned the arena off (every later frame goes through the socket). */
  get error(): Error | undefined {
    return this.failed;
  }

  /** Bytes in use, and the file's size. */
  get usage(): { used: number; capacity: number } {
    return { used: this.live.reduce((n, [s, e]) => n + e - s, 0), capacity: this.capacity };
  }

  /**
   * Copies `parts` into one region, back to back, and returns where it starts; undefined when
   * there is no room within the limit or the arena has failed (send them through the socket).
   */
  put(parts: Uint8Array[]): number | undefined {
    if (this.failed) return undefined;
    const size = parts.reduce((n, p) => n + p.byteLength, 0);
    const start = this.allocate(size);
    if (start === undefined) return undefined;
    try {
      const written = fs.writevSync(this.fd, parts, start);
      if (written !== size) throw new Error(`wrote ${written} of ${size} bytes`);
      return start;
    } catch (err) {
      // ENOSPC when /dev/shm is full, or a closed descriptor: the socket still works.
      this.release(start);
      this.fail(new Error(`shared frame memory failed, frames go through the socket: ${(err as Error).message}`, { cause: err }));
      return undefined;
    }
  }

  /** Frees the region that `put` returned. */
  release(start: number): void {
    const at = this.live.findIndex(([s]) => s === start);
    if (at >= 0) this.live.splice(at, 1);
  }

  close(): void {
    this.failed ??= new Error('shared frame memory closed');
    fs.closeSync(this.fd);
  }

  private fail(err: Error): void {
    this.failed = err;
    this.onError?.(err);
  }

  private allocate(size: number): number | undefined {
    const need = Math.max(ALIGN, Math.ceil(size / ALIGN) * ALIGN);
    let start = 0;
    let index = 0;
    for (; index < this.live.length; index++) {
      const [s, e] = this.live[index]!;
      if (s - start >= need) break;
      start = e;
    }
    const end = start + need;
    if (end > this.capacity) {
      if (end > this.limit) return undefined;
      const grown = Math.min(this.limit, Math.max(end, this.capacity * 2));
      try {
        fs.ftruncateSync(this.fd, grown);
      } catch (err) {
        this.fail(new Error(`shared frame memory cannot grow to ${grown} bytes, frames go through the socket: ${(err as Error).message}`, { cause: err }));
        return undefined;
      }
      this.capacity = grown;
    }
    this.live.splice(index, 0, [start, end]);
    return start;
  }
}
