/**
 * The WebP fast path (`webp-decoder.ts`: libwebp in WebAssembly, in worker threads; `rgba-square.mjs`): the same
 * bytes as sharp's own loader for every recipe shape, sharp for every WebP it must not take (animation, EXIF
 * orientation, ICC profile, too large, undecodable), and a decoder that survives bad files and overruns.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/errors.js';
import { FAST_WEBP_MAX_PIXELS, letterboxImage } from '../../src/tagger/preprocess.js';
import { DEEPDANBOORU_RECIPE, type PreprocessRecipe, WD_RECIPE } from '../../src/tagger/recipe.js';
import { rgbaToRgb } from '../../src/tagger/rgba-square.mjs';
import { WebpDecoder, webpDecoder } from '../../src/tagger/webp-decoder.js';
import { pseudoRandomBytes } from '../helpers/images.js';

const limits = { maxPixels: 100_000_000 };

/** A WebP of random 4-px blocks (edges for the resize to blend), with a varying alpha when `alpha`. */
async function blockyWebp(
  width: number,
  height: number,
  options: { seed: number; alpha?: boolean; lossless?: boolean },
): Promise<Buffer> {
  const channels = options.alpha ? 4 : 3;
  const [bw, bh] = [Math.ceil(width / 4), Math.ceil(height / 4)];
  const blocks = pseudoRandomBytes(bw * bh * channels, options.seed);
  return sharp(Buffer.from(blocks), { raw: { width: bw, height: bh, channels } })
    .resize(bw * 4, bh * 4, { kernel: 'nearest' })
    .extract({ left: 0, top: 0, width, height })
    .webp({ quality: 90, lossless: options.lossless ?? false, alphaQuality: 100 })
    .toBuffer();
}

/** Both paths' bytes for `bytes` under `recipe`: the fast path's and sharp's alone. */
async function bothPaths(bytes: Buffer, recipe: PreprocessRecipe): Promise<[Buffer, Buffer]> {
  return Promise.all([
    letterboxImage(bytes, recipe, limits),
    letterboxImage(bytes, recipe, { ...limits, fastWebp: false }),
  ]);
}

/** `bothPaths`, checking that the fast path did decode the file (it falls back to sharp silently). */
async function bothPathsFast(bytes: Buffer, recipe: PreprocessRecipe): Promise<[Buffer, Buffer]> {
  const before = webpDecoder().decoded;
  const both = await bothPaths(bytes, recipe);
  expect(webpDecoder().decoded).toBe(before + 1);
  return both;
}

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (error: unknown) => error,
  );
}

