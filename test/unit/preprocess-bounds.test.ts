/**
 * Memory bounds of the preprocessing: an image longer than the working side is shrunk before it is padded (so no
 * buffer grows with the square of its longest side), strips and oversized sides are refused, and every decode of the
 * process shares one pixel budget. The long-image results are checked against the recipe computed at full size.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/errors.js';
import { DECODE_PIXEL_BUDGET, DecodeGate, decodeGate } from '../../src/tagger/decode-gate.js';
import { letterboxImage, MAX_ASPECT_RATIO, MAX_SIDE, MAX_WORKING_SIDE } from '../../src/tagger/preprocess.js';
import { DEEPDANBOORU_RECIPE, type PreprocessRecipe, WD_RECIPE } from '../../src/tagger/recipe.js';
import { makeSolidPng, pseudoRandomBytes } from '../helpers/images.js';

const limits = { maxPixels: 100_000_000 };

/** A PNG of random square blocks (`block` px), so resizing has edges to blend but the file stays small. */
async function blockyPng(width: number, height: number, seed: number, block = 8): Promise<Buffer> {
  const [bw, bh] = [Math.ceil(width / block), Math.ceil(height / block)];
  const blocks = pseudoRandomBytes(bw * bh * 3, seed);
  return sharp(Buffer.from(blocks), { raw: { width: bw, height: bh, channels: 3 } })
    .resize(bw * block, bh * block, { kernel: 'nearest' })
    .extract({ left: 0, top: 0, width, height })
    .png()
    .toBuffer();
}

/** The recipe as the unbounded code ran it: pad at full size (side² in memory), then one resize to the input. */
async function fullSizeReference(png: Buffer, recipe: PreprocessRecipe): Promise<Buffer> {
  const { width, height } = await sharp(png).metadata();
  const side = Math.max(width, height);
  const left = Math.floor((side - width) / 2);
  const top = Math.floor((side - height) / 2);
  const padded = await sharp(png)
    .extend({ left, top, right: side - width - left, bottom: side - height - top, background: '#ffffff' })
    .removeAlpha()
    .raw()
    .toBuffer();
  return sharp(padded, { raw: { width: side, height: side, channels: 3 } })
    .resize(recipe.inputSize, recipe.inputSize, {
      kernel: recipe.resize === 'area' ? 'linear' : recipe.resize,
      fit: 'fill',
    })
    .raw()
    .toBuffer();
}

async function mediaErrorOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/** Mean and largest absolute difference of two byte buffers of the same length. */
function differences(actual: Buffer, expected: Buffer): { mean: number; worst: number } {
  expect(actual.length).toBe(expected.length);
  let total = 0;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const difference = Math.abs(actual[i]! - expected[i]!);
    total += difference;
    worst = Math.max(worst, difference);
  }
  return { mean: total / actual.length, worst };
}

/** DeepDanbooru's square through sharp (a model.json with `resize: linear`); its default AREA path is `area-resize.ts`. */
const DEEPDANBOORU_LINEAR: PreprocessRecipe = { ...DEEPDANBOORU_RECIPE, resize: 'linear' };

