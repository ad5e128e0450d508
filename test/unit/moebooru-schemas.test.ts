import { describe, expect, it } from 'vitest';
import { parseMoebooruTags, toMoebooruPost } from '../../src/booru/moebooru.schemas.js';
import { fixtureFiles, fixturesPresent } from '../helpers/booru-fixtures.js';

const present = fixturesPresent('moebooru');

describe('Moebooru schemas', () => {
  describe('recorded responses', () => {
    it.skipIf(!present)('should parse every recorded Moebooru post (skipped: ../shared/fixtures absent)', () => {
      const files = fixtureFiles('moebooru', /posts?.*\.json$/).filter((f) => !f.name.includes('tags'));
      expect(files.length).toBeGreaterThanOrEqual(4);
      let count = 0;
      for (const file of files) {
        const json = JSON.parse(file.text) as unknown[];
        for (const item of json) {
          const post = toMoebooruPost(item, file.name);
          count++;
          expect(post.tags.length).toBeGreaterThan(0);
          expect(['g', 'q', 'e']).toContain(post.rating);
          expect(post.variants.at(-1)?.type).toBe('original');
        }
      }
      expect(count).toBeGreaterThan(20);
    });

    it.skipIf(!present)('should read konachan post 354323 with its sample and jpeg variants', () => {
      const [file] = fixtureFiles('moebooru', /^konachan_post_354323/);
      const post = toMoebooruPost((JSON.parse(file!.text) as unknown[])[0]);
      expect(post).toMatchObject({ remoteId: 354323, rating: 'g', width: 4096, height: 2317, fileExt: 'png' });
      expect(post.variants.map((v) => [v.type, v.width])).toEqual([
        ['preview', 300],
        ['sample', 1500],
        ['full', 4096],
        ['original', 4096],
      ]);
    });

    it.skipIf(!present)('should parse the recorded tag listing', () => {
      const [file] = fixtureFiles('moebooru', /^konachan_tags/);
      const tags = parseMoebooruTags(JSON.parse(file!.text), file!.name, 0);
      expect(tags.find((t) => t.name === 'melonbooks')).toMatchObject({ category: 3, postCount: 103 });
    });
  });

  describe('toMoebooruPost', () => {
    it('should read a deleted post without URLs as deleted with no variants', () => {
      const post = toMoebooruPost({ id: 5, tags: 'a b', rating: 'e', status: 'deleted', md5: 'x', created_at: 1 });
      expect(post).toMatchObject({ isDeleted: true, fileUrl: null, variants: [], rating: 'e' });
    });

    it('should read string scores and numeric strings (MyImouto) and pending status', () => {
      const post = toMoebooruPost({ id: '6', tags: 'b a', rating: 'q', status: 'pending', score: '1', width: '10' });
      expect(post).toMatchObject({ remoteId: 6, tags: ['a', 'b'], isPending: true, width: 10 });
    });
  });
});