describe('WebP fast path', () => {
  // Until a worker has started, sharp decodes (start-up): these tests are about the worker's path.
  beforeAll(() => webpDecoder().warmUp());

  describe('same bytes as sharp', () => {
    const shapes: Array<[string, number, number]> = [
      ['a 720 px portrait sample', 469, 720],
      ['a 720 px landscape sample', 720, 405],
      ['an odd-sized image (floored offsets)', 301, 188],
      ['a square already at the input size', 64, 64],
      ['a 1 px wide strip', 1, 37],
      ['a single pixel', 1, 1],
    ];
    const recipes: Array<[string, PreprocessRecipe]> = [
      ['WD (pad on white, bicubic)', { ...WD_RECIPE, inputSize: 64 }],
      [
        'pad on black, alpha dropped, lanczos3',
        { ...WD_RECIPE, inputSize: 48, pad: 'black', alpha: 'drop', resize: 'lanczos3' },
      ],
      ['contain on white', { ...WD_RECIPE, inputSize: 56, fit: 'contain' }],
      ['squish', { ...WD_RECIPE, inputSize: 40, fit: 'squish' }],
    ];
    for (const [shape, width, height] of shapes) {
      for (const alpha of [false, true]) {
        it(`${shape}${alpha ? ', with alpha' : ''}: every recipe`, async () => {
          const webp = await blockyWebp(width, height, { seed: width * 7 + height, alpha });
          for (const [, recipe] of recipes) {
            const [fast, slow] = await bothPathsFast(webp, recipe);
            expect(fast.equals(slow)).toBe(true);
          }
        });
      }
    }

    it('a lossless WebP with alpha', async () => {
      const webp = await blockyWebp(200, 120, { seed: 5, alpha: true, lossless: true });
      const [fast, slow] = await bothPathsFast(webp, { ...WD_RECIPE, inputSize: 96 });
      expect(fast.equals(slow)).toBe(true);
    });
  });

  describe('sharp decodes what the fast path must not take', () => {
    it('applies an EXIF orientation (the fast path would not)', async () => {
      const webp = await sharp(await blockyWebp(40, 20, { seed: 9 }))
        .withMetadata({ orientation: 6 })
        .webp({ lossless: true })
        .toBuffer();
      const recipe = { ...WD_RECIPE, inputSize: 40, fit: 'squish' as const };
      const [fast, slow] = await bothPaths(webp, recipe);
      expect(fast.equals(slow)).toBe(true);
      // Rotated: the 40×20 image became 20×40 before the squish, which the unrotated pixels would not give.
      const unrotated = await letterboxImage(await blockyWebp(40, 20, { seed: 9 }), recipe, limits);
      expect(fast.equals(unrotated)).toBe(false);
    });

    it('converts from an ICC profile as sharp does', async () => {
      const webp = await sharp(await blockyWebp(32, 32, { seed: 3 }))
        .withIccProfile('p3')
        .webp({ lossless: true })
        .toBuffer();
      const [fast, slow] = await bothPaths(webp, { ...WD_RECIPE, inputSize: 32 });
      expect(fast.equals(slow)).toBe(true);
    });

    it('takes the first frame of an animation', async () => {
      const frames = Buffer.concat([pseudoRandomBytes(16 * 16 * 4, 1), pseudoRandomBytes(16 * 16 * 4, 2)]);
      const webp = await sharp(frames, { raw: { width: 16, height: 32, channels: 4, pageHeight: 16 } })
        .webp({ lossless: true, loop: 0, delay: [100, 100] })
        .toBuffer();
      expect((await sharp(webp).metadata()).pages).toBe(2);
      const [fast, slow] = await bothPaths(webp, { ...WD_RECIPE, inputSize: 16 });
      expect(fast.equals(slow)).toBe(true);
    });

    it('a WebP over the fast path’s size streams through sharp', async () => {
      const side = Math.ceil(Math.sqrt(FAST_WEBP_MAX_PIXELS)) + 1;
      const webp = await sharp({ create: { width: side, height: side, channels: 3, background: '#808080' } })
        .webp()
        .toBuffer();
      const [fast, slow] = await bothPaths(webp, { ...WD_RECIPE, inputSize: 32 });
      expect(fast.equals(slow)).toBe(true);
    });

    it('a truncated WebP is MEDIA_CORRUPT, as sharp says', async () => {
      const webp = await blockyWebp(300, 300, { seed: 11 });
      const truncated = webp.subarray(0, Math.floor(webp.length * 0.6));
      const error = await thrown(letterboxImage(truncated, { ...WD_RECIPE, inputSize: 32 }, limits));
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('MEDIA_CORRUPT');
    });

    it('padding with the edge (a copy of the border) stays with sharp', async () => {
      const webp = await blockyWebp(120, 80, { seed: 4 });
      const recipe: PreprocessRecipe = { ...DEEPDANBOORU_RECIPE, inputSize: 32, resize: 'cubic' };
      expect(recipe.pad).toBe('edge');
      const [fast, slow] = await bothPaths(webp, recipe);
      expect(fast.equals(slow)).toBe(true);
    });
  });

  describe('WebpDecoder', () => {
    const decoder = new WebpDecoder(1);
    afterAll(() => decoder.close());
    const square = { alpha: 'white', padLevel: 255 } as const;

    it('rejects bytes libwebp refuses with a plain error, and decodes the next file', async () => {
      const error = await thrown(
        decoder.decode(Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 garbage'), square, null, 10_000),
      );
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(AppError);
      const decoded = await decoder.decode(await blockyWebp(5, 3, { seed: 1 }), square, null, 10_000);
      expect(decoded).toMatchObject({ width: 5, height: 3, rgb: { width: 5, height: 5 } });
    });

    it('an overrun is MEDIA_TOO_LARGE; the worker is replaced and the next decode works', async () => {
      // A 2000² lossless file of noise takes libwebp well over the 1 ms allowed (hundreds of ms here).
      const noise = await sharp(Buffer.from(pseudoRandomBytes(2000 * 2000 * 3, 8)), {
        raw: { width: 2000, height: 2000, channels: 3 },
      })
        .webp({ lossless: true, effort: 0 })
        .toBuffer();
      const error = await thrown(decoder.decode(noise, square, null, 1));
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('MEDIA_TOO_LARGE');
      const decoded = await decoder.decode(await blockyWebp(4, 6, { seed: 2 }), square, null, 10_000);
      expect(decoded.rgb.data.length).toBe(6 * 6 * 3);
    });

    it('keeps no process alive: a process whose decoder only warmed up exits on its own', () => {
      const script = `import { webpDecoder } from './src/tagger/webp-decoder.ts';
        const d = webpDecoder(); await d.warmUp(); console.log('ready', d.ready);`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(child.signal).toBeNull();
      expect(child.stdout).toContain('ready true');
      expect(child.status).toBe(0);
    });

    it('decodes side by side up to its size and in order of arrival beyond it', async () => {
      const files = await Promise.all([1, 2, 3, 4].map((seed) => blockyWebp(8 + seed, 8, { seed })));
      const decoded = await Promise.all(files.map((file) => decoder.decode(file, square, null, 10_000)));
      expect(decoded.map((image) => image.width)).toEqual([9, 10, 11, 12]);
    });
  });

  describe('rgbaToRgb', () => {
    it('flattens on white exactly as libvips does, for every colour and alpha level', async () => {
      const rgba = new Uint8Array(256 * 256 * 4);
      for (let a = 0; a < 256; a++) {
        for (let c = 0; c < 256; c++) rgba.set([c, 255 - c, (c * 7) & 255, a], (a * 256 + c) * 4);
      }
      const expected = await sharp(rgba, { raw: { width: 256, height: 256, channels: 4 } })
        .flatten({ background: '#ffffff' })
        .removeAlpha()
        .raw()
        .toBuffer();
      const sut = rgbaToRgb(rgba, 256, 256, { alpha: 'white', padLevel: null });
      expect(Buffer.from(sut.data).equals(expected)).toBe(true);
    });

    it('drops alpha and pads to a centred square with floored offsets', () => {
      const rgba = Uint8Array.from([10, 20, 30, 0, 40, 50, 60, 128]); // 2×1
      const sut = rgbaToRgb(rgba, 2, 1, { alpha: 'drop', padLevel: 0 });
      expect(sut).toMatchObject({ width: 2, height: 2 });
      // The row goes to y = ⌊(2 − 1) / 2⌋ = 0; the second row is padding.
      expect([...sut.data]).toEqual([10, 20, 30, 40, 50, 60, 0, 0, 0, 0, 0, 0]);
    });

    it('refuses a buffer of the wrong size', () => {
      expect(() => rgbaToRgb(new Uint8Array(7), 1, 2, { alpha: 'white', padLevel: null })).toThrow(RangeError);
    });
  });
});
