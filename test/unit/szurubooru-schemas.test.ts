import { describe, expect, it } from 'vitest';
import { mergeTags } from '../../src/booru/szurubooru.client.js';
import {
  parseSzurubooruPost,
  parseSzurubooruTag,
  szurubooruCategoryToDanbooru,
  szurubooruPage,
  szurubooruRelations,
  toSzurubooruPost,
  toSzurubooruTag,
} from '../../src/booru/szurubooru.schemas.js';
import { fixtureFiles, fixturesPresent } from '../helpers/booru-fixtures.js';

const present = fixturesPresent('szurubooru');
const BASE = 'https://szuru.example.org';

function fixture(name: string): Record<string, unknown> {
  const [file] = fixtureFiles('szurubooru', new RegExp(`^${name}$`));
  return JSON.parse(file!.text) as Record<string, unknown>;
}

describe('szurubooru schemas', () => {
  describe('recorded responses', () => {
    it.skipIf(!present)(
      'should read the recorded post page envelope and every post (skipped: ../shared absent)',
      () => {
        const page = szurubooruPage(fixture('posts_paged.json'), 'posts_paged.json');
        expect(page).toMatchObject({ query: '*', offset: 5, limit: 5, total: 176 });
        const posts = page.results.map((item) => toSzurubooruPost(item, BASE));
        expect(posts.map((p) => p.remoteId)).toEqual([174, 173, 172, 171, 170]);
        for (const post of posts) {
          expect(post.tags).toEqual([...new Set(post.tags)].sort());
          expect(post.rating).toBe('g');
          expect(post.md5).toMatch(/^[0-9a-f]{32}$/);
          expect(post.isDeleted).toBe(false);
          expect(post.updatedAt).toBeInstanceOf(Date);
        }
        // contentUrl/thumbnailUrl are relative to the site ("data/posts/…").
        expect(posts[0]).toMatchObject({
          fileUrl: `${BASE}/data/posts/174_c71017bfccab32df.png`,
          previewUrl: `${BASE}/data/generated-thumbnails/174_c71017bfccab32df.jpg`,
          fileExt: 'png',
          width: 347,
          height: 248,
          tags: ['gushers'],
          updatedAt: new Date('2023-05-12T18:38:00.885038Z'),
        });
        // A tag with several names is read by its first (canonical) name only.
        expect(posts[3]?.tags).toContain('terezi_pyrope');
        expect(posts[3]?.tags).not.toContain('terezi');
        expect(posts[3]).toMatchObject({ fileExt: 'gif' });
      },
    );

    it.skipIf(!present)('should keep a path prefix of the site when resolving media URLs', () => {
      const item = szurubooruPage(fixture('posts_paged.json'), 'x').results[0];
      expect(toSzurubooruPost(item, 'https://example.org/booru/').fileUrl).toBe(
        'https://example.org/booru/data/posts/174_c71017bfccab32df.png',
      );
    });

    it.skipIf(!present)('should read the recorded tag page: names, categories, empty relations', () => {
      const page = szurubooruPage(fixture('tags_paged.json'), 'tags_paged.json');
      expect(page.total).toBe(4);
      const tags = page.results.map((item, i) => toSzurubooruTag(parseSzurubooruTag(item), i + 1));
      expect(tags.map((t) => [t.remoteId, t.name, t.category, t.postCount])).toEqual([
        [1, 'book', 0, 308],
        [2, 'book_club', 0, 1],
        [3, 'bookhorse', 0, 1],
        [4, 'bookshelf', 0, 0],
      ]);
      // Never edited ⇒ the creation time.
      expect(tags[1]?.updatedAt).toEqual(new Date('2022-06-29T00:47:49.052792Z'));
      for (const item of page.results) {
        const tag = parseSzurubooruTag(item);
        expect(szurubooruRelations(tag, 'alias', 1)).toEqual([]);
        expect(szurubooruRelations(tag, 'implication', 1)).toEqual([]);
      }
    });

    it.skipIf(!present)('should map the recorded categories of the posts onto Danbooru numbering', () => {
      const page = szurubooruPage(fixture('posts_paged.json'), 'x');
      const categories = new Map<string, number>();
      for (const item of page.results) {
        for (const tag of parseSzurubooruPost(item).tags)
          categories.set(tag.category, szurubooruCategoryToDanbooru(tag.category));
      }
      expect(Object.fromEntries(categories)).toEqual({
        General: 0,
        Character: 4,
        Kind: 0,
        Artist: 1,
        Copyright: 3,
        Meta: 5,
      });
    });
  });

  it('should treat an empty page as the end, and refuse anything but the envelope', () => {
    expect(szurubooruPage({ query: '', offset: 200, limit: 100, total: 176, results: [] }, 'x').results).toEqual([]);
    expect(() => szurubooruPage([], 'GET /api/posts/')).toThrow(/expected \{query, offset, limit, total, results\}/);
    expect(() => szurubooruPage({ name: 'SearchError', title: 'Search error', description: 'x' }, 'x')).toThrow(
      /BOORU_BAD_RESPONSE|malformed szurubooru listing/,
    );
  });

  it('should map safety by the written rule and refuse an unknown one', () => {
    const post = (safety: string) => ({ id: 1, version: 1, safety, tags: [], contentUrl: 'data/posts/1_a.png' });
    expect(toSzurubooruPost(post('safe'), BASE).rating).toBe('g');
    expect(toSzurubooruPost(post('sketchy'), BASE).rating).toBe('q');
    expect(toSzurubooruPost(post('unsafe'), BASE).rating).toBe('e');
    expect(() => toSzurubooruPost(post('explicit'), BASE)).toThrow(/malformed szurubooru post 1/);
  });

  it('should read aliases and implications off a tag, canonical names first', () => {
    const tag = parseSzurubooruTag({
      names: ['Cyan_Theme', 'aqua_theme', 'teal_theme'],
      category: 'default',
      version: 3,
      creationTime: '2026-01-01T00:00:00Z',
      lastEditTime: null,
      implications: [{ names: ['colorful', 'colourful'], category: 'meta', usages: 2 }],
      suggestions: [],
    });
    expect(szurubooruRelations(tag, 'alias', 7).map((r) => [r.antecedent, r.consequent, r.status])).toEqual([
      ['aqua_theme', 'cyan_theme', 'active'],
      ['teal_theme', 'cyan_theme', 'active'],
    ]);
    expect(szurubooruRelations(tag, 'implication', 7)).toMatchObject([
      { remoteId: 7, antecedent: 'cyan_theme', consequent: 'colorful', status: 'active' },
    ]);
  });

  it('should merge a change into the current tags by any of their names, case-insensitively', () => {
    const current = parseSzurubooruPost({
      id: 1,
      version: 4,
      safety: 'safe',
      tags: [
        { names: ['Solo'], category: 'default', usages: 1 },
        { names: ['cyan_theme', 'aqua_theme'], category: 'default', usages: 1 },
        { names: ['smile'], category: 'default', usages: 1 },
      ],
    });
    expect(mergeTags(current, ['aqua_theme', 'red_theme'], ['solo'])).toEqual(['cyan_theme', 'red_theme', 'smile']);
    expect(mergeTags(current, [], ['aqua_theme'])).toEqual(['Solo', 'smile']);
  });
});
