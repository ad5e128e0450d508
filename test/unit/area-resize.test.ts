/**
 * DeepDanbooru's exact preprocessing: TF's AREA resize and skimage's centring warp, checked against values worked out
 * by hand from the definitions (box averages with fractional pixel weights; bilinear samples at half-pixel offsets).
 */
import { describe, expect, it } from 'vitest';
import { centreOnSquare, fitSize, resizeArea } from '../../src/tagger/area-resize.js';
import { preprocessImage } from '../../src/tagger/preprocess.js';
import { DEEPDANBOORU_RECIPE } from '../../src/tagger/recipe.js';
import { makePng } from '../helpers/images.js';

const limits = { maxPixels: 10_000_000 };

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  const off = expected.flatMap((e, i) => (Math.abs(actual[i]! - e) > tolerance ? [`[${i}] ${actual[i]} ≠ ${e}`] : []));
  expect(off).toEqual([]);
}

describe('resizeArea (TF resize_area)', () => {
  it('should weight the pixel a box edge cuts by the fraction inside it (3 → 2)', () => {
    // Scale 1.5: output 0 covers [0, 1.5) = pixel 0 whole + half of pixel 1; output 1 covers [1.5, 3).
    const sut = resizeArea([0, 30, 90], 3, 1, 1, 2, 1);

    expectClose(sut, [(0 + 0.5 * 30) / 1.5, (0.5 * 30 + 90) / 1.5]);
  });

  it('should multiply the row and column fractions in 2-D (3×3 → 2×2, three channels)', () => {
    const a = [10, 20, 40, 80, 160, 5, 7, 9, 250];
    const rgb = a.flatMap((v) => [v, 255 - v, v / 2]);
    // Row weights: output 0 → rows 0 (1), 1 (0.5); output 1 → rows 1 (0.5), 2 (1). Columns alike. Area 1.5².
    const w = [
      [1, 0.5, 0],
      [0, 0.5, 1],
    ];
    const expected: number[] = [];
    for (let oy = 0; oy < 2; oy++) {
      for (let ox = 0; ox < 2; ox++) {
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let y = 0; y < 3; y++)
            for (let x = 0; x < 3; x++) sum += w[oy]![y]! * w[ox]![x]! * rgb[(y * 3 + x) * 3 + c]!;
          expected.push(sum / 2.25);
        }
      }
    }

    expectClose(resizeArea(rgb, 3, 3, 3, 2, 2), expected);
  });

  it('should average whole blocks on an integer factor (4×2 → 2×1)', () => {
    const sut = resizeArea([1, 2, 3, 4, 5, 6, 7, 8], 4, 2, 1, 2, 1);

    expectClose(sut, [(1 + 2 + 5 + 6) / 4, (3 + 4 + 7 + 8) / 4]);
  });

  it('should blend only where an output box straddles two pixels when upscaling (2 → 3)', () => {
    // Scale 2/3: output 0 inside pixel 0, output 1 a third of each, output 2 inside pixel 1.
    const sut = resizeArea([30, 90], 2, 1, 1, 3, 1);

    expectClose(sut, [30, 60, 90]);
  });
});

describe('fitSize (tf.image.resize preserve_aspect_ratio)', () => {
  it.each([
    { width: 1000, height: 600, expected: { width: 512, height: 307 } }, // 600 · 0.512 = 307.2
    { width: 600, height: 1000, expected: { width: 307, height: 512 } },
    { width: 1024, height: 5, expected: { width: 512, height: 2 } }, // 2.5 rounds half to even
    { width: 1024, height: 7, expected: { width: 512, height: 4 } }, // 3.5 rounds half to even
    { width: 100, height: 50, expected: { width: 512, height: 256 } }, // small images are scaled up
    { width: 4000, height: 2, expected: { width: 512, height: 1 } }, // never 0
  ])('$width×$height → $expected.width×$expected.height', ({ width, height, expected }) => {
    expect(fitSize(width, height, 512)).toEqual(expected);
  });
});

describe('centreOnSquare (skimage warp, order 1, edge)', () => {
  it('should shift by half a pixel when the padding is odd, blending neighbouring rows', () => {
    // 1 wide × 2 high into 2 (one channel repeated ×3): dx = 0.5, dy = 0. Column 0 samples x = −0.5 (edge: pixel 0),
    // column 1 samples x = 0.5… but the image is one column wide, so every sample is that column.
    const image = Float32Array.from([10, 10, 10, 50, 50, 50]);
    const sut = centreOnSquare(image, 1, 2, 2, { mode: 'edge' });

    expectClose(sut, [10, 10, 10, 10, 10, 10, 50, 50, 50, 50, 50, 50]);
  });

  it('should sample between rows at y − 0.5 for a 3×2 image on a 3 square', () => {
    // dy = 1.5 − 1 = 0.5: row 0 → y −0.5 (edge: row 0), row 1 → y 0.5 (mean of rows 0, 1), row 2 → y 1.5 (row 1).
    const row0 = [0, 0, 0, 30, 30, 30, 60, 60, 60];
    const row1 = [90, 90, 90, 120, 120, 120, 150, 150, 150];
    const sut = centreOnSquare(Float32Array.from([...row0, ...row1]), 3, 2, 3, { mode: 'edge' });

    expectClose(sut, [...row0, ...row0.map((v, i) => (v + row1[i]!) / 2), ...row1]);
  });

  it('should blend with the fill colour in constant mode, clipped to the image range as skimage does', () => {
    const sut = centreOnSquare(Float32Array.from([200, 200, 200, 100, 100, 100]), 1, 2, 2, {
      mode: 'constant',
      fill: 0,
    });

    // dx = 0.5: column 0 samples x = −0.5, half fill and half pixel; column 1 samples x = 0.5, half pixel, half fill.
    // Row 0: (0 + 200) / 2 = 100; row 1: (0 + 100) / 2 = 50, below the image's minimum 100, so clipped to 100.
    expectClose(sut, [100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100]);
  });
});

describe('preprocessImage with the DeepDanbooru recipe (AREA)', () => {
  it('should resize a PNG by area, centre it with the half-pixel shift and divide by 255', async () => {
    // 4×2 into 2: scale 0.5 → 2×1, each pixel the mean of a 2×2 block; dy = 1 − 0.5 = 0.5 puts both rows of the
    // square at y = ∓0.5, which the edge mode reads as that one row.
    const px = (v: number) => [v, v + 1, 255 - v];
    const values = [0, 40, 100, 200, 20, 60, 120, 254];
    const png = await makePng(4, 2, values.flatMap(px));
    const left = (0 + 40 + 20 + 60) / 4;
    const right = (100 + 200 + 120 + 254) / 4;
    const row = [...px(left), ...px(right)].map((v) => v / 255);

    const sut = await preprocessImage(png, { ...DEEPDANBOORU_RECIPE, inputSize: 2 }, limits);

    expectClose(sut, [...row, ...row], 1e-6);
  });

  it('should refuse an image over the pixel limit before decoding it', async () => {
    const png = await makePng(40, 40, new Array(40 * 40).fill([1, 2, 3]).flat());

    await expect(preprocessImage(png, DEEPDANBOORU_RECIPE, { maxPixels: 1000 })).rejects.toMatchObject({
      code: 'MEDIA_TOO_LARGE',
    });
  });
});
