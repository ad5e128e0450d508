/**
 * Property-based tests (fast-check, fixed seed) of the booru API parsers on random input: random JSON, valid posts
 * with random fields replaced, and random text for the dapi XML path. Each parser either returns a well-typed value
 * (positive safe-integer ids, non-empty tag names without spaces, a known rating or null, a valid date or null,
 * string URLs) or throws the project's typed error (AppError BOORU_BAD_RESPONSE); never a TypeError or a half-typed
 * value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePostPage } from '../../src/booru/adapter-support.js';
import type { BooruTag, BooruTagRelation } from '../../src/booru/booru-client.js';
import { parseDanbooruRelations, parseDanbooruTags, toBooruPost } from '../../src/booru/danbooru.schemas.js';
import { e621PostItems, e621SinglePost, toE621Post } from '../../src/booru/e621.schemas.js';
import {
  dapiItems,
  decodeEntities,
  parseGelbooruTags,
  parseXmlRecords,
  toGelbooruPost,
} from '../../src/booru/gelbooru.schemas.js';
import { parseMoebooruTags, toMoebooruPost } from '../../src/booru/moebooru.schemas.js';
import {
  parseSzurubooruTag,
  szurubooruPage,
  szurubooruRelations,
  toSzurubooruPost,
  toSzurubooruTag,
} from '../../src/booru/szurubooru.schemas.js';
import { type BooruPost, RATINGS } from '../../src/core/types.js';
import { AppError } from '../../src/shared/errors.js';

const SEED = Number(process.env['BT_PROPERTY_SEED'] ?? 20_261_127);
const RUNS = Number(process.env['BT_PROPERTY_RUNS'] ?? 200);
const SITE = 'https://gelbooru.example';

/** Values that break naive code: prototype keys, huge and odd numbers, unreadable dates, markup. */
const nasty = fc.constantFrom<unknown>(
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '',
  ' ',
  'not a date',
  '2024-13-45T99:99:99Z',
  '1e400',
  '-1',
  '0',
  '9007199254740993',
  1e300,
  -1,
  0,
  0.5,
  Number.MAX_SAFE_INTEGER + 2,
  1e20,
  true,
  null,
  [],
  {},
  '<script>alert(1)</script>',
  '&#0; &#x110000; &amp;lt;',
);
const anyJson = fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 3 }), nasty);

/** A valid post of each dialect, then with some of its fields replaced by random values. */
const BASE = {
  danbooru: {
    id: 7,
    md5: 'a'.repeat(32),
    rating: 'g',
    tag_string: 'cat_ears solo',
    file_url: 'https://cdn.example/a.jpg',
    updated_at: '2024-01-02T03:04:05.000Z',
    media_asset: { id: 1, variants: [{ type: '360x360', url: 'https://cdn.example/b.jpg', width: 360, height: 360 }] },
  },
  e621: {
    id: 7,
    updated_at: '2024-01-02T03:04:05.000Z',
    file: { width: 10, height: 10, ext: 'png', size: 100, md5: 'a'.repeat(32), url: 'https://static.example/a.png' },
    preview: { width: 1, height: 1, url: 'https://static.example/p.jpg' },
    sample: { has: true, width: 5, height: 5, url: 'https://static.example/s.jpg' },
    tags: { general: ['cat_ears'], species: ['cat'] },
    flags: { pending: false, deleted: false },
    rating: 's',
  },
  moebooru: {
    id: 7,
    tags: 'cat_ears solo',
    md5: 'a'.repeat(32),
    rating: 's',
    status: 'active',
    file_url: 'https://files.example/a.jpg',
    width: 10,
    height: 10,
    preview_url: 'https://files.example/p.jpg',
    updated_at: 1_700_000_000,
  },
  gelbooru: {
    id: '7',
    md5: 'a'.repeat(32),
    rating: 'general',
    tags: 'cat_ears solo',
    file_url: 'https://img.example/a.jpg',
    width: '10',
    height: 10,
    change: 1_700_000_000,
  },
  szurubooru: {
    id: 7,
    version: 2,
    creationTime: '2024-01-02T03:04:05.000Z',
    lastEditTime: null,
    safety: 'sketchy',
    checksumMD5: 'a'.repeat(32),
    canvasWidth: 10,
    canvasHeight: 10,
    contentUrl: 'data/posts/7_abc.png',
    thumbnailUrl: 'data/generated-thumbnails/7_abc.jpg',
    tags: [{ names: ['cat_ears', 'nekomimi'], category: 'default', usages: 3 }],
  },
} as const;

