/**
 * NSFWJS's input recipe, written out plainly so that a test can feed one identical tensor to TF.js and to
 * onnxruntime: decode (EXIF rotation, first frame, alpha flattened on white, sRGB), divide by 255, stretch the whole
 * image to size×size with bilinear interpolation and aligned corners (nsfwjs calls
 * `tf.image.resizeBilinear(img, [224, 224], true)`), NHWC RGB float32.
 */
import sharp from 'sharp';

/** Decodes an image file or buffer into `size × size × 3` float32 RGB values in 0–1. */
export async function imageToNsfwTensor(input: string | Uint8Array, size = 224): Promise<Float32Array> {
  const { data, info } = await sharp(input, { pages: 1 })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (data.length !== info.width * info.height * info.channels) throw new Error('expected 8-bit pixels from sharp');
  return resizeBilinearAligned(data, info.width, info.height, info.channels, size);
}

/**
 * Bilinear resize with aligned corners (the corner pixels of source and target coincide), of interleaved 8-bit
 * pixels into float32 RGB /255. Grey (1–2 channel) pixels are repeated into R, G and B.
 */
function resizeBilinearAligned(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  size: number,
): Float32Array {
  const out = new Float32Array(size * size * 3);
  const scaleY = size > 1 ? (height - 1) / (size - 1) : 0;
  const scaleX = size > 1 ? (width - 1) / (size - 1) : 0;
  const colour = channels >= 3 ? [0, 1, 2] : [0, 0, 0];
  for (let y = 0; y < size; y++) {
    const sy = y * scaleY;
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, height - 1);
    const fy = sy - y0;
    for (let x = 0; x < size; x++) {
      const sx = x * scaleX;
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, width - 1);
      const fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => pixels[(yy * width + xx) * channels + colour[c]!]! / 255;
        const top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx;
        const bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx;
        out[(y * size + x) * 3 + c] = top + (bottom - top) * fy;
      }
    }
  }
  return out;
}
