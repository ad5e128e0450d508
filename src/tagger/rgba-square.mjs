// Decoded RGBA → the packed RGB that a recipe's resize starts from, in one pass. Plain JavaScript because the WebP
// decode worker (webp-decode.worker.mjs) runs it beside the decode, off the main thread; types in rgba-square.d.mts.

/**
 * Alpha composited on white as libvips' `flatten` does it (`⌊(c·a + 255·(255 − a)) / 255⌋`, bit-exact) or dropped;
 * then, with a `padLevel`, the image placed in a centred square of its longest side filled with that grey level
 * (offsets floored, as PIL's `paste`). The same bytes as sharp's first pass in `preprocess.ts`. Pure.
 */
export function rgbaToRgb(rgba, width, height, { alpha, padLevel }) {
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`expected ${width * height * 4} RGBA bytes for ${width}×${height}, got ${rgba.length}`);
  }
  const side = Math.max(width, height);
  const [outWidth, outHeight] = padLevel === null ? [width, height] : [side, side];
  const left = Math.floor((outWidth - width) / 2);
  const top = Math.floor((outHeight - height) / 2);
  const data = new Uint8Array(outWidth * outHeight * 3);
  if (padLevel !== null && padLevel !== 0 && (outWidth !== width || outHeight !== height)) data.fill(padLevel);
  const flatten = alpha === 'white';
  for (let y = 0; y < height; y++) {
    let i = y * width * 4;
    let o = ((top + y) * outWidth + left) * 3;
    for (let x = 0; x < width; x++, i += 4, o += 3) {
      const a = rgba[i + 3];
      if (!flatten || a === 255) {
        data[o] = rgba[i];
        data[o + 1] = rgba[i + 1];
        data[o + 2] = rgba[i + 2];
      } else {
        const white = 255 * (255 - a);
        data[o] = ((rgba[i] * a + white) / 255) | 0;
        data[o + 1] = ((rgba[i + 1] * a + white) / 255) | 0;
        data[o + 2] = ((rgba[i + 2] * a + white) / 255) | 0;
      }
    }
  }
  return { data, width: outWidth, height: outHeight };
}
