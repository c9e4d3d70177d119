/**
 * Reads an ONNX file's graph inputs and outputs (names and shapes) straight from its protobuf,
 * without a runtime, so a model's spec can be inferred before any runtime loads it.
 * Only the few fields needed are decoded; everything else (weights included) is skipped.
 */

export interface TensorInfo {
  name: string;
  /** Dimension sizes; -1 for a symbolic (dynamic) dimension. */
  dims: number[];
}

export interface OnnxGraphInfo {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

export class OnnxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxFormatError';
  }
}

class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, start: number, readonly end: number) {
    this.pos = start;
  }
  varint(): number {
    let result = 0;
    let shift = 1;
    for (;;) {
      if (this.pos >= this.end) throw new OnnxFormatError('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * shift;
      if (b < 0x80) return result;
      shift *= 128;
      if (shift > 2 ** 63) throw new OnnxFormatError('varint too long');
    }
  }
  /** Calls fn(field, wireType, reader-for-length-delimited) for each field. */
  fields(fn: (field: number, sub: Reader | undefined, value: number) => void): void {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (wire === 0) fn(field, undefined, this.varint());
      else if (wire === 2) {
        const len = this.varint();
        if (this.pos + len > this.end) throw new OnnxFormatError('truncated field');
        const sub = new Reader(this.buf, this.pos, this.pos + len);
        this.pos += len;
        fn(field, sub, 0);
      } else if (wire === 1) this.pos += 8;
      else if (wire === 5) this.pos += 4;
      else throw new OnnxFormatError(`unsupported wire type ${wire}`);
    }
  }
  string(): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, this.end - this.pos).toString('utf8');
  }
}

function readValueInfo(r: Reader): TensorInfo {
  let name = '';
  const dims: number[] = [];
  r.fields((f, sub) => {
    if (f === 1 && sub) name = sub.string();
    else if (f === 2 && sub) {
      // TypeProto.tensor_type (1) -> shape (2) -> dim (1) -> dim_value (1) | dim_param (2)
      sub.fields((tf, tensorType) => {
        if (tf !== 1 || !tensorType) return;
        tensorType.fields((sf, shape) => {
          if (sf !== 2 || !shape) return;
          shape.fields((df, dim) => {
            if (df !== 1 || !dim) return;
            let size = -1;
            dim.fields((vf, _s, value) => {
              if (vf === 1) size = value;
            });
            dims.push(size);
          });
        });
      });
    }
  });
  return { name, dims };
}

export function readOnnxInfo(bytes: Uint8Array): OnnxGraphInfo {
  const inputs: TensorInfo[] = [];
  const outputs: TensorInfo[] = [];
  const initializers = new Set<string>();
  let sawGraph = false;
  const parse = () => new Reader(bytes, 0, bytes.length).fields((f, graph) => {
    if (f !== 7 || !graph) return; // ModelProto.graph
    sawGraph = true;
    graph.fields((gf, sub) => {
      if (!sub) return;
      if (gf === 11) inputs.push(readValueInfo(sub));
      else if (gf === 12) outputs.push(readValueInfo(sub));
      else if (gf === 5) {
        sub.fields((tf, nameReader) => {
          if (tf === 8 && nameReader) initializers.add(nameReader.string()); // TensorProto.name
        });
      }
    });
  });
  try {
    parse();
  } catch (e) {
    throw new OnnxFormatError(`not an ONNX model (${(e as Error).message})`);
  }
  if (!sawGraph || !outputs.length) throw new OnnxFormatError('not an ONNX model (no graph outputs found)');
  // Older exporters list weights among the graph inputs too; the real inputs are the others.
  return { inputs: inputs.filter((i) => !initializers.has(i.name)), outputs };
}
