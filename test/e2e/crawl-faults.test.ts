/**
 * The crawl and the write-back against misbehaving boorus on loopback (every dialect's fake server, a real
 * PostgreSQL database): 429, 500/503, a response slower than the timeout, Cloudflare's HTML 403, 401, malformed
 * JSON, a truncated body, an empty page, a post whose JSON does not parse, HTTP 200 with nothing saved. After each,
 * every listed post is accounted for (stored, or recorded as skipped with a reason), the cursor is never past a post
 * the database has not seen, and no post's tags end up other than Danbooru's merge rule says.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BooruClient } from '../../src/booru/booru-client.js';
import { createBooruAdapter, QUERY_AUTH } from '../../src/booru/booru-factory.js';
import { BooruHttp, type BooruHttpOptions } from '../../src/booru/http.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { CursorRepository } from '../../src/db/cursor.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import type { FakeFault } from '../../src/demo/fake-danbooru.responses.js';
import type { FakePostInput } from '../../src/demo/fake-danbooru.store.js';
import { type FakeDialect, FakeDialectServer } from '../helpers/fake-dialect.server.js';
import { AppError } from '../../src/shared/errors.js';
import { type CrawlSummary, crawlNewPosts, POSTS_CURSOR } from '../../src/worker/crawl-posts.job.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

const credentials = { login: 'bot', apiKey: 'key-123' };
/** Ids 1…14; 5 deleted, 7 banned (no URLs, no md5, as Danbooru hides them), 9 pending. */
const POSTS: FakePostInput[] = Array.from({ length: 14 }, (_, i) => {
  const id = i + 1;
  const post: FakePostInput = { id, tag_string: `1girl tag_${id}`, rating: 'g' };
  if (id === 5) post['is_deleted'] = true;
  if (id === 7) Object.assign(post, { is_banned: true, md5: undefined });
  if (id === 9) post['is_pending'] = true;
  return post;
});
const RATE_LIMIT_PAUSE_MS = 40;

interface Fake {
  url: string;
  requests: { method: string; path: string }[];
  failNext(count: number, fault: FakeFault): void;
  addPosts(posts: FakePostInput[]): void;
  close(): Promise<void>;
}

async function startFake(dialect: 'danbooru' | FakeDialect): Promise<Fake> {
  if (dialect === 'danbooru') {
    const server = new FakeDanbooruServer({ credentials, slowMs: 1200 });
    // Danbooru hides the URLs and md5 of a banned post; the others get an image URL.
    server.addPosts(
      POSTS.map((p) => (p.id === 7 ? p : { ...p, file_url: `https://cdn.donmai.us/original/${p.id}.jpg` })),
    );
    await server.start();
    return {
      url: server.url,
      requests: server.requests,
      failNext: (count, fault) => server.failNext(count, fault, { path: '/posts' }),
      addPosts: (posts) => server.addPosts(posts),
      close: () => server.close(),
    };
  }
  const server = new FakeDialectServer(dialect, { credentials, slowMs: 1200 });
  server.addPosts(POSTS);
  await server.start();
  return {
    url: server.url,
    requests: server.requests,
    failNext: (count, fault) => server.failNext(count, fault),
    addPosts: (posts) => server.addPosts(posts),
    close: () => server.close(),
  };
}

