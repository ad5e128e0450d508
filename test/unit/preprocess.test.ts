import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/errors.js';
import { pixelsToTensor } from '../../src/tagger/pixels-to-tensor.js';
import { letterboxImage, preprocessImage } from '../../src/tagger/preprocess.js';
import { type PreprocessRecipe, WD_RECIPE } from '../../src/tagger/recipe.js';
import {
  channelMeans,
  makePng,
  makeSolidPng,
  makeTwoTonePng,
  pseudoRandomBytes,
  referenceWdTensor,
} from '../helpers/images.js';

const limits = { maxPixels: 10_000_000 };

function wdRecipe(overrides: Partial<PreprocessRecipe> = {}): PreprocessRecipe {
  return { ...WD_RECIPE, ...overrides };
}

/** Adds an opaque alpha channel to packed RGB. */
function opaque(rgb: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < rgb.length; i += 3) out.push(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!, 255);
  return out;
}

/** Element-wise equality that stays fast on 600,000 values and reports the first few differences. */
function expectSameValues(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const differences: string[] = [];
  for (let i = 0; i < actual.length && differences.length < 5; i++) {
    if (actual[i] !== expected[i]) differences.push(`[${i}] ${actual[i]} ≠ ${expected[i]}`);
  }
  expect(differences).toEqual([]);
}

async function expectMediaError(promise: Promise<unknown>, code: AppError['code']): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

