/**
 * Small images made in tests, and an independent, per-pixel reference of the WD preprocessing to check tensors
 * against. The reference is written the slow, obvious way on purpose.
 */
import sharp from 'sharp';

export type Rgb = readonly [number, number, number];

/** A lossless PNG from packed pixels (3 or 4 channels), optionally with an EXIF orientation. */
export async function makePng(
  width: number,
  height: number,
  pixels: readonly number[] | Uint8Array,
  options: { channels?: 3 | 4; orientation?: number } = {},
): Promise<Buffer> {
  const channels = options.channels ?? 3;
  let image = sharp(Buffer.from(pixels), { raw: { width, height, channels } });
  if (options.orientation !== undefined) image = image.withMetadata({ orientation: options.orientation });
  return image.png().toBuffer();
}

/** A solid-colour PNG. */
export function makeSolidPng(width: number, height: number, [r, g, b]: Rgb): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

/** A PNG whose left `split` columns are `left` and the rest `right`. */
export function makeTwoTonePng(width: number, height: number, split: number, left: Rgb, right: Rgb): Promise<Buffer> {
  const pixels: number[] = [];
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels.push(...(x < split ? left : right));
  return makePng(width, height, pixels);
}

/** Deterministic pseudo-random bytes (a linear congruential generator), so tests never depend on Math.random. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

/**
 * The WD reference (`prepare_image`) for the case where no resize happens: composite RGBA on white, paste at
 * (floor((side−w)/2), floor((side−h)/2)) on a white side×side square, BGR, float 0–255, NHWC.
 */
export function referenceWdTensor(width: number, height: number, rgba: readonly number[]): Float32Array {
  const side = Math.max(width, height);
  const left = Math.floor((side - width) / 2);
  const top = Math.floor((side - height) / 2);
  const out = new Float32Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let rgb: Rgb = [255, 255, 255];
      const sx = x - left;
      const sy = y - top;
      if (sx >= 0 && sx < width && sy >= 0 && sy < height) {
        const i = (sy * width + sx) * 4;
        const a = rgba[i + 3]! / 255;
        const over = (c: number) => Math.round(c * a + 255 * (1 - a));
        rgb = [over(rgba[i]!), over(rgba[i + 1]!), over(rgba[i + 2]!)];
      }
      const o = (y * side + x) * 3;
      out[o] = rgb[2];
      out[o + 1] = rgb[1];
      out[o + 2] = rgb[0];
    }
  }
  return out;
}

/** Mean of each channel of an NHWC tensor of one image, in the tensor's channel order, in float64. */
export function channelMeans(tensor: Float32Array): [number, number, number] {
  const sums = [0, 0, 0];
  for (let i = 0; i < tensor.length; i++) sums[i % 3]! += tensor[i]!;
  const pixels = tensor.length / 3;
  return [sums[0]! / pixels, sums[1]! / pixels, sums[2]! / pixels];
}
