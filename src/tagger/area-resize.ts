/**
 * DeepDanbooru's exact preprocessing (`load_image_for_evaluate`): TensorFlow's `tf.image.resize(method=AREA,
 * preserve_aspect_ratio=True)` to fit the square, then `transform_and_pad_image` (skimage `warp`, bilinear,
 * `mode='edge'`) to centre it on the square, then /255. The pixels stay float from the resize on, as in TF: nothing
 * is rounded to 8 bits between the steps.
 *
 * AREA is TF's `resize_area` kernel (tensorflow/core/kernels/image/resize_area_op.cc): output pixel (y, x) is the
 * mean of the input over the box [y·s, (y+1)·s) × [x·t, (x+1)·t) with s = in/out per axis, each input pixel
 * weighted by the fraction of it inside the box. Scales and box edges are float32 as in TF, so the same input pixels
 * take part; the sums here are float64. An upscale (a small image) goes through the same formula, as in TF.
 *
 * Memory: the decoded image (3 bytes a pixel, refused above the pixel limit before decoding) plus O(output). The
 * resize is separable and runs input row by input row, so no float copy of the full-size image is ever made.
 * Shrink-on-load was considered and not used: libvips' JPEG shrink-on-load (DCT scaling) and `shrink` (rounded to
 * 8 bits) are not box averages, so they would change the result.
 */
import { AppError } from '../shared/errors.js';
import type { PreprocessRecipe } from './recipe.js';

const f32 = Math.fround;

/** Round half to even, as `tf.math.round`. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The size `tf.image.resize(size=(target, target), preserve_aspect_ratio=True)` gives a `width`×`height` image:
 * scale = min(target/height, target/width) in float32, each side round-half-even(scale·side), at least 1.
 */
export function fitSize(width: number, height: number, target: number): { width: number; height: number } {
  const scale = Math.min(f32(target / height), f32(target / width));
  return {
    width: Math.max(1, roundHalfEven(f32(scale * width))),
    height: Math.max(1, roundHalfEven(f32(scale * height))),
  };
}

/**
 * Each output index's contributing input indices (clamped to the last one, as TF's bound does) and weights (TF's
 * `scale_y` / `scale_x`), flat: output o uses entries `offsets[o]` to `offsets[o + 1]`.
 */
interface AreaSpans {
  offsets: Int32Array;
  indices: Int32Array;
  weights: Float64Array;
}

function areaSpans(inSize: number, outSize: number): AreaSpans {
  const scale = f32(inSize / outSize);
  const offsets = new Int32Array(outSize + 1);
  const indices: number[] = [];
  const weights: number[] = [];
  for (let o = 0; o < outSize; o++) {
    const in0 = f32(o * scale);
    const in1 = f32((o + 1) * scale);
    for (let i = Math.floor(in0); i < Math.ceil(in1); i++) {
      indices.push(Math.min(i, inSize - 1));
      weights.push(i < in0 ? (i + 1 > in1 ? scale : f32(i + 1 - in0)) : i + 1 > in1 ? f32(in1 - i) : 1);
    }
    offsets[o + 1] = indices.length;
  }
  return { offsets, indices: Int32Array.from(indices), weights: Float64Array.from(weights) };
}

/**
 * TF `resize_area` (align_corners false) of packed pixels, `channels` per pixel → float32 `outWidth × outHeight ×
 * channels`, in the input's units. Runs input row by input row: each row is resized horizontally once and added
 * into the output rows it feeds.
 */
export function resizeArea(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
): Float32Array {
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`expected ${width * height * channels} values for ${width}×${height}×${channels}`);
  }
  const xs = areaSpans(width, outWidth);
  const ys = areaSpans(height, outHeight);
  // TF: float scale = 1.0 / (height_scale * width_scale), the product in float32.
  const norm = f32(1 / f32(f32(height / outHeight) * f32(width / outWidth)));
  const out = new Float32Array(outWidth * outHeight * channels);
  const rowLength = outWidth * channels;
  const rowSum = new Float64Array(rowLength);
  const accumulator = new Float64Array(rowLength);
  let cachedRow = -1;
  for (let y = 0; y < outHeight; y++) {
    accumulator.fill(0);
    for (let k = ys.offsets[y]!; k < ys.offsets[y + 1]!; k++) {
      const row = ys.indices[k]!;
      if (row !== cachedRow) {
        cachedRow = row;
        const base = row * width * channels;
        for (let x = 0; x < outWidth; x++) {
          for (let c = 0; c < channels; c++) {
            let sum = 0;
            for (let j = xs.offsets[x]!; j < xs.offsets[x + 1]!; j++) {
              sum += pixels[base + xs.indices[j]! * channels + c]! * xs.weights[j]!;
            }
            rowSum[x * channels + c] = sum;
          }
        }
      }
      const w = ys.weights[k]!;
      for (let i = 0; i < rowLength; i++) accumulator[i]! += rowSum[i]! * w;
    }
    const base = y * rowLength;
    for (let i = 0; i < rowLength; i++) out[base + i] = accumulator[i]! * norm;
  }
  return out;
}

