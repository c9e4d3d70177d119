import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cacheFrameParts,
  commandParts,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  FrameError,
  inferBatchParts,
  inferCachedParts,
  inferJpegParts,
  inferRawParts,
  inferSharedParts,
  MsgType,
  PROTOCOL_VERSION,
  ResponseReader,
  Status,
  type DecodePrefix,
  type RawImage,
} from '../../src/runtimes/python-pool/frames';

const DIR = path.resolve(__dirname, '../golden/protocol');
interface ImageDesc { width: number; height: number; format: number; x: number; y: number; pixelsHex?: string; dataHex?: string }
interface SharedDesc extends ImageDesc { offset: number; size: number }
interface Vector {
  file: string;
  kind: 'request' | 'response' | 'fault';
  reqId: number;
  msgType?: number;
  status?: number;
  command?: object;
  prefix?: DecodePrefix;
  jpegHex?: string;
  image?: ImageDesc;
  items?: ImageDesc[];
  frameId?: number;
  frameIds?: number[];
  shared?: SharedDesc[];
  json?: unknown;
  expectError?: string;
}
const manifest = JSON.parse(readFileSync(path.join(DIR, 'manifest.json'), 'utf8')) as { protocol: number; vectors: Vector[] };
const bytes = (v: Vector) => readFileSync(path.join(DIR, v.file));
const hex = (s: string) => Buffer.from(s, 'hex');
const toImage = (d: ImageDesc): RawImage => ({ width: d.width, height: d.height, format: d.format, x: d.x, y: d.y, data: hex(d.pixelsHex ?? d.dataHex ?? '') });

function encodeVector(v: Vector): Buffer {
  return Buffer.concat(encodeChunks(v));
}

function encodeChunks(v: Vector): Uint8Array[] {
  switch (v.msgType) {
    case MsgType.Command: return encodeRequest(v.reqId, MsgType.Command, commandParts(v.command!));
    case MsgType.InferJpeg: return encodeRequest(v.reqId, MsgType.InferJpeg, inferJpegParts(v.prefix!, hex(v.jpegHex!)));
    case MsgType.InferRaw: return encodeRequest(v.reqId, MsgType.InferRaw, inferRawParts(v.prefix!, toImage(v.image!)));
    case MsgType.InferBatch: return encodeRequest(v.reqId, MsgType.InferBatch, inferBatchParts(v.prefix!, v.items!.map(toImage)));
    case MsgType.CacheFrame: return encodeRequest(v.reqId, MsgType.CacheFrame, cacheFrameParts(v.frameId!, toImage(v.image!)));
    case MsgType.InferCached: return encodeRequest(v.reqId, MsgType.InferCached, inferCachedParts(v.prefix!, v.frameIds!));
    case MsgType.InferShared: {
      // The encoder lays the items back to back from the first one's offset, as SharedFrameMemory.put wrote them.
      const items = v.shared!.map((d) => ({ ...toImage(d), data: new Uint8Array(d.size) }));
      return encodeRequest(v.reqId, MsgType.InferShared, inferSharedParts(v.prefix!, items, v.shared![0]!.offset));
    }
    default: throw new Error(`no encoder for ${v.msgType}`);
  }
}

describe('protocol golden vectors (TypeScript codec)', () => {
  it('is the protocol version the codec speaks', () => expect(manifest.protocol).toBe(PROTOCOL_VERSION));

  const requests = manifest.vectors.filter((v) => v.kind === 'request');
  it.each(requests.map((v) => [v.file, v] as const))('%s: encodes to the golden bytes', (_name, v) => {
    expect(encodeVector(v).equals(bytes(v))).toBe(true);
  });

  it.each(requests.map((v) => [v.file, v] as const))('%s: decodes to the manifest fields', (_name, v) => {
    const d = decodeRequest(bytes(v));
    expect(d.reqId).toBe(v.reqId);
    expect(d.type).toBe(v.msgType);
    if (v.command) expect(d.command).toEqual(v.command);
    if (v.prefix) expect(d.prefix).toEqual(v.prefix);
    if (v.jpegHex) expect(Buffer.from(d.jpeg!).toString('hex')).toBe(v.jpegHex);
    if (v.frameId !== undefined) expect(d.frameId).toBe(v.frameId);
    if (v.frameIds) expect(d.frameIds).toEqual(v.frameIds);
    if (v.shared) expect(d.shared).toEqual(v.shared.map(({ offset, size }) => ({ offset, size })));
    const descs = v.items ?? (v.image ? [v.image] : v.shared ?? []);
    expect(d.images?.length ?? 0).toBe(descs.length);
    descs.forEach((desc, i) => {
      const img = d.images![i];
      expect([img.width, img.height, img.format, img.x, img.y]).toEqual([desc.width, desc.height, desc.format, desc.x, desc.y]);
      expect(Buffer.from(img.data).toString('hex')).toBe(desc.pixelsHex ?? desc.dataHex ?? '');
    });
  });

  const responses = manifest.vectors.filter((v) => v.kind === 'response');
  it.each(responses.map((v) => [v.file, v] as const))('%s: decodes and re-encodes', (_name, v) => {
    const r = decodeResponse(bytes(v));
    expect(r).toEqual({ reqId: v.reqId, status: v.status, body: v.json });
    expect(encodeResponse(v.reqId, v.status as Status, v.json).equals(bytes(v))).toBe(true);
  });

  it('reassembles responses split at every byte, and several in one chunk', () => {
    const all = Buffer.concat(responses.map(bytes));
    const reader = new ResponseReader();
    const got = [];
    for (let i = 0; i < all.length; i++) got.push(...reader.push(all.subarray(i, i + 1)));
    expect(got.map((r) => r.reqId)).toEqual(responses.map((v) => v.reqId));
    expect(new ResponseReader().push(all).length).toBe(responses.length);
  });

  it('refuses a 4 GB response length without waiting for (or allocating) its body', () => {
    const reader = new ResponseReader();
    const fault = manifest.vectors.find((v) => v.file === 'fault-4gb-length.bin')!;
    expect(() => reader.push(bytes(fault))).toThrow(FrameError);
  });

  it('writes a frame\'s pixels as their own chunk, uncopied, with the small parts packed in front', () => {
    const prefix = { modelIdx: 0, confidence: 0.5, iou: 0.5, maxDetections: 10 };
    const image: RawImage = { width: 416, height: 312, format: 0, x: 0, y: 52, data: new Uint8Array(416 * 312 * 3) };
    const chunks = encodeRequest(7, MsgType.InferRaw, inferRawParts(prefix, image));
    expect(chunks).toHaveLength(2);
    expect(chunks[0]!.byteLength).toBe(9 + 11 + 13);
    expect(chunks[1]).toBe(image.data);
    const small = encodeRequest(8, MsgType.InferRaw, inferRawParts(prefix, { ...image, width: 4, height: 4, y: 0, data: new Uint8Array(48) }));
    expect(small).toHaveLength(1);
  });

  it('refuses to encode a frame above the max frame size, and pixel sizes that do not match', () => {
    expect(() => encodeRequest(1, MsgType.InferJpeg, [new Uint8Array(100)], 64)).toThrow(/exceeds/);
    const prefix = { modelIdx: 0, confidence: 0.5, iou: 0.5, maxDetections: 10 };
    expect(() => inferRawParts(prefix, { width: 4, height: 4, format: 0, x: 0, y: 0, data: new Uint8Array(5) })).toThrow(/needs 48 bytes/);
  });
});