describe('preprocessImage', () => {
  describe('WD recipe', () => {
    it('should composite alpha on white, pad to a centred white square and order channels BGR', async () => {
      // 3×2 RGBA; alphas 255, 0, 51 (0.2) and 102 (0.4) give exact integers after compositing on white.
      const rgba = [255, 0, 0, 255, 0, 255, 0, 0, 100, 150, 200, 51, 10, 20, 30, 255, 5, 50, 250, 102, 1, 2, 3, 255];
      const png = await makePng(3, 2, rgba, { channels: 4 });

      const sut = await preprocessImage(png, wdRecipe({ inputSize: 3 }), limits);

      expectSameValues(sut, referenceWdTensor(3, 2, rgba));
      // Spot-check the reference itself: pixel (1, 0) is fully transparent green → white; row 2 is padding.
      expect(Array.from(sut.subarray(3, 6))).toEqual([255, 255, 255]);
      expect(Array.from(sut.subarray(6, 9))).toEqual([244, 234, 224]);
      expect(Array.from(sut.subarray(18, 27))).toEqual(new Array(9).fill(255));
    });

    it('should return the pixels unchanged in BGR float when the image is already square at the input size', async () => {
      const size = 448;
      const rgb = Array.from(pseudoRandomBytes(size * size * 3, 7));
      const png = await makePng(size, size, rgb);

      const sut = await preprocessImage(png, WD_RECIPE, limits);

      expect(sut).toBeInstanceOf(Float32Array);
      expect(sut.length).toBe(size * size * 3);
      expectSameValues(sut, referenceWdTensor(size, size, opaque(rgb)));
    });

    it.each([
      { width: 1, height: 4, case: 'tall, odd padding (left 1, right 2)' },
      { width: 5, height: 2, case: 'wide, odd padding (top 1, bottom 2)' },
      { width: 2, height: 3, case: 'tall, padding 0 left and 1 right' },
    ])('should pad a $case with the image at floor((side − size) / 2)', async ({ width, height }) => {
      const rgb = Array.from(pseudoRandomBytes(width * height * 3, width * 10 + height));
      const png = await makePng(width, height, rgb);

      const sut = await preprocessImage(png, wdRecipe({ inputSize: Math.max(width, height) }), limits);

      expectSameValues(sut, referenceWdTensor(width, height, opaque(rgb)));
    });

    it('should apply the EXIF orientation before padding', async () => {
      // Stored 3 wide × 2 high, orientation 6 (rotate 90° clockwise to display): displayed 2 wide × 3 high.
      const stored = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90];
      const png = await makePng(3, 2, stored, { orientation: 6 });
      const displayed: number[] = [];
      for (let y = 0; y < 3; y++) {
        for (let x = 0; x < 2; x++) {
          // Rotating 90° clockwise: displayed (x, y) comes from stored (y, 1 − x).
          const i = ((1 - x) * 3 + y) * 3;
          displayed.push(stored[i]!, stored[i + 1]!, stored[i + 2]!);
        }
      }

      const sut = await preprocessImage(png, wdRecipe({ inputSize: 3 }), limits);

      expectSameValues(sut, referenceWdTensor(2, 3, opaque(displayed)));
    });

    it('should resize a square image to the input size, keeping a solid colour exact', async () => {
      const png = await makeSolidPng(40, 40, [10, 100, 200]);

      const sut = await preprocessImage(png, wdRecipe({ inputSize: 8 }), limits);

      expect(sut.length).toBe(8 * 8 * 3);
      expect(channelMeans(sut)).toEqual([200, 100, 10]);
    });

    it('should pad before resizing, so the padding is resized with the image', async () => {
      const png = await makeSolidPng(40, 20, [10, 100, 200]);

      const sut = await preprocessImage(png, wdRecipe({ inputSize: 8 }), limits);

      // 40×20 pads to 40×40 (rows 0–9 and 30–39 white), then shrinks 5×: each output row is uniform, the outer rows
      // stay white, and the rows are symmetric about the centre (the kernel blends white into rows 1–2 and 5–6).
      const row = (y: number) => Array.from(sut.subarray(y * 24, y * 24 + 3));
      for (let y = 0; y < 8; y++) {
        for (let x = 1; x < 8; x++)
          expect(Array.from(sut.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3))).toEqual(row(y));
        expect(row(y)).toEqual(row(7 - y));
      }
      expect(row(0)).toEqual([255, 255, 255]);
      const colour = [200, 100, 10];
      for (const [c, value] of row(3).entries()) expect(Math.abs(value - colour[c]!)).toBeLessThanOrEqual(5);
    });

    it('should keep the channel means of a two-tone image through the resize', async () => {
      const png = await makeTwoTonePng(200, 200, 100, [255, 0, 0], [0, 0, 255]);

      const sut = await preprocessImage(png, WD_RECIPE, limits);

      const [b, g, r] = channelMeans(sut);
      expect(b).toBeCloseTo(127.5, 0);
      expect(g).toBeCloseTo(0, 0);
      expect(r).toBeCloseTo(127.5, 0);
    });

    it('should use the first frame of an animation', async () => {
      const { default: sharp } = await import('sharp');
      const red = await makeSolidPng(4, 4, [255, 0, 0]);
      const blue = await makeSolidPng(4, 4, [0, 0, 255]);
      const gif = await sharp([red, blue], { join: { animated: true } })
        .gif()
        .toBuffer();

      const sut = await preprocessImage(gif, wdRecipe({ inputSize: 4 }), limits);

      expect(channelMeans(sut)).toEqual([0, 0, 255]);
    });
  });

  describe('other recipes', () => {
    it('should pad with black when the recipe says so', async () => {
      const png = await makeSolidPng(1, 3, [10, 20, 30]);

      const sut = await preprocessImage(png, wdRecipe({ inputSize: 3, pad: 'black', channels: 'RGB' }), limits);

      expect(Array.from(sut.subarray(0, 9))).toEqual([0, 0, 0, 10, 20, 30, 0, 0, 0]);
    });

    it('should repeat the edge pixels when the recipe pads with the edge', async () => {
      const png = await makePng(1, 2, [10, 20, 30, 40, 50, 60]);

      const sut = await letterboxImage(png, wdRecipe({ inputSize: 2, pad: 'edge' }), limits);

      // 1×2 pads to 2×2 with one column on the right (left offset floor(1/2) = 0).
      expect(Array.from(sut)).toEqual([10, 20, 30, 10, 20, 30, 40, 50, 60, 40, 50, 60]);
    });
  });

  describe('errors', () => {
    it('should reject 0 bytes with MEDIA_CORRUPT', async () => {
      const error = await expectMediaError(preprocessImage(Buffer.alloc(0), WD_RECIPE, limits), 'MEDIA_CORRUPT');
      expect(error.message).toMatch(/empty/);
    });

    it('should reject bytes that are no image with MEDIA_CORRUPT', async () => {
      const garbage = Buffer.from(pseudoRandomBytes(2048, 3));

      await expectMediaError(preprocessImage(garbage, WD_RECIPE, limits), 'MEDIA_CORRUPT');
    });

    it('should reject a truncated image with MEDIA_CORRUPT', async () => {
      const png = await makePng(64, 64, Array.from(pseudoRandomBytes(64 * 64 * 3, 5)));

      const error = await expectMediaError(
        preprocessImage(png.subarray(0, png.length / 2), WD_RECIPE, limits),
        'MEDIA_CORRUPT',
      );
      expect(error.message).toMatch(/cannot be decoded/);
    });

    it('should reject an image over maxPixels with MEDIA_TOO_LARGE', async () => {
      const png = await makeSolidPng(200, 100, [1, 2, 3]);

      const error = await expectMediaError(
        preprocessImage(png, WD_RECIPE, { maxPixels: 200 * 100 - 1 }),
        'MEDIA_TOO_LARGE',
      );
      expect(error.message).toMatch(/too large/);
    });

    it('should reject a video container with MEDIA_UNSUPPORTED', async () => {
      const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(64)]);

      const error = await expectMediaError(preprocessImage(mp4, WD_RECIPE, limits), 'MEDIA_UNSUPPORTED');
      expect(error.message).toMatch(/video/);
    });
  });
});

