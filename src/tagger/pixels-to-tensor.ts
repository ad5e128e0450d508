/** The last step of preprocessing: the model's square of packed RGB bytes → the recipe's float tensor. */
import type { PreprocessRecipe } from './recipe.js';

/**
 * Packed RGB bytes (`inputSize² × 3`) → the tensor the recipe asks for: channel order, layout (NHWC or NCHW), scale
 * (0–255 or /255) and optional mean/std (given in RGB order, in scaled units). Written into `into` when it is given
 * and of the tensor's length (a recycled tensor), else into a new array. Pure apart from `into`.
 */
export function pixelsToTensor(rgb: ArrayLike<number>, recipe: PreprocessRecipe, into?: Float32Array): Float32Array {
  const pixels = recipe.inputSize * recipe.inputSize;
  if (rgb.length !== pixels * 3) {
    throw new RangeError(`expected ${pixels * 3} RGB bytes for ${recipe.inputSize}², got ${rgb.length}`);
  }
  // source[c] is the RGB channel that tensor channel c reads.
  const source = recipe.channels === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const divisor = recipe.scale === '0-1' ? 255 : 1;
  const mean = source.map((s) => recipe.mean?.[s] ?? 0);
  const std = source.map((s) => recipe.std?.[s] ?? 1);
  const value = (x: number, c: number) => (x / divisor - mean[c]!) / std[c]!;
  // Every value is written below, so a recycled array needs no clearing.
  const out = into?.length === pixels * 3 ? into : new Float32Array(pixels * 3);
  // NHWC: pixel p's channel c at p*3+c; NCHW: plane c, pixel p at c*pixels+p.
  const [stride, planes] = recipe.layout === 'NHWC' ? [3, 1] : [1, pixels];
  if (rgb instanceof Uint8Array) {
    // 8-bit pixels (sharp's output): one table per channel holds the exact float32 of each of the 256 values, so a
    // single pass of lookups gives the same tensor as the formula, about five times faster (~1 ms for 448²).
    const tables = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, x) => value(x, c)));
    const [t0, t1, t2] = tables as [Float32Array, Float32Array, Float32Array];
    const [f0, f1, f2] = source as [number, number, number];
    for (let p = 0, i = 0; p < pixels; p++, i += 3) {
      const o = p * stride;
      out[o] = t0[rgb[i + f0]!]!;
      out[o + planes] = t1[rgb[i + f1]!]!;
      out[o + 2 * planes] = t2[rgb[i + f2]!]!;
    }
    return out;
  }
  for (let c = 0; c < 3; c++) {
    const from = source[c]!;
    const base = c * planes;
    for (let p = 0; p < pixels; p++) out[base + p * stride] = value(rgb[p * 3 + from]!, c);
  }
  return out;
}
