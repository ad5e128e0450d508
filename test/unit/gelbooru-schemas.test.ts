import { describe, expect, it } from 'vitest';
import {
  dapiItems,
  decodeEntities,
  parseGelbooruTags,
  parseXmlRecords,
  toGelbooruPost,
} from '../../src/booru/gelbooru.schemas.js';
import { fixtureFiles, fixturesPresent } from '../helpers/booru-fixtures.js';

const SITE = 'https://gelbooru.example';

describe('Gelbooru schemas', () => {
  for (const folder of ['gelbooru', 'gelbooru_0.2_safebooru']) {
    describe(`recorded responses in ${folder}`, () => {
      const present = fixturesPresent(folder);

      it.skipIf(!present)('should parse every recorded post listing, JSON and XML (skipped: fixtures absent)', () => {
        const files = fixtureFiles(folder, /^posts?.*\.(json|xml)$/);
        expect(files.length).toBeGreaterThanOrEqual(3);
        for (const file of files) {
          const items = dapiItems(file.text, 'post');
          expect(items, file.name).not.toBeNull();
          expect(items!.length, file.name).toBeGreaterThan(0);
          for (const item of items!) {
            const post = toGelbooruPost(item, SITE, file.name);
            expect(post.remoteId).toBeGreaterThan(0);
            expect(post.md5, file.name).toMatch(/^[0-9a-f]{32}$/);
            expect(post.rating, file.name).not.toBeNull();
            expect(post.fileUrl, file.name).toMatch(/^https:\/\//);
            expect(post.tags.every((t) => !t.includes('&#') && t.trim() === t && t !== '')).toBe(true);
          }
        }
      });

      it.skipIf(!present)('should parse every recorded tag listing, JSON and XML', () => {
        for (const file of fixtureFiles(folder, /^tags.*\.(json|xml)$/)) {
          const items = dapiItems(file.text, 'tag');
          expect(items, file.name).not.toBeNull();
          const tags = parseGelbooruTags(items!, file.name, 0);
          expect(tags.length, file.name).toBeGreaterThan(3);
        }
      });
    });
  }

  it.skipIf(!fixturesPresent('gelbooru'))('should unescape HTML entities in the recorded @attributes listing', () => {
    const [file] = fixtureFiles('gelbooru', /^posts_json_attributes_wrapper/);
    const post = toGelbooruPost(dapiItems(file!.text, 'post')![0], SITE);
    expect(post.tags).toContain("rubik's_cube");
    expect(post.rating).toBe('g');
  });

  it.skipIf(!fixturesPresent('gelbooru_0.2_safebooru'))('should use hash as md5 and rebuild 0.2 file URLs', () => {
    const [file] = fixtureFiles('gelbooru_0.2_safebooru', /^post_4296456/);
    const post = toGelbooruPost(dapiItems(file!.text, 'post')![0], SITE);
    expect(post).toMatchObject({ md5: 'e0b8bce4a6136ca31be2fdcbc6bad8a7', rating: 'g', width: 1000 });
    expect(post.fileUrl).toBe(`${SITE}/images/4111/938018eca5ada85ae0e5a6c1d3711b6d8851ef1a.jpg`);
  });

  describe('dapiItems', () => {
    it('should read an empty body, an @attributes-only object and a bare array', () => {
      expect(dapiItems('', 'post')).toEqual([]);
      expect(dapiItems('{"@attributes":{"limit":100,"offset":0,"count":0}}', 'post')).toEqual([]);
      expect(dapiItems('[{"id":1}]', 'post')).toEqual([{ id: 1 }]);
      expect(dapiItems('<html>blocked</html>', 'post')).toBeNull();
      expect(dapiItems('[{"id":1', 'post')).toBeNull();
    });
  });

  describe('parseXmlRecords', () => {
    it('should read attribute and element forms with entities', () => {
      const xml = `<posts><post id="1" tags=" a b&amp;c "/><post><id>2</id><tags>x\n  rubik&#039;s_cube</tags><title /></post></posts>`;
      expect(parseXmlRecords(xml, 'post')).toEqual([
        { id: '1', tags: ' a b&c ' },
        { id: '2', tags: "x\n  rubik's_cube", title: '' },
      ]);
      expect(decodeEntities('&#x27;&quot;&unknown;')).toBe(`'"&unknown;`);
    });
  });

  describe('toGelbooruPost', () => {
    it('should read a deleted post and a pending one', () => {
      expect(toGelbooruPost({ id: 3, md5: 'a'.repeat(32), status: 'deleted', tags: 'x' }, SITE).isDeleted).toBe(true);
      expect(toGelbooruPost({ id: 4, md5: 'a'.repeat(32), status: 'pending', tags: 'x' }, SITE).isPending).toBe(true);
    });

    it('should read a banned-style post without any URL or directory as having no variants', () => {
      const post = toGelbooruPost({ id: 5, tags: 'x', rating: 'explicit' }, SITE);
      expect(post).toMatchObject({ fileUrl: null, previewUrl: null, variants: [], md5: null, rating: 'e' });
    });

    it('should map gelbooru tag type 6 to a deprecated general tag', () => {
      const tags = parseGelbooruTags([{ id: 1, name: 'bookbag', count: 3, type: 6 }], 'x', 0);
      expect(tags[0]).toMatchObject({ category: 0, isDeprecated: true });
    });
  });
});