describe('pixelsToTensor', () => {
  // 2×2 RGB: red, green / blue, grey.
  const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 51, 102, 153]);

  it('should write NHWC BGR 0–255 for the WD recipe', () => {
    const sut = pixelsToTensor(rgb, wdRecipe({ inputSize: 2 }));

    expect(Array.from(sut)).toEqual([0, 0, 255, 0, 255, 0, 255, 0, 0, 153, 102, 51]);
  });

  it('should write NCHW RGB planes scaled to 0–1', () => {
    const sut = pixelsToTensor(rgb, wdRecipe({ inputSize: 2, layout: 'NCHW', channels: 'RGB', scale: '0-1' }));

    const expected = [
      [255, 0, 0, 51],
      [0, 255, 0, 102],
      [0, 0, 255, 153],
    ].flatMap((plane) => plane.map((v) => Math.fround(v / 255)));
    expect(Array.from(sut)).toEqual(expected);
  });

  it('should subtract the mean and divide by the std per channel, given in RGB order', () => {
    const recipe = wdRecipe({
      inputSize: 2,
      layout: 'NCHW',
      channels: 'BGR',
      scale: '0-255',
      mean: [100, 50, 0],
      std: [1, 2, 4],
    });

    const sut = pixelsToTensor(rgb, recipe);

    // Plane 0 is blue (mean 0, std 4), plane 1 green (50, 2), plane 2 red (100, 1).
    expect(Array.from(sut)).toEqual([0, 0, 255 / 4, 153 / 4, -25, 102.5, -25, 26, 155, -100, -100, -49]);
  });

  it.each([
    ['NHWC', 'BGR', '0-255', undefined, undefined],
    ['NCHW', 'RGB', '0-1', [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]],
    ['NHWC', 'RGB', '0-1', [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]],
    ['NCHW', 'BGR', '0-255', [103.9, 116.8, 123.7], undefined],
  ] as const)(
    'should give 8-bit pixels exactly the tensor the formula gives (%s %s %s)',
    (layout, channels, scale, mean, std) => {
      const recipe = wdRecipe({
        inputSize: 16,
        layout,
        channels,
        scale,
        ...(mean ? { mean } : {}),
        ...(std ? { std } : {}),
      });
      let seed = 7;
      const bytes = Uint8Array.from({ length: 16 * 16 * 3 }, () => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed >> 23;
      });

      // A plain array takes the formula path; the same values as bytes take the lookup-table path.
      expect(Array.from(pixelsToTensor(bytes, recipe))).toEqual(Array.from(pixelsToTensor(Array.from(bytes), recipe)));
    },
  );

  it('should refuse pixels of the wrong length', () => {
    expect(() => pixelsToTensor(rgb, wdRecipe({ inputSize: 3 }))).toThrow(RangeError);
  });
});

// Danbooru's own media test set, with Danbooru's verdict per file (../shared, absent on a plain clone).
const mediaDir = fileURLToPath(new URL('../../../shared/fixtures/media/', import.meta.url));
const expectedTsv = `${mediaDir}danbooru_EXPECTED.tsv`;
const haveFixtures = existsSync(expectedTsv);

describe('preprocessImage on Danbooru media fixtures', () => {
  if (!haveFixtures) {
    it.skip(`should match Danbooru's verdicts (skipped: ${expectedTsv} is absent)`, () => {});
    return;
  }

  it('should decode every supported, intact still image and refuse every corrupt file or video with a media code', async () => {
    const rows = (await readFile(expectedTsv, 'utf8'))
      .split('\n')
      .filter((line) => line.startsWith('media/danbooru/'))
      .map((line) => line.split('\t'));
    expect(rows.length).toBeGreaterThan(50);

    const mismatches: string[] = [];
    for (const [path, , , , mime, corrupt, supported] of rows) {
      const bytes = await readFile(`${mediaDir}${path!.slice('media/'.length)}`);
      const isStillImage = mime!.startsWith('image/');
      const shouldDecode = isStillImage && corrupt === 'false' && supported === 'true';
      // Danbooru refuses some AVIF features (grids, crops, mirrors) that sharp decodes: either outcome is fine.
      const eitherWay = isStillImage && corrupt === 'false' && supported === 'false';
      const outcome = await preprocessImage(bytes, wdRecipe({ inputSize: 64 }), limits).then(
        (tensor) => (tensor.length === 64 * 64 * 3 ? 'ok' : 'wrong length'),
        (error: unknown) => (error instanceof AppError && error.code.startsWith('MEDIA_') ? 'refused' : String(error)),
      );
      if (eitherWay ? outcome !== 'ok' && outcome !== 'refused' : outcome !== (shouldDecode ? 'ok' : 'refused'))
        mismatches.push(`${path}: ${outcome}`);
    }
    expect(mismatches).toEqual([]);
  });
});
