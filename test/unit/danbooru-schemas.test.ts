import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitTagString, toBooruPost } from '../../src/booru/danbooru.schemas.js';
import { AppError } from '../../src/shared/errors.js';

const FIXTURES = '../shared/fixtures/booru-api/danbooru';
const postFiles = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((name) => /^posts?_.*\.json$/.test(name)) : [];

function readPosts(file: string): unknown[] {
  const json: unknown = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8'));
  return Array.isArray(json) ? json : [json];
}

/** A banned post as a non-Approver sees it (BOORU-API §1.4): no md5, no URLs, media_asset without md5/variants. */
const bannedPost = {
  id: 7_000_001,
  created_at: '2024-01-02T03:04:05.678-05:00',
  updated_at: '2024-01-02T03:04:05.678-05:00',
  rating: 'e',
  image_width: 1200,
  image_height: 1600,
  file_ext: 'png',
  file_size: 2_000_000,
  tag_string: 'banned_artist 1girl solo',
  is_pending: false,
  is_deleted: false,
  is_banned: true,
  media_asset: { id: 9, file_ext: 'png', image_width: 1200, image_height: 1600, duration: null, status: 'active' },
};

const deletedPost = {
  id: 7_000_002,
  md5: '0123456789abcdef0123456789abcdef',
  updated_at: '2024-01-02T03:04:05.678-04:00',
  rating: 'g',
  image_width: 800,
  image_height: 600,
  file_ext: 'jpg',
  tag_string: 'cat  solo cat',
  is_deleted: true,
  is_banned: false,
  is_pending: false,
  file_url: 'https://cdn.donmai.us/original/01/23/0123456789abcdef0123456789abcdef.jpg',
  preview_file_url: 'https://cdn.donmai.us/180x180/01/23/0123456789abcdef0123456789abcdef.jpg',
};

describe('danbooru.schemas', () => {
  describe('toBooruPost', () => {
    if (postFiles.length === 0) {
      it.skip(`should parse recorded posts (skipped: ${FIXTURES} is absent)`, () => {});
    }
    for (const file of postFiles) {
      it(`should parse every recorded post in ${file}`, () => {
        const json = readPosts(file);
        const sut = json.map((item, i) => toBooruPost(item, `${file}[${i}]`));
        expect(sut.length).toBeGreaterThan(0);
        for (const post of sut) {
          expect(post.remoteId).toBeGreaterThan(0);
          expect(post.tags).toEqual([...new Set(post.tags)].sort());
          expect(post.tags.length).toBeGreaterThan(0);
          expect(post.md5).toMatch(/^[0-9a-f]{32}$/);
          expect(post.updatedAt?.getTime()).toEqual(expect.any(Number));
          expect(post.variants.length).toBeGreaterThan(0);
          expect(post.variants.find((v) => v.type === 'original')?.url).toBe(post.fileUrl);
        }
      });
    }

    it.runIf(postFiles.includes('posts_2023-06_with_media_asset.json'))(
      'should take variants from media_asset and parse the -04:00 offset as an instant',
      () => {
        const json = readPosts('posts_2023-06_with_media_asset.json');
        const sut = json.map((item) => toBooruPost(item)).find((p) => p.remoteId === 6402983)!;
        expect(sut.variants.map((v) => v.type)).toEqual(['180x180', '360x360', '720x720', 'sample', 'original']);
        expect(sut.variants[2]).toMatchObject({ width: 547, height: 720, ext: 'webp' });
        expect(sut.updatedAt?.toISOString()).toBe('2023-06-15T23:48:59.522Z');
        expect(sut.rating).toBe('s');
      },
    );

    it.runIf(postFiles.includes('posts_2020-07_legacy_fields.json'))(
      'should rebuild variants from the URLs of a 2020 post without media_asset',
      () => {
        const [first] = readPosts('posts_2020-07_legacy_fields.json');
        const sut = toBooruPost(first);
        expect(sut.variants.map((v) => v.type)).toEqual(['preview', 'sample', 'original']);
        expect(sut.variants[1]).toMatchObject({ width: 850, height: 810, ext: 'jpg' });
        expect(sut.variants[2]).toMatchObject({ width: 1037, height: 988, ext: 'png' });
      },
    );

    it('should parse a banned post without md5 and URLs', () => {
      const sut = toBooruPost(bannedPost);
      expect(sut).toMatchObject({
        remoteId: 7_000_001,
        md5: null,
        fileUrl: null,
        previewUrl: null,
        variants: [],
        isBanned: true,
        width: 1200,
        tags: ['1girl', 'banned_artist', 'solo'],
      });
      expect(sut.updatedAt?.toISOString()).toBe('2024-01-02T08:04:05.678Z');
    });

    it('should parse a deleted post, with tags split, sorted and unique', () => {
      const sut = toBooruPost(deletedPost);
      expect(sut).toMatchObject({ isDeleted: true, tags: ['cat', 'solo'], previewUrl: deletedPost.preview_file_url });
      expect(sut.variants.map((v) => [v.type, v.width, v.height])).toEqual([
        ['180x180', 180, 135],
        ['original', 800, 600],
      ]);
    });

    it('should reject a malformed post with BOORU_BAD_RESPONSE naming the id and the field path', () => {
      const bad = {
        ...deletedPost,
        id: 42,
        media_asset: { variants: [{ type: 'original', url: 17, width: 1, height: 1 }] },
      };
      const sut = () => toBooruPost(bad, 'GET /posts.json[3]');
      expect(sut).toThrow(AppError);
      expect(sut).toThrow(/post 42 in GET \/posts\.json\[3\]: media_asset\.variants\.0\.url/);
    });

    it('should reject a post without an id', () => {
      expect(() => toBooruPost({ tag_string: 'a' })).toThrow(/post without a valid id.*id:/);
    });

    it('should reject an unparseable updated_at', () => {
      expect(() => toBooruPost({ id: 1, updated_at: 'yesterday' })).toThrow(/updated_at: not an ISO-8601 timestamp/);
    });
  });

  describe('splitTagString', () => {
    it.each([
      ['', []],
      [null, []],
      ['b a  c\tA', ['a', 'b', 'c']],
    ] as const)('should split %j', (input, expected) => {
      expect(splitTagString(input)).toEqual(expected);
    });
  });
});