describe('crawl under faults', () => {
  const database = useTestDatabase();
  let fake: Fake | null = null;
  const https: BooruHttp[] = [];

  afterEach(async () => {
    for (const http of https.splice(0)) await http.close();
    await fake?.close();
    fake = null;
  });

  function clientFor(dialect: 'danbooru' | FakeDialect, url: string, overrides: Partial<BooruHttpOptions> = {}) {
    const http = new BooruHttp({
      baseUrl: url,
      userAgent: 'booru-tagger/0.1 (crawl-faults test)',
      credentials,
      ...(QUERY_AUTH[dialect] ? { queryAuth: QUERY_AUTH[dialect] } : {}),
      headersTimeoutMs: 200,
      bodyTimeoutMs: 200,
      retry: { retries: 2, baseDelayMs: 2, maxDelayMs: 10, rateLimitDelayMs: RATE_LIMIT_PAUSE_MS, rateLimitRetries: 1 },
      logger: silentLogger,
      ...overrides,
    });
    https.push(http);
    return createBooruAdapter(dialect, http, silentLogger);
  }

  async function setup(dialect: 'danbooru' | FakeDialect) {
    fake = await startFake(dialect);
    const prisma = database().prisma;
    const boorus = new BooruRepository(prisma);
    const kind = dialect;
    const booru = await boorus.ensure({ name: `${dialect}-${fake.url}`, kind, baseUrl: fake.url });
    // The OS may hand a later fake the port of an earlier one, and so the same booru row: start it from scratch.
    await prisma.crawlCursor.deleteMany({ where: { booruId: booru.id } });
    await prisma.post.deleteMany({ where: { booruId: booru.id } });
    const deps = {
      booru: clientFor(dialect, fake.url),
      posts: new PostRepository(prisma),
      cursors: new CursorRepository(prisma),
      logger: silentLogger,
    };
    const crawl = (booruClient: BooruClient = deps.booru) =>
      crawlNewPosts(
        { ...deps, booru: booruClient },
        { booruId: booru.id, minMediaSize: 300, maxPosts: 0, pageSize: 4 },
      );
    return { ...deps, booruId: booru.id, crawl, dialect };
  }

  /** Every post at or below the cursor is stored; each skipped one has a reason; tags are the booru's. */
  async function expectAccountedFor(ctx: Awaited<ReturnType<typeof setup>>, all: boolean, dialect = ctx.dialect) {
    const cursor = Number((await ctx.cursors.get(ctx.booruId, POSTS_CURSOR)) ?? '0');
    const rows = await database().prisma.post.findMany({
      where: { booruId: ctx.booruId },
      orderBy: { remoteId: 'asc' },
    });
    const stored = new Map(rows.map((r) => [r.remoteId, r]));
    for (const post of POSTS.filter((p) => p.id <= cursor)) {
      const row = stored.get(post.id);
      expect(row, `post ${post.id} at or below cursor ${cursor} must be stored`).toBeDefined();
      if (row!.skipReason === null || !row!.skipReason.startsWith('unreadable')) {
        expect(row!.tags).toEqual(String(post['tag_string']).split(' ').sort());
      }
    }
    if (all) {
      expect(cursor).toBe(14);
      expect(stored.size).toBe(14);
      expect(stored.get(5)?.skipReason).toBe('deleted');
      // Danbooru flags a banned post and hides its URLs; e621 only hides the file; the others do not ban.
      if (dialect === 'danbooru') expect(stored.get(7)?.skipReason).toBe('banned');
      if (dialect === 'e621') expect(stored.get(7)?.skipReason).toMatch(/no media URL/);
      expect(stored.get(9)?.skipReason).toBe('pending');
      for (const id of [1, 2, 3, 4, 6, 8, 10]) expect(stored.get(id)?.state, `post ${id}`).toBe('new');
    }
    return cursor;
  }

  async function rejectionOf(promise: Promise<unknown>): Promise<AppError> {
    try {
      await promise;
    } catch (thrown) {
      expect(thrown).toBeInstanceOf(AppError);
      return thrown as AppError;
    }
    throw new Error('expected a rejection');
  }

  for (const dialect of ['danbooru', 'e621', 'moebooru', 'gelbooru'] as const) {
    describe(dialect, () => {
      it('should wait out a 429 for every request, then finish with every post accounted for', async () => {
        const ctx = await setup(dialect);
        fake!.failNext(1, 429);
        const started = performance.now();
        const summary = await ctx.crawl();
        expect(performance.now() - started).toBeGreaterThanOrEqual(RATE_LIMIT_PAUSE_MS);
        expect(summary).toMatchObject({ seen: 14, interrupted: null });
        await expectAccountedFor(ctx, true);
      });

      it('should stop after one retry when the 429s go on (no hammering), and resume from the cursor', async () => {
        const ctx = await setup(dialect);
        await ctx.crawl(); // establishes nothing special: first crawl reads everything …
        fake!.addPosts([{ id: 15, tag_string: 'late' }]);
        fake!.failNext(2, 429); // as many as the helper may send: the first try and its one retry
        const before = fake!.requests.length;
        const summary: CrawlSummary = await ctx.crawl();
        expect(summary.interrupted?.code).toBe('BOORU_RATE_LIMITED');
        expect(fake!.requests.length - before).toBe(2);
        expect(summary.cursor).toBe(14);
        await expectAccountedFor(ctx, true);
        // Once the booru lets us in again, the next run resumes from the cursor and loses nothing.
        expect(await ctx.crawl()).toMatchObject({ interrupted: null, cursor: 15 });
        const late = await database().prisma.post.findFirst({ where: { booruId: ctx.booruId, remoteId: 15 } });
        expect(late?.tags).toEqual(['late']);
        expect(await database().prisma.post.count({ where: { booruId: ctx.booruId } })).toBe(15);
      });

      it('should retry 500 and 503 with backoff and lose nothing', async () => {
        const ctx = await setup(dialect);
        fake!.failNext(1, 500);
        fake!.failNext(1, 503);
        expect(await ctx.crawl()).toMatchObject({ seen: 14, interrupted: null });
        await expectAccountedFor(ctx, true);
      });

      it('should retry a response slower than the timeout', async () => {
        const ctx = await setup(dialect);
        fake!.failNext(1, 'slow');
        expect(await ctx.crawl()).toMatchObject({ seen: 14, interrupted: null });
        await expectAccountedFor(ctx, true);
      });

      it('should retry malformed JSON and a truncated body', async () => {
        const ctx = await setup(dialect);
        fake!.failNext(1, 'malformed');
        fake!.failNext(1, 'truncated');
        expect(await ctx.crawl()).toMatchObject({ seen: 14, interrupted: null });
        await expectAccountedFor(ctx, true);
      });

      it('should end early on an empty page without moving the cursor, and resume next run', async () => {
        const ctx = await setup(dialect);
        fake!.failNext(1, 'empty');
        expect(await ctx.crawl()).toMatchObject({ seen: 0, cursor: 0 });
        await expectAccountedFor(ctx, false);
        expect(await ctx.crawl()).toMatchObject({ seen: 14 });
        await expectAccountedFor(ctx, true);
      });

      it('should stop on a Cloudflare HTML 403 with a clear "blocked" error and keep the cursor', async () => {
        const ctx = await setup(dialect);
        fake!.failNext(1, 'html403');
        const error = await rejectionOf(ctx.crawl());
        expect(error.code).toBe('BOORU_BLOCKED');
        expect(error.message).toMatch(/User-Agent/);
        expect(await expectAccountedFor(ctx, false)).toBe(0);
        await ctx.crawl();
        await expectAccountedFor(ctx, true);
      });

      it('should stop on bad credentials with a clear credentials error', async () => {
        const ctx = await setup(dialect);
        const wrong = clientFor(dialect, fake!.url, { credentials: { login: 'bot', apiKey: 'wrong' } });
        const error = await rejectionOf(ctx.crawl(wrong));
        expect(error.code).toBe('BOORU_AUTH');
        expect(error.message).toMatch(/BOORU_LOGIN/);
        expect(error.message).not.toContain('wrong');
        // Nothing stored and the cursor untouched; with the right key the next run stores everything.
        expect(await database().prisma.post.count({ where: { booruId: ctx.booruId } })).toBe(0);
        expect(await ctx.cursors.get(ctx.booruId, POSTS_CURSOR)).toBeNull();
        await ctx.crawl();
        await expectAccountedFor(ctx, true);
      });
    });
  }

  it('should record a post whose JSON does not parse as skipped by id and move past it (Danbooru)', async () => {
    const ctx = await setup('danbooru');
    fake!.addPosts([
      { id: 15, tag_string: 'x', rating: 'z' },
      { id: 16, tag_string: 'fine' },
    ]);
    const summary = await ctx.crawl();
    expect(summary).toMatchObject({ seen: 16, unreadable: 1, cursor: 16 });
    const row = await database().prisma.post.findFirst({ where: { booruId: ctx.booruId, remoteId: 15 } });
    expect(row).toMatchObject({ state: 'skipped' });
    expect(row?.skipReason).toMatch(/^unreadable: .*rating/);
  });

  it('should never let the cursor pass the posts of a page it could not store', async () => {
    const ctx = await setup('danbooru');
    const failing = { ...ctx.posts, upsertMany: async () => Promise.reject(new Error('database down')) };
    await expect(
      crawlNewPosts(
        { ...ctx, posts: failing as unknown as PostRepository },
        { booruId: ctx.booruId, minMediaSize: 300, maxPosts: 0, pageSize: 4 },
      ),
    ).rejects.toThrow('database down');
    expect(await ctx.cursors.get(ctx.booruId, POSTS_CURSOR)).toBeNull();
  });

  it('should keep the cursor at the last stored page when the database fails after earlier pages were stored', async () => {
    const ctx = await setup('danbooru');
    let pages = 0;
    const failing: PostRepository = Object.create(ctx.posts);
    failing.upsertMany = (...args) =>
      ++pages <= 2 ? ctx.posts.upsertMany(...args) : Promise.reject(new Error('database down'));
    await expect(
      crawlNewPosts({ ...ctx, posts: failing }, { booruId: ctx.booruId, minMediaSize: 300, maxPosts: 0, pageSize: 4 }),
    ).rejects.toThrow('database down');
    // Two pages of 4 stored: the cursor is at their last post, not past the page that failed.
    const cursor = await expectAccountedFor(ctx, false);
    expect(cursor).toBe(8);
    expect(await database().prisma.post.count({ where: { booruId: ctx.booruId } })).toBe(8);
    await ctx.crawl();
    await expectAccountedFor(ctx, true);
  });
});
