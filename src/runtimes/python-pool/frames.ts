/**
 * Wire codec of the Python pool protocol, version 2. docs/protocol.md is normative; the golden
 * bytes in test/golden/protocol pin this file and python-runtime/nvr_pool/protocol.py together.
 */

export const PROTOCOL_VERSION = 2;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** x = y = PLACE_AUTO lets the pool resize (letterbox) the image itself. */
export const PLACE_AUTO = 0xffff;

export enum MsgType {
  Command = 0x00,
  InferJpeg = 0x01,
  InferRaw = 0x02,
  InferBatch = 0x03,
  CacheFrame = 0x04,
  InferCached = 0x05,
  InferShared = 0x06,
}

export enum Status {
  Ok = 0x00,
  Error = 0x01,
}

export enum PixelFormat {
  Rgb = 0,
  Bgr = 1,
  Gray = 2,
  /** JPEG/PNG bytes; batch items only. */
  Encoded = 3,
}

export interface DecodePrefix {
  modelIdx: number;
  confidence: number;
  iou: number;
  maxDetections: number;
}

export interface RawImage {
  width: number;
  height: number;
  format: PixelFormat;
  /** Placement inside the model input, or PLACE_AUTO for both. */
  x: number;
  y: number;
  data: Uint8Array;
}

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

const PREFIX_BYTES = 11;
const RAW_HEADER_BYTES = 13;
const ITEM_HEADER_BYTES = 17;
const SHARED_ITEM_BYTES = 21;

export function channelsOf(format: PixelFormat): number {
  return format === PixelFormat.Gray ? 1 : 3;
}

/** Parts at least this large are written as they are; smaller ones are packed with the header. */
const PASS_THROUGH_BYTES = 16 * 1024;

/**
 * One request frame, [u32 length][u32 reqId][u8 type][payload] with length = 5 + payload, as the
 * chunks to write in order. Pixels and JPEGs go out as their own chunks, never copied into a
 * frame-sized buffer: a 416x416 frame per request would be 0.5 MB of garbage every time.
 */
