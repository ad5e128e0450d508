import { describe, expect, it } from 'vitest';
import { chooseMediaVariant } from '../../src/core/media-variant.js';
import type { BooruPost, MediaVariant } from '../../src/core/types.js';

const cdn = 'https://cdn.donmai.us';
const v = (type: string, width: number | null, height: number | null, ext: string): MediaVariant => ({
  type,
  url: `${cdn}/${type}/ab/cd/abcd.${ext}`,
  width,
  height,
  ext,
});

/** A tall image as Danbooru serves it: 1934×2546 png with every variant. */
const fullSet = [
  v('180x180', 137, 180, 'jpg'),
  v('360x360', 273, 360, 'jpg'),
  v('720x720', 547, 720, 'webp'),
  v('sample', 850, 1119, 'jpg'),
  v('original', 1934, 2546, 'png'),
];

function makePost(overrides: Partial<BooruPost> = {}): BooruPost {
  return {
    remoteId: 1,
    md5: 'abcd',
    rating: 's',
    tags: [],
    fileUrl: `${cdn}/original/ab/cd/abcd.png`,
    previewUrl: `${cdn}/180x180/ab/cd/abcd.jpg`,
    variants: fullSet,
    width: 1934,
    height: 2546,
    fileExt: 'png',
    fileSize: 1_000_000,
    isDeleted: false,
    isBanned: false,
    isPending: false,
    updatedAt: null,
    ...overrides,
  };
}

describe('media-variant', () => {
  describe('chooseMediaVariant', () => {
    const chosen: { name: string; post: BooruPost; minSize: number; type: string; url?: string }[] = [
      { name: '360x360 when its longest side reaches 360', post: makePost(), minSize: 360, type: '360x360' },
      { name: '720x720 for a 448 model (a tall 547×720 counts)', post: makePost(), minSize: 448, type: '720x720' },
      { name: 'the sample when 720 is not enough', post: makePost(), minSize: 1000, type: 'sample' },
      {
        name: 'the largest variant, not the 100 MB original, when none reaches minSize',
        post: makePost(),
        minSize: 2000,
        type: 'sample',
      },
      { name: 'never 180x180 for a still image', post: makePost(), minSize: 100, type: '360x360' },
      {
        name: 'full for static webp/avif',
        post: makePost({
          fileExt: 'avif',
          variants: [v('360x360', 360, 300, 'jpg'), v('full', 1200, 1000, 'jpg'), v('original', 1200, 1000, 'avif')],
        }),
        minSize: 800,
        type: 'full',
      },
      {
        name: 'the original when the booru lists no other variant (2020 format, small image)',
        post: makePost({
          variants: [],
          previewUrl: null,
          fileExt: 'jpg',
          fileUrl: `${cdn}/original/x.jpg`,
          width: 500,
          height: 400,
        }),
        minSize: 448,
        type: 'original',
        url: `${cdn}/original/x.jpg`,
      },
      {
        name: 'the largest still for a video, not the mp4',
        post: makePost({
          fileExt: 'mp4',
          variants: [
            v('180x180', 180, 101, 'jpg'),
            v('360x360', 360, 203, 'jpg'),
            v('720x720', 720, 405, 'webp'),
            v('original', 1280, 720, 'mp4'),
          ],
        }),
        minSize: 1000,
        type: '720x720',
      },
      {
        name: 'a video still reaching minSize',
        post: makePost({
          fileExt: 'webm',
          variants: [v('360x360', 360, 203, 'jpg'), v('720x720', 720, 405, 'webp'), v('original', 1280, 720, 'webm')],
        }),
        minSize: 300,
        type: '360x360',
      },
      {
        name: 'the legacy preview as the only still of an ugoira',
        post: makePost({
          fileExt: 'zip',
          variants: [],
          fileUrl: `${cdn}/original/u.zip`,
          previewUrl: `${cdn}/preview/u.jpg`,
        }),
        minSize: 448,
        type: 'preview',
      },
      {
        name: 'the still variants of an animated gif',
        post: makePost({
          fileExt: 'gif',
          variants: [v('360x360', 360, 360, 'jpg'), v('720x720', 500, 500, 'webp'), v('original', 500, 500, 'gif')],
        }),
        minSize: 448,
        type: '720x720',
      },
    ];
    it.each(chosen)('should choose $name', ({ post, minSize, type, url }) => {
      const sut = chooseMediaVariant(post, minSize);
      expect(sut).toHaveProperty('variant.type', type);
      if ('url' in sut && url) expect(sut.url).toBe(url);
    });

    const skipped: { name: string; post: BooruPost; reason: string }[] = [
      { name: 'deleted posts', post: makePost({ isDeleted: true }), reason: 'deleted' },
      { name: 'banned posts', post: makePost({ isBanned: true }), reason: 'banned' },
      {
        name: 'posts without a visible URL',
        post: makePost({ variants: [], fileUrl: null, previewUrl: null, md5: null }),
        reason: 'no_media_url',
      },
      {
        name: 'Flash',
        post: makePost({ fileExt: 'swf', variants: [v('original', 640, 480, 'swf')] }),
        reason: 'flash',
      },
      {
        name: 'videos without a still',
        post: makePost({ fileExt: 'mp4', variants: [v('original', 640, 480, 'mp4')], previewUrl: null }),
        reason: 'video_without_still',
      },
      {
        name: 'unknown file types',
        post: makePost({ fileExt: 'psd', variants: [v('original', 640, 480, 'psd')], previewUrl: null }),
        reason: 'unsupported_format',
      },
    ];
    it.each(skipped)('should skip $name', ({ post, reason }) => {
      const sut = chooseMediaVariant(post, 448);
      expect(sut).toMatchObject({ skipReason: reason, message: expect.any(String) });
    });
  });
});
