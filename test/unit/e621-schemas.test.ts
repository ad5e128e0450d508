import { describe, expect, it } from 'vitest';
import { e621CategoryToDanbooru, e621PostItems, e621SinglePost, toE621Post } from '../../src/booru/e621.schemas.js';
import { parseDanbooruTags } from '../../src/booru/danbooru.schemas.js';
import { fixtureFiles, fixturesPresent } from '../helpers/booru-fixtures.js';

const present = fixturesPresent('e621');

describe('e621 schemas', () => {
  describe('recorded responses', () => {
    it.skipIf(!present)(
      'should parse every recorded post of every e621 fixture (skipped: ../shared/fixtures absent)',
      () => {
        const files = fixtureFiles('e621', /^posts?_.*\.json$/);
        expect(files.length).toBeGreaterThanOrEqual(4);
        let count = 0;
        for (const file of files) {
          const json: unknown = JSON.parse(file.text);
          const items = file.name.startsWith('posts_') ? e621PostItems(json) : [e621SinglePost(json)];
          expect(items, file.name).not.toBeNull();
          for (const item of items!) {
            const post = toE621Post(item, file.name);
            count++;
            expect(post.remoteId).toBeGreaterThan(0);
            expect(post.tags).toEqual([...new Set(post.tags)].sort());
            expect(['g', 'q', 'e']).toContain(post.rating);
            if (post.fileUrl) expect(post.md5).toMatch(/^[0-9a-f]{32}$/);
          }
        }
        expect(count).toBeGreaterThan(80);
      },
    );

    it.skipIf(!present)('should flatten grouped tags and read flags of the recorded pending post', () => {
      const [file] = fixtureFiles('e621', /^post_3937132/);
      const post = toE621Post(e621SinglePost(JSON.parse(file!.text)));
      expect(post).toMatchObject({ remoteId: 3937132, isPending: true, isDeleted: false, fileExt: 'gif' });
      const raw = (JSON.parse(file!.text) as { post: { tags: Record<string, string[]> } }).post.tags;
      expect(post.tags).toEqual([...new Set(Object.values(raw).flat())].sort());
      expect(post.tags.length).toBeGreaterThan(0);
    });

    it.skipIf(!present)('should parse the recorded tag listing with e621 categories mapped', () => {
      const [file] = fixtureFiles('e621', /^tags_/);
      const tags = parseDanbooruTags(JSON.parse(file!.text), file!.name, 0, e621CategoryToDanbooru);
      expect(tags.length).toBeGreaterThan(5);
      expect(tags.find((t) => t.name === 'book')).toMatchObject({ category: 0, postCount: 25900 });
    });
  });

  describe('toE621Post', () => {
    const base = {
      id: 7,
      updated_at: '2023-06-16T07:11:06.404-04:00',
      file: {
        width: 1280,
        height: 610,
        ext: 'png',
        size: 10,
        md5: 'a'.repeat(32),
        url: 'https://static1.e621.net/x.png',
      },
      preview: { width: 150, height: 71, url: 'https://static1.e621.net/p.jpg' },
      sample: { has: true, width: 850, height: 405, url: 'https://static1.e621.net/s.jpg' },
      tags: { general: ['solo', 'fur'], species: ['fox'], meta: ['2023'], artist: [] },
      flags: { pending: false, deleted: false },
      rating: 's',
    };

    it('should map safe to g, keep offsets as instants, and list sample and original variants', () => {
      const post = toE621Post(base);
      expect(post.rating).toBe('g');
      expect(post.updatedAt?.toISOString()).toBe('2023-06-16T11:11:06.404Z');
      expect(post.variants.map((v) => v.type)).toEqual(['preview', 'sample', 'original']);
      expect(post.tags).toEqual(['2023', 'fox', 'fur', 'solo']);
    });

    it('should read a deleted post whose file the API hides (null url and md5)', () => {
      const post = toE621Post({
        ...base,
        file: { ...base.file, url: null, md5: null },
        preview: { url: null },
        sample: { has: false, url: null },
        flags: { deleted: true },
      });
      expect(post).toMatchObject({ isDeleted: true, fileUrl: null, md5: null, variants: [] });
    });

    it('should refuse a post with an unknown rating, naming it', () => {
      expect(() => toE621Post({ ...base, rating: 'x' })).toThrow(/e621 post 7 .*rating/);
    });

    it('should map e621 categories onto Danbooru numbering', () => {
      expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map(e621CategoryToDanbooru)).toEqual([0, 1, 1, 3, 4, 0, 5, 5, 5]);
    });
  });
});