export function encodeRequest(reqId: number, type: MsgType, parts: Uint8Array[], maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array[] {
  const payloadBytes = parts.reduce((n, p) => n + p.byteLength, 0);
  const length = 5 + payloadBytes;
  if (length > maxFrameBytes) {
    throw new FrameError(`request of ${length} bytes exceeds the pool's max frame of ${maxFrameBytes} bytes`);
  }
  const header = Buffer.allocUnsafe(9);
  header.writeUInt32LE(length, 0);
  header.writeUInt32LE(reqId >>> 0, 4);
  header.writeUInt8(type, 8);
  const chunks: Uint8Array[] = [];
  let small: Uint8Array[] = [header];
  const pack = () => {
    if (small.length > 0) chunks.push(small.length === 1 ? small[0]! : Buffer.concat(small));
    small = [];
  };
  for (const part of parts) {
    if (part.byteLength < PASS_THROUGH_BYTES) {
      small.push(part);
    } else {
      pack();
      chunks.push(part);
    }
  }
  pack();
  return chunks;
}

export function encodePrefix(p: DecodePrefix): Buffer {
  const b = Buffer.allocUnsafe(PREFIX_BYTES);
  b.writeUInt8(p.modelIdx, 0);
  b.writeFloatLE(p.confidence, 1);
  b.writeFloatLE(p.iou, 5);
  b.writeUInt16LE(Math.min(0xffff, p.maxDetections), 9);
  return b;
}

function rawHeader(img: RawImage): Buffer {
  const b = Buffer.allocUnsafe(RAW_HEADER_BYTES);
  b.writeUInt32LE(img.width, 0);
  b.writeUInt32LE(img.height, 4);
  b.writeUInt8(img.format, 8);
  b.writeUInt16LE(img.x, 9);
  b.writeUInt16LE(img.y, 11);
  return b;
}

function checkRaw(img: RawImage): void {
  if (img.format !== PixelFormat.Encoded && img.data.byteLength !== img.width * img.height * channelsOf(img.format)) {
    throw new FrameError(`${img.width}x${img.height} ${PixelFormat[img.format]} needs ${img.width * img.height * channelsOf(img.format)} bytes, got ${img.data.byteLength}`);
  }
}

export function commandParts(command: object): Uint8Array[] {
  return [Buffer.from(JSON.stringify(command), 'utf8')];
}

export function inferJpegParts(prefix: DecodePrefix, jpeg: Uint8Array): Uint8Array[] {
  return [encodePrefix(prefix), jpeg];
}

export function inferRawParts(prefix: DecodePrefix, img: RawImage): Uint8Array[] {
  checkRaw(img);
  return [encodePrefix(prefix), rawHeader(img), img.data];
}

export function inferBatchParts(prefix: DecodePrefix, items: RawImage[]): Uint8Array[] {
  if (items.length < 1 || items.length > 255) throw new FrameError(`a batch holds 1..255 items, not ${items.length}`);
  const parts: Uint8Array[] = [encodePrefix(prefix), Uint8Array.of(items.length)];
  for (const item of items) {
    checkRaw(item);
    const head = Buffer.allocUnsafe(ITEM_HEADER_BYTES);
    rawHeader(item).copy(head, 0);
    head.writeUInt32LE(item.data.byteLength, RAW_HEADER_BYTES);
    parts.push(head, item.data);
  }
  return parts;
}

/**
 * infer_shared: the images' pixels already lie back to back in the shared memory from `start`
 * (SharedFrameMemory.put of their data, in this order); only where they lie is sent.
 */
export function inferSharedParts(prefix: DecodePrefix, items: RawImage[], start: number): Uint8Array[] {
  if (items.length < 1 || items.length > 255) throw new FrameError(`infer_shared takes 1..255 items, not ${items.length}`);
  const body = Buffer.allocUnsafe(1 + SHARED_ITEM_BYTES * items.length);
  body.writeUInt8(items.length, 0);
  let offset = start;
  items.forEach((item, i) => {
    if (item.format === PixelFormat.Encoded) throw new FrameError('infer_shared items are raw pixels, not encoded images');
    checkRaw(item);
    const head = rawHeader(item);
    const at = 1 + SHARED_ITEM_BYTES * i;
    head.copy(body, at);
    body.writeUInt32LE(offset, at + RAW_HEADER_BYTES);
    body.writeUInt32LE(item.data.byteLength, at + RAW_HEADER_BYTES + 4);
    offset += item.data.byteLength;
  });
  return [encodePrefix(prefix), body];
}

export function cacheFrameParts(frameId: number, img: RawImage): Uint8Array[] {
  checkRaw(img);
  const id = Buffer.allocUnsafe(4);
  id.writeUInt32LE(frameId >>> 0, 0);
  return [id, rawHeader(img), img.data];
}

export function inferCachedParts(prefix: DecodePrefix, frameIds: number[]): Uint8Array[] {
  if (frameIds.length < 1 || frameIds.length > 255) throw new FrameError(`infer_cached takes 1..255 ids, not ${frameIds.length}`);
  const ids = Buffer.allocUnsafe(1 + 4 * frameIds.length);
  ids.writeUInt8(frameIds.length, 0);
  frameIds.forEach((id, i) => ids.writeUInt32LE(id >>> 0, 1 + 4 * i));
  return [encodePrefix(prefix), ids];
}

// ------------------------------------------------------------------ decoding

export interface Response {
  reqId: number;
  status: Status;
  /** Parsed JSON payload: the result, or {code, message} for errors. */
  body: unknown;
}

/**
 * Incremental response decoder: feed it stdout chunks, it yields whole responses. A length above
 * the limit means the stream is corrupt (the pool never sends one): it throws, and the caller
 * restarts the pool instead of allocating.
 */
export class ResponseReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  push(chunk: Buffer): Response[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Response[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const length = head.readUInt32LE(0);
      if (length < 5 || length > this.maxFrameBytes) {
        throw new FrameError(`pool sent a frame length of ${length} (valid: 5..${this.maxFrameBytes}): stream is corrupt`);
      }
      if (this.buffered < 4 + length) break;
      const frame = this.take(4 + length);
      out.push(decodeResponse(frame));
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  private take(n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0];
    const frame = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return frame;
  }
}

/** Decodes one whole response frame (length prefix included). */
export function decodeResponse(frame: Buffer): Response {
  const length = frame.readUInt32LE(0);
  if (length + 4 !== frame.length || length < 5) throw new FrameError(`response frame of ${frame.length} bytes says length ${length}`);
  const reqId = frame.readUInt32LE(4);
  const statusByte = frame.readUInt8(8);
  const status = statusByte as Status;
  if (status !== Status.Ok && status !== Status.Error) throw new FrameError(`unknown response status 0x${statusByte.toString(16)}`);
  let body: unknown;
  try {
    body = JSON.parse(frame.subarray(9).toString('utf8'));
  } catch (err) {
    throw new FrameError(`response ${reqId} is not JSON: ${(err as Error).message}`);
  }
  return { reqId, status, body };
}

export function encodeResponse(reqId: number, status: Status, body: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  const out = Buffer.allocUnsafe(9 + json.length);
  out.writeUInt32LE(5 + json.length, 0);
  out.writeUInt32LE(reqId >>> 0, 4);
  out.writeUInt8(status, 8);
  json.copy(out, 9);
  return out;
}

/** A request decoded back into fields: used by tests and tools (the pool is the real reader). */
export interface DecodedRequest {
  reqId: number;
  type: number;
  command?: unknown;
  prefix?: DecodePrefix;
  jpeg?: Uint8Array;
  images?: RawImage[];
  frameId?: number;
  frameIds?: number[];
  /** infer_shared: where each image's pixels lie in the shared memory (`images[i].data` is empty). */
  shared?: { offset: number; size: number }[];
}

export function decodeRequest(frame: Buffer): DecodedRequest {
  const length = frame.readUInt32LE(0);
  if (length + 4 !== frame.length || length < 5) throw new FrameError(`request frame of ${frame.length} bytes says length ${length}`);
  const reqId = frame.readUInt32LE(4);
  const type = frame.readUInt8(8);
  const p = frame.subarray(9);
  const prefix = (): DecodePrefix => {
    if (p.length < PREFIX_BYTES) throw new FrameError('payload shorter than the decode prefix');
    return { modelIdx: p.readUInt8(0), confidence: p.readFloatLE(1), iou: p.readFloatLE(5), maxDetections: p.readUInt16LE(9) };
  };
  const raw = (at: number, data: Uint8Array): RawImage => ({
    width: p.readUInt32LE(at), height: p.readUInt32LE(at + 4), format: p.readUInt8(at + 8), x: p.readUInt16LE(at + 9), y: p.readUInt16LE(at + 11), data,
  });
  switch (type) {
    case MsgType.Command:
      return { reqId, type, command: JSON.parse(p.toString('utf8')) };
    case MsgType.InferJpeg:
      return { reqId, type, prefix: prefix(), jpeg: p.subarray(PREFIX_BYTES) };
    case MsgType.InferRaw:
      return { reqId, type, prefix: prefix(), images: [raw(PREFIX_BYTES, p.subarray(PREFIX_BYTES + RAW_HEADER_BYTES))] };
    case MsgType.InferBatch: {
      const count = p.readUInt8(PREFIX_BYTES);
      let at = PREFIX_BYTES + 1;
      const images: RawImage[] = [];
      for (let i = 0; i < count; i++) {
        const size = p.readUInt32LE(at + RAW_HEADER_BYTES);
        images.push(raw(at, p.subarray(at + ITEM_HEADER_BYTES, at + ITEM_HEADER_BYTES + size)));
        at += ITEM_HEADER_BYTES + size;
      }
      if (at !== p.length) throw new FrameError(`${p.length - at} bytes after the last batch item`);
      return { reqId, type, prefix: prefix(), images };
    }
    case MsgType.CacheFrame:
      return { reqId, type, frameId: p.readUInt32LE(0), images: [raw(4, p.subarray(4 + RAW_HEADER_BYTES))] };
    case MsgType.InferCached: {
      const count = p.readUInt8(PREFIX_BYTES);
      const frameIds = Array.from({ length: count }, (_, i) => p.readUInt32LE(PREFIX_BYTES + 1 + 4 * i));
      return { reqId, type, prefix: prefix(), frameIds };
    }
    case MsgType.InferShared: {
      const count = p.readUInt8(PREFIX_BYTES);
      const at = (i: number) => PREFIX_BYTES + 1 + SHARED_ITEM_BYTES * i;
      if (p.length !== at(count)) throw new FrameError(`infer_shared with ${count} items needs ${at(count)} bytes, got ${p.length}`);
      const images: RawImage[] = [];
      const shared: { offset: number; size: number }[] = [];
      for (let i = 0; i < count; i++) {
        images.push(raw(at(i), new Uint8Array(0)));
        shared.push({ offset: p.readUInt32LE(at(i) + RAW_HEADER_BYTES), size: p.readUInt32LE(at(i) + RAW_HEADER_BYTES + 4) });
      }
      return { reqId, type, prefix: prefix(), images, shared };
    }
    default:
      throw new FrameError(`unknown message type 0x${(type as number).toString(16)}`);
  }
}
