import fs from 'node:fs';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SharedFrameMemory } from '../../src/runtimes/python-pool/shared-memory';

const opened: SharedFrameMemory[] = [];
function arena(limit = 1 << 20, onError?: (err: Error) => void): SharedFrameMemory {
  const memory = SharedFrameMemory.create(onError, limit);
  if (!memory) throw new Error('no shared memory on this machine');
  opened.push(memory);
  return memory;
}

function readBack(memory: SharedFrameMemory, start: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  fs.readSync(memory.fd, out, 0, length, start);
  return out;
}

const bytes = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 255);

afterEach(() => {
  for (const memory of opened.splice(0)) if (!memory.error) memory.close();
});

describe.skipIf(process.platform !== 'linux')('SharedFrameMemory (frames for the pool in /dev/shm)', () => {
  it('leaves no file in /dev/shm: the file is unlinked once made, and lives as long as its descriptor', () => {
    const before = readdirSync('/dev/shm').filter((f) => f.startsWith('nvr-pool-'));
    const memory = arena();
    expect(readdirSync('/dev/shm').filter((f) => f.startsWith('nvr-pool-'))).toEqual(before);
    expect(fs.fstatSync(memory.fd).isFile()).toBe(true);
  });

  it('writes the parts back to back where put says, and grows the file to hold them', () => {
    const memory = arena();
    const a = bytes(1000, 1);
    const b = bytes(300, 2);
    const start = memory.put([a, b])!;
    expect(start).toBe(0);
    expect(readBack(memory, start, 1300).equals(Buffer.concat([a, b]))).toBe(true);
    expect(fs.fstatSync(memory.fd).size).toBeGreaterThanOrEqual(1300);
    expect(memory.usage).toEqual({ used: 1344, capacity: fs.fstatSync(memory.fd).size }); // 64-byte aligned
  });

  it('allocates first fit on 64-byte boundaries and reuses a released region', () => {
    const memory = arena();
    const first = memory.put([bytes(100, 1)])!;
    const second = memory.put([bytes(100, 2)])!;
    const third = memory.put([bytes(100, 3)])!;
    expect([first, second, third]).toEqual([0, 128, 256]);
    memory.release(second);
    expect(memory.put([bytes(64, 4)])).toBe(128); // fits the gap
    expect(memory.put([bytes(65, 5)])).toBe(384); // does not: after the last region
    memory.release(first);
    memory.release(128);
    const big = bytes(200, 6);
    expect(memory.put([big])).toBe(0); // the two freed regions at the front form one gap
    expect(readBack(memory, 0, 200).equals(Buffer.from(big))).toBe(true);
    expect(readBack(memory, 256, 100).equals(Buffer.from(bytes(100, 3)))).toBe(true); // untouched
  });

  it('answers undefined past its limit (the frame goes through the socket) and has room again once released', () => {
    const memory = arena(4096);
    const held = memory.put([bytes(3000, 1)])!;
    expect(memory.put([bytes(2000, 2)])).toBeUndefined();
    expect(memory.error).toBeUndefined(); // full is not broken
    memory.release(held);
    expect(memory.put([bytes(2000, 2)])).toBe(0);
    expect(memory.put([bytes(5000, 3)])).toBeUndefined(); // larger than the limit itself
  });

  it('a failing write turns it off with a clear error, reported once; later frames go through the socket', () => {
    const errors: Error[] = [];
    const memory = arena(1 << 20, (err) => errors.push(err));
    expect(memory.put([bytes(10, 1)])).toBe(0);
    fs.closeSync(memory.fd); // stands in for /dev/shm running full (ENOSPC) or a lost descriptor
    expect(memory.put([bytes(10, 2)])).toBeUndefined();
    expect(memory.error?.message).toMatch(/shared frame memory .*frames go through the socket.*EBADF/);
    expect(memory.put([bytes(10, 3)])).toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
