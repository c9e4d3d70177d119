/**
 * Writes one prepared frame (packed RGB bytes, HWC, pw x ph) into a float32 model input of
 * W x H at element offset `offset`, placing the image at (ox, oy) and the pad value elsewhere,
 * converting channel order, scale and layout in the same single pass. With `padDone`, the pad
 * area is left as it is: a reused buffer that last held a frame placed the same way has it already.
 *
 * This function runs inside the inference worker threads from its source text
 * (`fillTensor.toString()`), so it must stay self-contained: no imports, no outer variables.
 */
export function fillTensor(
  out: Float32Array, offset: number,
  pixels: Uint8Array, pw: number, ph: number, ox: number, oy: number,
  W: number, H: number, nchw: boolean, bgr: boolean, scale: number, padValue: number, padDone = false,
): void {
  const pad = padValue * scale;
  // Scaling through a 256-entry table is ~20% faster than a multiply per element in V8.
  const lut = new Float32Array(256);
  for (let i = 0; i < 256; i++) lut[i] = i * scale;
  const first = bgr ? 2 : 0;
  const third = bgr ? 0 : 2;
  if (nchw) {
    const plane = W * H;
    for (let y = 0; y < H; y++) {
      const row = offset + y * W;
      const sy = y - oy;
      if (sy < 0 || sy >= ph) {
        if (padDone) continue;
        out.fill(pad, row, row + W);
        out.fill(pad, row + plane, row + plane + W);
        out.fill(pad, row + 2 * plane, row + 2 * plane + W);
        continue;
      }
      for (let c = 0; c < 3 && !padDone; c++) {
        const p = row + c * plane;
        out.fill(pad, p, p + ox);
        out.fill(pad, p + ox + pw, p + W);
      }
      let s = sy * pw * 3;
      const d0 = row + ox;
      const d1 = d0 + plane;
      const d2 = d1 + plane;
      for (let x = 0; x < pw; x++, s += 3) {
        out[d0 + x] = lut[pixels[s + first]];
        out[d1 + x] = lut[pixels[s + 1]];
        out[d2 + x] = lut[pixels[s + third]];
      }
    }
    return;
  }
  for (let y = 0; y < H; y++) {
    const row = offset + y * W * 3;
    const sy = y - oy;
    if (sy < 0 || sy >= ph) {
      if (!padDone) out.fill(pad, row, row + W * 3);
      continue;
    }
    if (!padDone) {
      out.fill(pad, row, row + ox * 3);
      out.fill(pad, row + (ox + pw) * 3, row + W * 3);
    }
    let s = sy * pw * 3;
    let d = row + ox * 3;
    for (let x = 0; x < pw; x++, s += 3, d += 3) {
      out[d] = lut[pixels[s + first]];
      out[d + 1] = lut[pixels[s + 1]];
      out[d + 2] = lut[pixels[s + third]];
    }
  }
}
