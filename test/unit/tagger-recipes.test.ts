import { describe, expect, it } from 'vitest';
import { letterboxImage, preprocessImage } from '../../src/tagger/preprocess.js';
import { DEEPDANBOORU_RECIPE, type PreprocessRecipe, WD_RECIPE } from '../../src/tagger/recipe.js';
import { makePng, pseudoRandomBytes } from '../helpers/images.js';

const limits = { maxPixels: 10_000_000 };

/**
 * Independent reference of the DeepDanbooru layout for an image whose long side is already the input size (no
 * resize): alpha dropped, centred at floor offsets, edge pixels repeated into the padding, RGB, /255, NHWC.
 */
function referenceDeepDanbooru(width: number, height: number, rgba: readonly number[], size: number): Float32Array {
  const left = Math.floor((size - width) / 2);
  const top = Math.floor((size - height) / 2);
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max - 1);
  const out = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (clamp(y - top, height) * width + clamp(x - left, width)) * 4;
      for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = rgba[i + c]! / 255;
    }
  }
  return out;
}

function expectSame(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const differences: string[] = [];
  for (let i = 0; i < actual.length && differences.length < 5; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > 1e-6) differences.push(`[${i}] ${actual[i]} ≠ ${expected[i]}`);
  }
  expect(differences).toEqual([]);
}

describe('preprocessImage', () => {
  describe('DeepDanbooru recipe', () => {
    it.each([
      { width: 5, height: 2, case: 'wide: top 1, bottom 2 rows of edge' },
      { width: 1, height: 5, case: 'tall: left 2, right 2 columns of edge' },
      { width: 4, height: 3, case: 'wide, odd padding' },
    ])('should drop alpha, keep the colour under it and pad with the edge ($case)', async ({ width, height }) => {
      const rgba = Array.from(pseudoRandomBytes(width * height * 4, width * 31 + height));
      // Fully transparent pixels keep their colour: DeepDanbooru decodes 3 channels and never composites.
      for (let i = 3; i < rgba.length; i += 8) rgba[i] = 0;
      const png = await makePng(width, height, rgba, { channels: 4 });
      const size = Math.max(width, height);

      const sut = await preprocessImage(png, { ...DEEPDANBOORU_RECIPE, inputSize: size, resize: 'linear' }, limits);

      expectSame(sut, referenceDeepDanbooru(width, height, rgba, size));
    });

    it('should resize to fit first and pad afterwards, so the padding is never resized with the image', async () => {
      // 8×4 of one colour fitted into 4: becomes 4×2 of exactly that colour, then edge rows of the same colour.
      const png = await makePng(8, 4, new Array(8 * 4).fill([10, 120, 230]).flat());

      const rgb = await letterboxImage(png, { ...DEEPDANBOORU_RECIPE, inputSize: 4, resize: 'linear' }, limits);

      expect([...rgb]).toEqual(new Array(16).fill([10, 120, 230]).flat());
    });

    it('should pad a fitted image with white, not the edge, when the manifest says white', async () => {
      const png = await makePng(8, 4, new Array(8 * 4).fill([0, 0, 0]).flat());

      const rgb = await letterboxImage(
        png,
        { ...DEEPDANBOORU_RECIPE, inputSize: 4, pad: 'white', resize: 'linear' },
        limits,
      );

      // Rows 0 and 3 are padding (top = floor((4 − 2) / 2) = 1), rows 1 and 2 the black image.
      const rows = [0, 1, 2, 3].map((y) => [...rgb.subarray(y * 12, y * 12 + 12)]);
      expect(rows).toEqual([
        new Array(12).fill(255),
        new Array(12).fill(0),
        new Array(12).fill(0),
        new Array(12).fill(255),
      ]);
    });
  });

  describe('squish fit', () => {
    it('should stretch to the square ignoring the aspect, with no padding', async () => {
      // 4×1: red, green, blue, white. Nearest to 4×4 repeats the one row four times.
      const row = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
      const png = await makePng(4, 1, row);
      const recipe: PreprocessRecipe = { ...WD_RECIPE, fit: 'squish', resize: 'nearest', inputSize: 4 };

      const rgb = await letterboxImage(png, recipe, limits);

      expect([...rgb]).toEqual([...row, ...row, ...row, ...row]);
    });

    it('should composite alpha on white before squishing', async () => {
      const png = await makePng(2, 2, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], { channels: 4 });

      const rgb = await letterboxImage(png, { ...WD_RECIPE, fit: 'squish', inputSize: 3 }, limits);

      expect([...rgb]).toEqual(new Array(27).fill(255));
    });
  });
});
