import { describe, expect, it, vi } from 'vitest';
import { EvalError, specAtSize } from '../../src/eval/run-eval';
import { catalogEntry } from '../../src/models/catalog';

// The graph's input shape is all that decides whether --input-size can apply; fake it here
// (the shared models both have fixed sizes, and a dynamic-size copy would mean committing a model).
const dims = vi.hoisted(() => ({ value: [1, 3, -1, -1] }));
vi.mock('../../src/models/onnx-info', () => ({ readOnnxInfo: () => ({ inputs: [{ name: 'images', dims: dims.value }], outputs: [] }) }));
vi.mock('fs', async (original) => {
  const fs = await original<typeof import('fs')>();
  return { ...fs, default: { ...fs, readFileSync: (p: string, ...rest: unknown[]) => (p === 'model.onnx' ? new Uint8Array(1) : (fs.readFileSync as (...a: unknown[]) => unknown)(p, ...rest)) } };
});

const yolox = catalogEntry('yolox_nano')!.spec;

describe('--input-size', () => {
  it('resizes the spec of a model with dynamic height and width (the YOLOX grid follows the spec)', () => {
    dims.value = [1, 3, -1, -1];
    const spec = specAtSize('model.onnx', yolox, 320);
    expect(spec.input).toMatchObject({ width: 320, height: 320, channelOrder: 'bgr', placement: 'top-left' });
    expect(yolox.input.width).toBe(416); // the catalog's spec is not changed
  });

  it('is a no-op at the model\'s own size, even for a fixed-size model', () => {
    dims.value = [1, 3, 416, 416];
    expect(specAtSize('model.onnx', yolox, 416)).toBe(yolox);
  });

  it('refuses another size for a fixed-size model, naming the shape', () => {
    dims.value = [1, 3, 416, 416];
    expect(() => specAtSize('model.onnx', yolox, 640)).toThrow(EvalError);
    expect(() => specAtSize('model.onnx', yolox, 640)).toThrow(/fixed 416x416 input .*\[1, 3, 416, 416\].*--input-size 640 cannot be used/);
  });

  it('refuses a size the model\'s strides do not divide', () => {
    dims.value = [1, 3, -1, -1];
    expect(() => specAtSize('model.onnx', yolox, 300)).toThrow(/--input-size 300 does not suit yolox_nano: .*strides/);
  });
});