/** Bilinear taps along one axis: the two input indices (−1 = outside, reads the fill) and the second's weight. */
function bilinearTaps(outSize: number, inSize: number, shift: number, edge: boolean) {
  const first = new Int32Array(outSize);
  const second = new Int32Array(outSize);
  const fraction = new Float64Array(outSize);
  const place = (i: number) => (edge ? Math.min(Math.max(i, 0), inSize - 1) : i < 0 || i >= inSize ? -1 : i);
  for (let o = 0; o < outSize; o++) {
    const at = o - shift;
    const i0 = Math.floor(at);
    first[o] = place(i0);
    second[o] = place(i0 + 1);
    fraction[o] = at - i0;
  }
  return { first, second, fraction };
}

/**
 * skimage `warp(image, translation.inverse, output_shape=(size, size), order=1, mode=...)` with the translation
 * `transform_and_pad_image` builds: the image's centre onto the square's, i.e. input = output − (size/2 − side/2)
 * per axis, a half-pixel shift when the difference is odd. Bilinear; outside the image `edge` clamps to the nearest
 * pixel (ndimage `nearest`), a constant fills with `fill`. Clipped to the input's range as skimage's `clip=True` does
 * (which lets a pixel that is pure fill keep it).
 */
export function centreOnSquare(
  pixels: Float32Array,
  width: number,
  height: number,
  size: number,
  pad: { mode: 'edge' } | { mode: 'constant'; fill: number },
): Float32Array {
  const channels = 3;
  const edge = pad.mode === 'edge';
  const fill = pad.mode === 'constant' ? pad.fill : Number.NaN;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of pixels) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  // skimage's _clip_warp_output: clip to the input's range, but a pure fill pixel keeps a fill outside that range.
  const keepFill = fill < min || fill > max;
  const xs = bilinearTaps(size, width, size / 2 - width / 2, edge);
  const ys = bilinearTaps(size, height, size / 2 - height / 2, edge);
  const read = (iy: number, ix: number, c: number) =>
    iy < 0 || ix < 0 ? fill : pixels[(iy * width + ix) * channels + c]!;
  const out = new Float32Array(size * size * channels);
  for (let oy = 0; oy < size; oy++) {
    const ya = ys.first[oy]!;
    const yb = ys.second[oy]!;
    const fy = ys.fraction[oy]!;
    for (let ox = 0; ox < size; ox++) {
      const xa = xs.first[ox]!;
      const xb = xs.second[ox]!;
      const fx = xs.fraction[ox]!;
      for (let c = 0; c < channels; c++) {
        const top = read(ya, xa, c) * (1 - fx) + read(ya, xb, c) * fx;
        const bottom = read(yb, xa, c) * (1 - fx) + read(yb, xb, c) * fx;
        const value = top * (1 - fy) + bottom * fy;
        out[(oy * size + ox) * channels + c] = keepFill && value === fill ? value : Math.min(max, Math.max(min, value));
      }
    }
  }
  return out;
}

/**
 * Decoded RGB (0–255) → the model's square as float RGB 0–255, DeepDanbooru's way: `contain` fits with AREA and
 * centres with {@link centreOnSquare}; `squish` resizes with AREA straight to the square.
 */
export function areaSquare(
  rgb: Uint8Array,
  width: number,
  height: number,
  recipe: Pick<PreprocessRecipe, 'inputSize' | 'fit' | 'pad'>,
): Float32Array {
  const size = recipe.inputSize;
  const fill = recipe.pad === 'black' ? 0 : 255;
  if (recipe.fit === 'squish') return resizeArea(rgb, width, height, 3, size, size);
  if (recipe.fit === 'contain') {
    const fit = fitSize(width, height, size);
    const resized = resizeArea(rgb, width, height, 3, fit.width, fit.height);
    return centreOnSquare(
      resized,
      fit.width,
      fit.height,
      size,
      recipe.pad === 'edge' ? { mode: 'edge' } : { mode: 'constant', fill },
    );
  }
  // 'pad' would resize a padded full-size copy: a second full-size buffer for no model that wants it.
  throw new AppError('MODEL_INVALID', "resize 'area' works with fit 'contain' or 'squish', not 'pad'");
}