function mutated(base: Record<string, unknown>) {
  const keys = Object.keys(base);
  return fc
    .dictionary(fc.constantFrom(...keys, 'extra'), anyJson, { maxKeys: 4 })
    .map((overrides) => ({ ...base, ...overrides }));
}

function expectWellTyped(post: BooruPost): void {
  expect(Number.isSafeInteger(post.remoteId) && post.remoteId > 0, `remoteId ${post.remoteId}`).toBe(true);
  for (const tag of post.tags) expect(typeof tag === 'string' && tag !== '' && !/\s/.test(tag), tag).toBe(true);
  expect(post.rating === null || RATINGS.includes(post.rating), `rating ${String(post.rating)}`).toBe(true);
  expect(post.updatedAt === null || !Number.isNaN(post.updatedAt.getTime()), 'updatedAt is a valid date').toBe(true);
  for (const url of [post.fileUrl, post.previewUrl, post.md5, post.fileExt]) {
    expect(url === null || typeof url === 'string', `string or null: ${String(url)}`).toBe(true);
  }
  for (const size of [post.width, post.height, post.fileSize]) {
    expect(size === null || Number.isFinite(size), `finite or null: ${String(size)}`).toBe(true);
  }
  for (const variant of post.variants) expect(typeof variant.url === 'string' && variant.url !== '').toBe(true);
  for (const flag of [post.isDeleted, post.isBanned, post.isPending]) expect(typeof flag).toBe('boolean');
}

function expectTypedFailure(thrown: unknown): void {
  expect(thrown, String(thrown)).toBeInstanceOf(AppError);
  expect((thrown as AppError).code).toBe('BOORU_BAD_RESPONSE');
}

/** Runs `parse`; it must return a value that passes `check`, or throw BOORU_BAD_RESPONSE. */
function parsesOrRefuses<T>(parse: () => T, check: (value: T) => void): void {
  let value: T;
  try {
    value = parse();
  } catch (thrown) {
    expectTypedFailure(thrown);
    return;
  }
  check(value);
}

function expectTags(tags: BooruTag[]): void {
  for (const tag of tags) {
    expect(Number.isSafeInteger(tag.remoteId) && tag.remoteId > 0).toBe(true);
    expect(typeof tag.name === 'string' && tag.name !== '').toBe(true);
    expect(Number.isInteger(tag.category) && Number.isFinite(tag.postCount)).toBe(true);
    expect(tag.updatedAt === null || !Number.isNaN(tag.updatedAt.getTime())).toBe(true);
  }
}

function expectRelations(relations: BooruTagRelation[]): void {
  for (const relation of relations) {
    expect(typeof relation.antecedent === 'string' && typeof relation.consequent === 'string').toBe(true);
    expect(relation.updatedAt === null || !Number.isNaN(relation.updatedAt.getTime())).toBe(true);
  }
}

const check = <T extends unknown[]>(property: fc.IProperty<T>) => fc.assert(property, { seed: SEED, numRuns: RUNS });

const POST_PARSERS: [string, (json: unknown) => BooruPost, Record<string, unknown>][] = [
  ['Danbooru', (json) => toBooruPost(json), BASE.danbooru],
  ['e621', (json) => toE621Post(json), BASE.e621],
  ['Moebooru', (json) => toMoebooruPost(json), BASE.moebooru],
  ['Gelbooru', (json) => toGelbooruPost(json, SITE), BASE.gelbooru],
  ['Szurubooru', (json) => toSzurubooruPost(json, 'https://szuru.example'), BASE.szurubooru],
];

