/**
 * The e621, Moebooru and Gelbooru adapters and `BOORU_KIND=auto` against their fake servers on loopback, and the
 * Danbooru write-back under faults: every edit is merge-safe (a human's concurrent edit survives), verified by a
 * fresh read, and retried only in its idempotent form.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  AutoBooruClient,
  createBooruAdapter,
  MOEBOORU_AUTH,
  probeBooruKind,
  QUERY_AUTH,
} from '../../src/booru/booru-factory.js';
import { canEditTagsOf } from '../../src/core/dialects.js';
import { e621ListItems } from '../../src/booru/e621.schemas.js';
import { BooruHttp, type BooruHttpOptions } from '../../src/booru/http.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { type FakeDialect, FakeDialectServer } from '../helpers/fake-dialect.server.js';
import { AppError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';

const logger = createLogger({ level: 'silent' });
const credentials = { login: 'bot', apiKey: 'sekrit-key' };
const https: BooruHttp[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const http of https.splice(0)) await http.close();
  for (const close of closers.splice(0)) await close();
});

function httpFor(url: string, kind: 'danbooru' | FakeDialect, overrides: Partial<BooruHttpOptions> = {}): BooruHttp {
  const http = new BooruHttp({
    baseUrl: url,
    userAgent: 'booru-tagger/0.1 (dialect tests)',
    credentials,
    ...(QUERY_AUTH[kind] ? { queryAuth: QUERY_AUTH[kind] } : {}),
    headersTimeoutMs: 250,
    bodyTimeoutMs: 250,
    retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 4, rateLimitDelayMs: 30 },
    logger,
    ...overrides,
  });
  https.push(http);
  return http;
}

async function dialect(kind: FakeDialect) {
  const server = new FakeDialectServer(kind, { credentials, slowMs: 500 });
  server.addTags([
    { name: 'fox', category: 0 },
    { name: 'artist_x', category: 1 },
  ]);
  server.addPosts([
    { id: 1, tag_string: 'fox solo artist_x', rating: 'g' },
    { id: 2, tag_string: "rubik's_cube solo", rating: 'q' },
    { id: 3, tag_string: 'gone', rating: 'e', is_deleted: true },
  ]);
  await server.start();
  closers.push(() => server.close());
  const sut = createBooruAdapter(kind, httpFor(server.url, kind), logger);
  return { server, sut };
}

describe('E621Client', () => {
  it('should list, read grouped tags and map ratings', async () => {
    const { sut } = await dialect('e621');
    const page = await sut.listPostsSince(0);
    expect(page.posts.map((p) => [p.remoteId, p.rating, p.isDeleted])).toEqual([
      [1, 'g', false],
      [2, 'q', false],
      [3, 'e', true],
    ]);
    expect(page.posts[0]?.tags).toEqual(['artist_x', 'fox', 'solo']);
  });

  it('should write a tag_string_diff delta that keeps a concurrent human edit, verified by a re-read', async () => {
    const { server, sut } = await dialect('e621');
    server.editAsHuman(1, { add: ['human_tag'], remove: ['solo'] });
    const result = await sut.updateTags(1, { snapshot: ['artist_x', 'fox', 'solo'], add: ['tail'], remove: ['fox'] });
    expect(server.getPost(1)?.tag_string).toBe('artist_x human_tag tail');
    expect(result.outcomes.map((o) => [o.tag, o.outcome])).toEqual([
      ['tail', 'applied'],
      ['fox', 'applied'],
    ]);
    const patch = server.requests.find((r) => r.method === 'PATCH')!;
    expect(new URLSearchParams(patch.body).get('post[tag_string_diff]')).toBe('tail -fox');
    expect(patch.headers['authorization']).toMatch(/^Basic /);
  });
});

describe('MoebooruClient', () => {
  it('should send credentials as login/password_hash query parameters, never in a body', async () => {
    const { server, sut } = await dialect('moebooru');
    await sut.updateTags(2, { snapshot: ["rubik's_cube", 'solo'], add: ['cube'], remove: [] });
    const post = server.requests.find((r) => r.method === 'POST')!;
    expect(post.query).toMatchObject({ login: 'bot', password_hash: 'sekrit-key' });
    expect(post.body).not.toContain('sekrit');
  });

  it('should merge with Moebooru old_tags so a human edit made meanwhile survives', async () => {
    const { server, sut } = await dialect('moebooru');
    server.editAsHuman(1, { add: ['human_tag'], remove: ['artist_x'] });
    const result = await sut.updateTags(1, { snapshot: ['artist_x', 'fox', 'solo'], add: ['tail'], remove: ['solo'] });
    expect(server.getPost(1)?.tag_string).toBe('fox human_tag tail');
    expect(result.saved).toBe(true);
    expect(result.outcomes.every((o) => o.outcome === 'applied')).toBe(true);
  });

  it('should read a deleted post as deleted, without URLs', async () => {
    const { sut } = await dialect('moebooru');
    expect(await sut.getPost(3)).toMatchObject({ isDeleted: true, fileUrl: null });
  });

  it('should list posts by last change, newest first (order:change_desc)', async () => {
    const { server, sut } = await dialect('moebooru');
    server.editAsHuman(1, { add: ['edited'] });
    const page = await sut.listPostsByChange(1);
    expect(page.posts.map((p) => p.remoteId)).toContain(1);
    expect(server.requests.at(-1)?.query).toMatchObject({ tags: 'order:change_desc', page: '1' });
  });

  it('should read every tag page (after_id is inclusive and order=date is id DESC), ascending', async () => {
    const { server, sut } = await dialect('moebooru');
    server.addTags(Array.from({ length: 25 }, (_, i) => ({ name: `extra_${i}` })));
    const all = await sut.listTags({ afterId: 0, limit: 10 });
    expect(all.length).toBe(server.store.listTags().length);
    expect(all.map((t) => t.remoteId)).toEqual([...all.map((t) => t.remoteId)].sort((a, b) => a - b));
    const last = all.at(-1)!.remoteId;
    expect(await sut.listTags({ afterId: last, limit: 10 })).toEqual([]);
    expect(await sut.listTags({ afterId: last - 3, limit: 10 })).toHaveLength(3);
  });

  it('should list aliases and implications by name across pages, pending ones marked pending', async () => {
    const { server, sut } = await dialect('moebooru');
    const aliases = Object.fromEntries(Array.from({ length: 23 }, (_, i) => [`old_${i}`, `new_${i}`]));
    server.setAliases(aliases);
    server.setImplications({ fox: ['animal'], tail: ['animal'] });
    server.setPendingRelations({ aliases: { cyan_theme: 'aqua_theme' }, implications: { solo: ['fox'] } });
    await sut.listTags({ afterId: 0 });
    const aliasRows = await sut.listTagRelations('alias', { afterId: 0 });
    expect(aliasRows).toHaveLength(24);
    expect(aliasRows.find((r) => r.antecedent === 'old_22')).toMatchObject({ consequent: 'new_22', status: 'active' });
    expect(aliasRows.find((r) => r.antecedent === 'cyan_theme')).toMatchObject({
      consequent: 'aqua_theme',
      status: 'pending',
    });
    const implications = await sut.listTagRelations('implication', { afterId: 0 });
    expect(implications.map((r) => `${r.antecedent}>${r.consequent}:${r.status}`).sort()).toEqual([
      'fox>animal:active',
      'solo>fox:pending',
      'tail>animal:active',
    ]);
    expect(server.requests.filter((r) => r.path === '/tag_alias.json').map((r) => r.query['page'])).toEqual([
      '1',
      '2',
      '3',
    ]);
    // The sync's next call asks above the highest id: everything was read already.
    const highest = Math.max(...aliasRows.map((r) => r.remoteId));
    expect(await sut.listTagRelations('alias', { afterId: highest })).toEqual([]);
    expect(server.requests.filter((r) => r.path === '/tag_alias.json')).toHaveLength(3);
  });

  it('should resolve a tag id the tag listing did not cover with one /tag.json?id= read', async () => {
    const { server, sut } = await dialect('moebooru');
    server.setImplications({ fox: ['animal'] });
    const rows = await sut.listTagRelations('implication', { afterId: 0 });
    expect(rows).toMatchObject([{ antecedent: 'fox', consequent: 'animal', status: 'active' }]);
    expect(server.requests.filter((r) => r.path === '/tag.json' && r.query['id'])).toHaveLength(2);
  });

  it('should authenticate with username + api_key when the site is set up so', async () => {
    const server = new FakeDialectServer('moebooru', { credentials, moebooruAuth: 'api_key' });
    server.addPosts([{ id: 1, tag_string: 'fox', rating: 'g' }]);
    await server.start();
    closers.push(() => server.close());
    const sut = createBooruAdapter(
      'moebooru',
      httpFor(server.url, 'moebooru', { queryAuth: MOEBOORU_AUTH.api_key }),
      logger,
    );
    expect((await sut.listPostsSince(0)).posts).toHaveLength(1);
    expect(server.requests[0]?.query).toMatchObject({ username: 'bot', api_key: 'sekrit-key' });
    const wrongForm = createBooruAdapter('moebooru', httpFor(server.url, 'moebooru'), logger);
    await expect(wrongForm.listPostsSince(0)).rejects.toMatchObject({ code: 'BOORU_AUTH' });
  });
});

describe('dialect traits known from the kind alone', () => {
  it('should match every adapter’s own capabilities', () => {
    for (const kind of ['danbooru', 'e621', 'moebooru', 'gelbooru'] as const) {
      const adapter = createBooruAdapter(kind, httpFor('http://127.0.0.1:9', kind), logger);
      expect(canEditTagsOf(kind), kind).toBe(adapter.capabilities.canEditTags);
    }
    expect(canEditTagsOf('unknown')).toBe(false);
  });
});

describe('e621 list envelopes', () => {
  it('should read an empty page of tags, aliases and implications as e621 answers it ({"tags":[]} and the like)', async () => {
    const { server, sut } = await dialect('e621');
    server.setAliases({ cyan_theme: 'aqua_theme' });
    server.setPendingRelations({ implications: { fox: ['animal'] } });
    const tags = await sut.listTags({ afterId: 0 });
    expect(tags.length).toBeGreaterThan(0);
    expect(await sut.listTags({ afterId: tags.at(-1)!.remoteId })).toEqual([]);
    const aliases = await sut.listTagRelations('alias', { afterId: 0 });
    expect(aliases).toMatchObject([{ antecedent: 'cyan_theme', consequent: 'aqua_theme', status: 'active' }]);
    expect(await sut.listTagRelations('alias', { afterId: aliases[0]!.remoteId })).toEqual([]);
    expect(await sut.listTagRelations('implication', { afterId: 0 })).toMatchObject([{ status: 'pending' }]);
    const empties = server.requests.filter((r) => r.path !== '/posts.json').slice(-3);
    expect(empties.map((r) => r.path)).toEqual(['/tag_aliases.json', '/tag_aliases.json', '/tag_implications.json']);
  });

  it('should take only the endpoint’s own key as an empty page, nothing else', () => {
    expect(e621ListItems({ tag_aliases: [] }, 'tag_aliases')).toEqual([]);
    expect(e621ListItems([{ id: 1 }], 'tag_aliases')).toEqual([{ id: 1 }]);
    expect(e621ListItems({ posts: [] }, 'tag_aliases')).toBeNull();
    expect(e621ListItems({ tag_aliases: [], extra: 1 }, 'tag_aliases')).toBeNull();
    expect(e621ListItems({ success: false, message: 'x' }, 'tags')).toBeNull();
  });
});

describe('GelbooruClient', () => {
  it('should list through the dapi with unescaped tags and be read-only', async () => {
    const { server, sut } = await dialect('gelbooru');
    const page = await sut.listPostsSince(0);
    expect(page.posts[1]?.tags).toEqual(["rubik's_cube", 'solo']);
    expect(server.requests[0]?.query).toMatchObject({ pid: '0', user_id: 'bot', api_key: 'sekrit-key' });
    expect(sut.capabilities.canEditTags).toBe(false);
    await expect(sut.updateTags(1, { snapshot: [], add: ['x'], remove: [] })).rejects.toMatchObject({
      code: 'USAGE',
    });
    expect(server.requests.every((r) => r.method === 'GET')).toBe(true);
  });

  it('should read tags with type 6 as deprecated', async () => {
    const { server, sut } = await dialect('gelbooru');
    server.addTags([{ name: 'old_name', isDeprecated: true }]);
    const tags = await sut.listTags({ afterId: 0 });
    expect(tags.find((t) => t.name === 'artist_x')).toMatchObject({ category: 1, isDeprecated: false });
    expect(tags.find((t) => t.name === 'old_name')).toMatchObject({ category: 0, isDeprecated: true });
  });

  it('should read a page without its `post` or `tag` key as empty, as gelbooru.com answers past the end', async () => {
    const { server, sut } = await dialect('gelbooru');
    const tags = await sut.listTags({ afterId: 0 });
    expect(await sut.listTags({ afterId: tags.at(-1)!.remoteId })).toEqual([]);
    expect((await sut.listPostsSince(3)).posts).toEqual([]);
    expect(sut.capabilities).toMatchObject({ canSyncRelations: false, canListChanges: false });
    expect(server.requests.length).toBeGreaterThanOrEqual(3);
  });
});

describe('probeBooruKind / AutoBooruClient', () => {
  for (const kind of ['e621', 'moebooru', 'gelbooru'] as const) {
    it(`should recognise ${kind}`, async () => {
      const server = new FakeDialectServer(kind);
      await server.start();
      closers.push(() => server.close());
      expect(await probeBooruKind(httpFor(server.url, kind, { credentials: null }))).toBe(kind);
    });
  }

  it('should recognise Danbooru, then behave as its adapter', async () => {
    const server = new FakeDanbooruServer();
    server.addPosts([{ id: 4, tag_string: 'a' }]);
    await server.start();
    closers.push(() => server.close());
    const sut = new AutoBooruClient(httpFor(server.url, 'danbooru', { credentials: null }), logger);
    expect(sut.capabilities.canEditTags).toBe(false);
    expect((await sut.listPostsSince(0)).posts.map((p) => p.remoteId)).toEqual([4]);
    expect(sut.kind).toBe('danbooru');
    expect(sut.capabilities.canEditTags).toBe(true);
  });

  it('should say so when nothing answers like a booru', async () => {
    const server = new FakeDanbooruServer();
    await server.start();
    closers.push(() => server.close());
    server.failNext(10, 404);
    const error = await probeBooruKind(httpFor(server.url, 'danbooru')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).message).toMatch(/set BOORU_KIND/);
  });
});

describe('Danbooru write-back under faults', () => {
  async function danbooru(overrides: Partial<BooruHttpOptions> = {}) {
    // undici checks its timeouts about every 500 ms: "slow" must be clearly past that.
    const server = new FakeDanbooruServer({ credentials, slowMs: 1500 });
    server.addPosts([{ id: 1, tag_string: 'aaa bbb ccc', rating: 'g' }]);
    await server.start();
    closers.push(() => server.close());
    return { server, sut: createBooruAdapter('danbooru', httpFor(server.url, 'danbooru', overrides), logger) };
  }
  const change = { snapshot: ['aaa', 'bbb', 'ccc'], add: ['ddd'], remove: ['bbb'] };

  it('should detect HTTP 200 with nothing saved and report the change refused', async () => {
    const { server, sut } = await danbooru();
    server.failNext(1, 'unsaved', { method: 'PUT' });
    const result = await sut.updateTags(1, change);
    expect(result).toMatchObject({ sent: true, saved: false });
    expect(result.outcomes.map((o) => o.outcome)).toEqual(['refused', 'refused']);
    expect(server.getPost(1)?.tag_string).toBe('aaa bbb ccc');
  });

  it('should retry a write that timed out although the booru saved it, without damage (idempotent form)', async () => {
    const { server, sut } = await danbooru();
    server.editAsHuman(1, { add: ['human'] });
    server.failNext(1, 'slow', { method: 'PUT' });
    const result = await sut.updateTags(1, change);
    expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(2);
    expect(server.getPost(1)?.tag_string).toBe('aaa ccc ddd human');
    expect(result.outcomes.map((o) => o.outcome)).toEqual(['applied', 'applied']);
  });

  it('should retry a 500 and a 503 on write and end with exactly the merged tags', async () => {
    const { server, sut } = await danbooru();
    server.failNext(1, 500, { method: 'PUT' });
    server.failNext(1, 503, { method: 'PUT' });
    await sut.updateTags(1, change);
    expect(server.getPost(1)?.tag_string).toBe('aaa ccc ddd');
    for (const put of server.requests.filter((r) => r.method === 'PUT')) {
      const form = new URLSearchParams(put.body);
      expect(form.get('post[old_tag_string]')).toBe('aaa bbb ccc');
      expect(form.get('post[tag_string]')).toBe('aaa ccc ddd');
    }
  });

  it('should pause every request after a 429, not only the refused one', async () => {
    const { server, sut } = await danbooru({ retry: { retries: 0, rateLimitDelayMs: 60, rateLimitRetries: 1 } });
    server.failNext(1, 429);
    const started = performance.now();
    const [first, second] = await Promise.all([
      sut.getPost(1),
      new Promise((resolve) => setTimeout(resolve, 15)).then(() => sut.getPost(1)),
    ]);
    expect(first?.remoteId).toBe(1);
    expect(second?.remoteId).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(60);
    // The refused request, then both after the pause: nothing was sent during it.
    expect(server.requests).toHaveLength(3);
  });

  it('should not write to a post deleted since the suggestion (conflicted)', async () => {
    const { server, sut } = await danbooru();
    server.addPosts([{ id: 2, tag_string: 'aaa', is_deleted: true }]);
    const result = await sut.updateTags(2, { snapshot: ['aaa'], add: ['bbb'], remove: [] });
    expect(result.sent).toBe(false);
    expect(result.outcomes[0]?.outcome).toBe('conflicted');
    expect(server.requests.some((r) => r.method === 'PUT')).toBe(false);
  });
});