describe('letterboxImage memory bounds', () => {
  it('should shrink a WD image longer than the working side before padding, within a level (of 255) of the full-size recipe', async () => {
    const png = await blockyPng(MAX_WORKING_SIDE + 1904, 1500, 11);

    const sut = await letterboxImage(png, WD_RECIPE, limits);

    // Two cubic passes instead of one: 8-pixel blocks shrunk 13× alias a little differently, never by much.
    const { mean, worst } = differences(sut, await fullSizeReference(png, WD_RECIPE));
    expect(mean).toBeLessThan(1);
    expect(worst).toBeLessThanOrEqual(32);
  });

  it('should keep a long strip exact where it is one colour, and its padding white', async () => {
    const png = await makeSolidPng(39_000, 2_560, [10, 100, 200]);

    const sut = await letterboxImage(png, WD_RECIPE, limits);

    // 2560 / 39000 of 448 rows ≈ 29 rows of colour, centred; the rows far from it are padding.
    const row = (y: number) => Array.from(sut.subarray(y * 448 * 3 + 600, y * 448 * 3 + 603));
    expect(row(0)).toEqual([255, 255, 255]);
    expect(row(447)).toEqual([255, 255, 255]);
    expect(row(224)).toEqual([10, 100, 200]);
    const coloured = Array.from({ length: 448 }, (_, y) => y).filter((y) => row(y)[0] === 10);
    expect(coloured.length).toBeGreaterThanOrEqual(26);
    expect(coloured.length).toBeLessThanOrEqual(30);
  });

  it('should shrink a DeepDanbooru image before fitting it, within 1.5 levels of the full-size recipe', async () => {
    // Linear passes blend a cascade more differently than cubic ones: blocks of 32 px (2.7 output pixels).
    const png = await blockyPng(1200, MAX_WORKING_SIDE + 2000, 5, 32);
    const scale = DEEPDANBOORU_LINEAR.inputSize / (MAX_WORKING_SIDE + 2000);
    const fitWidth = Math.round(1200 * scale);
    const left = Math.floor((512 - fitWidth) / 2);
    const expected = await sharp(png)
      .resize(fitWidth, 512, { kernel: 'linear', fit: 'fill' })
      .extend({ left, right: 512 - fitWidth - left, extendWith: 'copy' })
      .removeAlpha()
      .raw()
      .toBuffer();

    const sut = await letterboxImage(png, DEEPDANBOORU_LINEAR, limits);

    const { mean, worst } = differences(sut, expected);
    expect(mean).toBeLessThan(1.5);
    expect(worst).toBeLessThanOrEqual(32);
  });

  it(`should refuse an image longer than ${MAX_ASPECT_RATIO}:1 or than ${MAX_SIDE} pixels with MEDIA_TOO_LARGE`, async () => {
    const strip = await makeSolidPng(MAX_ASPECT_RATIO * 20 + 1, 20, [1, 2, 3]);
    expect((await mediaErrorOf(letterboxImage(strip, WD_RECIPE, limits))).code).toBe('MEDIA_TOO_LARGE');

    const long = await makeSolidPng(MAX_SIDE + 1, 1_000, [1, 2, 3]);
    const error = await mediaErrorOf(letterboxImage(long, WD_RECIPE, limits));
    expect(error.code).toBe('MEDIA_TOO_LARGE');
    expect(error.message).toMatch(/longer than 50000 pixels/);
  });
});

describe('letterboxImage and the process-wide decode budget', () => {
  it('should wait for the budget before decoding, and refuse an oversized image at once without waiting', async () => {
    let release!: () => void;
    const holder = decodeGate.run(DECODE_PIXEL_BUDGET, () => new Promise<void>((resolve) => (release = resolve)));
    try {
      const small = letterboxImage(await makeSolidPng(64, 32, [1, 2, 3]), WD_RECIPE, limits);
      while (decodeGate.load.waiting === 0) await new Promise((resolve) => setImmediate(resolve));

      const strip = await makeSolidPng(MAX_ASPECT_RATIO * 20 + 1, 20, [1, 2, 3]);
      expect((await mediaErrorOf(letterboxImage(strip, WD_RECIPE, limits))).code).toBe('MEDIA_TOO_LARGE');
      expect(decodeGate.load).toEqual({ pixels: DECODE_PIXEL_BUDGET, waiting: 1 });

      release();
      expect((await small).length).toBe(448 * 448 * 3);
    } finally {
      release();
      await holder;
    }
    expect(decodeGate.load).toEqual({ pixels: 0, waiting: 0 });
  });
});

describe('DecodeGate', () => {
  /** A decode that notes its start in `started` and holds its pixels until the test releases it. */
  function held(name: string, started: string[]) {
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    return {
      release,
      work: () => {
        started.push(name);
        return done;
      },
    };
  }

  it('should run decodes together while their pixels fit the budget, and start the next in arrival order', async () => {
    const gate = new DecodeGate(100);
    const started: string[] = [];
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => held(name, started)) as [
      ReturnType<typeof held>,
      ReturnType<typeof held>,
      ReturnType<typeof held>,
      ReturnType<typeof held>,
    ];
    const runs = [gate.run(60, a.work), gate.run(40, b.work), gate.run(50, c.work), gate.run(10, d.work)];
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);
    expect(gate.load).toEqual({ pixels: 100, waiting: 2 });

    a.release();
    await runs[0];
    await new Promise((resolve) => setImmediate(resolve));
    // c (50) fits beside b (40); d waited behind c although it would have fitted first.
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(gate.load).toEqual({ pixels: 100, waiting: 0 });
    for (const h of [b, c, d]) h.release();
    await Promise.all(runs);
    expect(gate.load).toEqual({ pixels: 0, waiting: 0 });
  });

  it('should run a decode larger than the whole budget alone, and release its pixels when it fails', async () => {
    const gate = new DecodeGate(100);
    const order: string[] = [];
    const big = held('big', order);
    const first = gate.run(1_000, big.work);
    const second = gate.run(1, async () => {
      order.push('small');
      throw new Error('corrupt');
    });
    await Promise.resolve();
    expect(order).toEqual(['big']);
    big.release();
    await first;
    await expect(second).rejects.toThrow('corrupt');
    expect(order).toEqual(['big', 'small']);
    expect(gate.load).toEqual({ pixels: 0, waiting: 0 });
  });
});