describe('booru API parsers (properties)', () => {
  describe.each(POST_PARSERS)('%s post', (_name, parse, base) => {
    it('should parse the valid base post', () => {
      expectWellTyped(parse(base));
    });

    it('should return a well-typed post or throw BOORU_BAD_RESPONSE for any JSON', () => {
      check(fc.property(anyJson, (json) => parsesOrRefuses(() => parse(json), expectWellTyped)));
    });

    it('should return a well-typed post or throw BOORU_BAD_RESPONSE when fields are replaced at random', () => {
      check(fc.property(mutated(base), (json) => parsesOrRefuses(() => parse(json), expectWellTyped)));
    });
  });

  it('should turn a random listing into posts and rejected ids, or fail the page with a BooruError', () => {
    check(
      fc.property(fc.array(fc.oneof(mutated(BASE.danbooru), anyJson), { maxLength: 6 }), (items) =>
        parsesOrRefuses(
          () => parsePostPage(items, (item) => toBooruPost(item), { method: 'GET', url: 'https://x.example/posts' }),
          (page) => {
            page.posts.forEach(expectWellTyped);
            for (const r of page.rejected) expect(Number.isSafeInteger(r.remoteId) && r.remoteId > 0).toBe(true);
          },
        ),
      ),
    );
  });

  it('should parse random tag and relation listings or throw BOORU_BAD_RESPONSE', () => {
    const tagRow = fc.dictionary(
      fc.constantFrom('id', 'name', 'post_count', 'count', 'category', 'type', 'is_deprecated', 'updated_at'),
      anyJson,
    );
    const relationRow = fc.dictionary(
      fc.constantFrom('id', 'antecedent_name', 'consequent_name', 'status', 'updated_at'),
      anyJson,
    );
    check(
      fc.property(fc.oneof(fc.array(tagRow, { maxLength: 4 }), anyJson), (json) => {
        parsesOrRefuses(() => parseDanbooruTags(json, 'u', 0), expectTags);
        parsesOrRefuses(() => parseMoebooruTags(json, 'u', 0), expectTags);
        if (Array.isArray(json)) parsesOrRefuses(() => parseGelbooruTags(json, 'u', 0), expectTags);
      }),
    );
    check(
      fc.property(fc.oneof(fc.array(relationRow, { maxLength: 4 }), anyJson), (json) =>
        parsesOrRefuses(() => parseDanbooruRelations(json, 'u', 0), expectRelations),
      ),
    );
  });

  it('should read random szurubooru listings of tags, aliases and implications or throw BOORU_BAD_RESPONSE', () => {
    const microTag = fc.record({ names: fc.oneof(fc.array(anyJson, { maxLength: 3 }), anyJson), category: anyJson });
    const tagItem = fc.oneof(
      mutated({
        names: ['cat_ears', 'nekomimi'],
        category: 'default',
        version: 1,
        creationTime: '2024-01-02T03:04:05.000Z',
        lastEditTime: null,
        usages: 3,
        implications: [{ names: ['animal_ears'], category: 'default', usages: 1 }],
        suggestions: [],
      }),
      fc.record({ names: fc.array(anyJson, { maxLength: 3 }), category: anyJson, implications: fc.array(microTag) }),
      anyJson,
    );
    const page = fc.oneof(
      fc.record({ query: anyJson, offset: anyJson, limit: anyJson, total: anyJson, results: fc.array(tagItem) }),
      fc.record({
        query: fc.constant(''),
        offset: fc.nat(),
        limit: fc.nat(),
        total: fc.nat(),
        results: fc.array(tagItem),
      }),
      anyJson,
    );
    check(
      fc.property(page, (json) =>
        parsesOrRefuses(
          () =>
            szurubooruPage(json, 'u').results.map((item, i) => {
              const tag = parseSzurubooruTag(item);
              return {
                tag: toSzurubooruTag(tag, i + 1),
                relations: ['alias', 'implication'].flatMap((kind) => szurubooruRelations(tag, kind as 'alias', i + 1)),
              };
            }),
          (rows) => {
            expectTags(rows.map((r) => r.tag));
            for (const r of rows) {
              expectRelations(r.relations);
              for (const rel of r.relations) expect(/\s/.test(rel.antecedent + rel.consequent)).toBe(false);
            }
          },
        ),
      ),
    );
  });

  it('should unwrap any e621 envelope without throwing', () => {
    check(
      fc.property(anyJson, (json) => {
        const items = e621PostItems(json);
        expect(items === null || Array.isArray(items)).toBe(true);
        e621SinglePost(json);
      }),
    );
  });

  it('should read dapi XML as the former regex reader did, in linear time on hostile pages', () => {
    const markup = fc.array(
      fc.oneof(
        fc.constantFrom('<post', '<posts>', '</post>', '<post/>', ' id="1"', " md5='a'", ' tags="a &amp; b"', '/>'),
        fc.constantFrom('>', '<id>', '</id>', '<tags>', '</tags>', '<![CDATA[x<y]]>', '<![CDATA[', ']]>', ' '),
        fc.constantFrom('<rating/>', '<score >2</score>', '&#x27;', '<post-x>', '<post\n'),
        // No lone quotes: an unclosed quote inside a tag ends the document for the new reader (the regex skipped on
        // to the next record); valid dapi XML never has one.
        fc.string({ maxLength: 4 }).map((text) => text.replace(/["']/g, '')),
      ),
      { maxLength: 40 },
    );
    check(
      fc.property(markup, (parts) => {
        const text = parts.join('');
        expect(parseXmlRecords(text, 'post')).toEqual(regexXmlRecords(text, 'post'));
      }),
    );
    for (const hostile of ['<post '.repeat(40_000), '<post>'.repeat(40_000), `<post>${'<id>'.repeat(40_000)}</post>`]) {
      const started = performance.now();
      parseXmlRecords(hostile, 'post');
      dapiItems(hostile, 'post');
      expect(performance.now() - started, `${hostile.slice(0, 12)}…`).toBeLessThan(1000);
    }
  });

  it('should read any text as dapi items, or null, without throwing', () => {
    const markup = fc.array(
      fc.oneof(
        fc.constantFrom('<posts>', '</posts>', '<post ', '<post>', '</post>', '/>', '>', '"', "'", 'id="1"', '<id>'),
        fc.constantFrom('</id>', '<tags>', '</tags>', '<![CDATA[', ']]>', '&amp;', '&#x27;', '{', '}', '[', ']'),
        fc.string({ maxLength: 8 }),
      ),
      { maxLength: 30 },
    );
    check(
      fc.property(
        fc.oneof(
          fc.string(),
          markup.map((parts) => parts.join('')),
        ),
        (text) => {
          for (const element of ['post', 'tag'] as const) {
            const items = dapiItems(text, element);
            expect(items === null || Array.isArray(items)).toBe(true);
            for (const item of items ?? []) {
              parsesOrRefuses(() => toGelbooruPost(item, SITE), expectWellTyped);
            }
          }
          expect(Array.isArray(parseXmlRecords(text, 'post'))).toBe(true);
          expect(typeof decodeEntities(text)).toBe('string');
        },
      ),
    );
  });
});

/** The former reader (a regex over the whole document, quadratic on unclosed tags): the oracle for valid input. */
function regexXmlRecords(xml: string, element: string): Record<string, string>[] {
  const records: Record<string, string>[] = [];
  const pattern = new RegExp(`<${element}\\b((?:[^>"']|"[^"]*"|'[^']*')*?)(/>|>([\\s\\S]*?)</${element}>)`, 'g');
  for (const match of xml.matchAll(pattern)) {
    const record: Record<string, string> = {};
    for (const attr of (match[1] ?? '').matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      record[attr[1]!] = decodeEntities(attr[2] ?? attr[3] ?? '');
    }
    for (const child of (match[3] ?? '').matchAll(/<([\w:-]+)\s*(?:\/>|>([\s\S]*?)<\/\1>)/g)) {
      record[child[1]!] = decodeEntities((child[2] ?? '').replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1')).trim();
    }
    records.push(record);
  }
  return records;
}
