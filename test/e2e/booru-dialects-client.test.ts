/**
 * The e621, Moebooru and Gelbooru adapters and `BOORU_KIND=auto` against their fake servers on loopback, and the
 * Danbooru write-back under faults: every edit is merge-safe (a human's concurrent edit survives), verified by a
 * fresh read, and retried only in its idempotent form.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AutoBooruClient, createBooruAdapter, probeBooruKind, QUERY_AUTH } from '../../src/booru/booru-factory.js';
import { BooruHttp, type BooruHttpOptions } from '../../src/booru/http.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { type FakeDialect, FakeDialectServer } from '../../src/demo/fake-dialect.server.js';
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

  it('should read a deleted post as deleted, without URLs, and refuse to list changes', async () => {
    const { sut } = await dialect('moebooru');
    expect(await sut.getPost(3)).toMatchObject({ isDeleted: true, fileUrl: null });
    await expect(sut.listPostsByChange(1)).rejects.toMatchObject({ code: 'USAGE' });
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
    const { sut } = await dialect('gelbooru');
    const tags = await sut.listTags({ afterId: 0 });
    expect(tags.find((t) => t.name === 'artist_x')).toMatchObject({ category: 1 });
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
