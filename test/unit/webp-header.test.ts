/**
 * `plainWebpSize`: the size sharp reads, for every WebP encoding sharp writes that is plain (lossy, lossless, with
 * alpha, odd sizes, the largest side VP8 allows), and null for whatever sharp must judge: EXIF, ICC, animation, a
 * truncated file, a frame that is not a key frame, other formats and short junk.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { plainWebpSize } from '../../src/tagger/webp-header.js';
import { pseudoRandomBytes } from '../helpers/images.js';

function noise(width: number, height: number, channels: 3 | 4, seed: number) {
  return sharp(Buffer.from(pseudoRandomBytes(width * height * channels, seed)), { raw: { width, height, channels } });
}

describe('plainWebpSize', () => {
  const plain: [string, () => Promise<Buffer>][] = [
    ['lossy (VP8)', () => noise(469, 720, 3, 1).webp({ quality: 90 }).toBuffer()],
    ['lossy with alpha (VP8X + ALPH)', () => noise(33, 17, 4, 2).webp({ quality: 80 }).toBuffer()],
    ['lossless (VP8L)', () => noise(1, 300, 3, 3).webp({ lossless: true }).toBuffer()],
    ['lossless with alpha', () => noise(300, 1, 4, 4).webp({ lossless: true }).toBuffer()],
    ['1×1', () => noise(1, 1, 3, 5).webp().toBuffer()],
    ['16383 px wide (VP8’s largest side)', () => noise(16383, 2, 3, 6).webp({ quality: 50 }).toBuffer()],
    ['with XMP only', () => noise(20, 30, 3, 7).withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"/>').webp().toBuffer()],
  ];

  it.each(plain)('reads the size sharp reads: %s', async (_name, make) => {
    const webp = await make();
    const metadata = await sharp(webp).metadata();
    expect(metadata.format).toBe('webp');
    expect(plainWebpSize(webp)).toEqual({ width: metadata.width, height: metadata.height });
  });

  it('leaves EXIF (an orientation), ICC and animation to sharp', async () => {
    const rotated = await noise(40, 20, 3, 8).withMetadata({ orientation: 6 }).webp({ lossless: true }).toBuffer();
    const profiled = await noise(32, 32, 3, 9).withIccProfile('p3').webp().toBuffer();
    const frames = Buffer.concat([pseudoRandomBytes(16 * 16 * 4, 1), pseudoRandomBytes(16 * 16 * 4, 2)]);
    const animated = await sharp(frames, { raw: { width: 16, height: 32, channels: 4, pageHeight: 16 } })
      .webp({ lossless: true, loop: 0, delay: [100, 100] })
      .toBuffer();
    expect((await sharp(rotated).metadata()).orientation).toBe(6);
    expect((await sharp(profiled).metadata()).hasProfile).toBe(true);
    expect((await sharp(animated).metadata()).pages).toBe(2);
    for (const webp of [rotated, profiled, animated]) expect(plainWebpSize(webp)).toBeNull();
  });

  it('leaves truncated, damaged and foreign bytes to sharp', async () => {
    const webp = await noise(64, 48, 3, 10).webp().toBuffer();
    const notKeyFrame = Buffer.from(webp);
    notKeyFrame[20]! |= 1;
    const badStartCode = Buffer.from(webp);
    badStartCode[23] = 0;
    const png = await noise(8, 8, 3, 11).png().toBuffer();
    for (const bytes of [
      webp.subarray(0, webp.length - 1),
      webp.subarray(0, 29),
      notKeyFrame,
      badStartCode,
      png,
      Buffer.from('RIFF\u0016\u0000\u0000\u0000WEBPJUNK\u000a\u0000\u0000\u0000xxxxxxxxxx'),
      Buffer.alloc(0),
    ]) {
      expect(plainWebpSize(bytes)).toBeNull();
    }
  });
});
