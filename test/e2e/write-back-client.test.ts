/**
 * The apply job end to end on a real database: refusals classified by kind, HTTP 200 with nothing saved, the
 * per-minute tag-change budget, and a read-only Gelbooru whose approved suggestions are closed as report-only
 * without a single write.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BooruClient } from '../../src/booru/booru-client.js';
import { createBooruAdapter, QUERY_AUTH } from '../../src/booru/booru-factory.js';
import { BooruHttp } from '../../src/booru/http.js';
import { TagChangeBudget } from '../../src/booru/rate-limiter.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { CursorRepository } from '../../src/db/cursor.repository.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { FakeDialectServer } from '../helpers/fake-dialect.server.js';
import { applyApproved } from '../../src/worker/apply-approved.job.js';
import { crawlNewPosts } from '../../src/worker/crawl-posts.job.js';
import { uniqueBaseUrl } from '../helpers/factories.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { storeDiff } from '../helpers/seed.js';

describe('applyApproved against the fake boorus', () => {
  const database = useTestDatabase();
  const closers: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  async function setup(kind: 'danbooru' | 'gelbooru', url: string) {
    const prisma = database().prisma;
    const http = new BooruHttp({
      baseUrl: url,
      userAgent: 'booru-tagger/0.1 (write-back test)',
      logger: silentLogger,
      ...(QUERY_AUTH[kind] ? { queryAuth: QUERY_AUTH[kind] } : {}),
    });
    closers.push(() => http.close());
    const booru: BooruClient = createBooruAdapter(kind, http, silentLogger);
    const repos = {
      posts: new PostRepository(prisma),
      cursors: new CursorRepository(prisma),
      suggestions: new SuggestionRepository(prisma),
      tags: new TagRepository(prisma),
    };
    const stored = uniqueBaseUrl(url);
    const record = await new BooruRepository(prisma).ensure({
      name: stored,
      baseUrl: stored,
      kind,
    });
    const modelId = await new ModelRepository(prisma).ensure({
      name: 'm',
      version: url,
      sha256: `sha-${url}`,
      family: 'wd',
      purpose: 'tags',
      labels: [],
      manifest: {},
    });
    await crawlNewPosts(
      { ...repos, booru, logger: silentLogger },
      { booruId: record.id, minMediaSize: 1, maxPosts: 0 },
    );
    const approve = async (remoteId: number, drafts: { tag: string; action: 'add' | 'remove' }[]) => {
      const post = (await repos.posts.findByRemoteId(record.id, remoteId))!;
      await storeDiff(database().prisma, {
        postId: post.id,
        modelId,
        tagsVersion: post.tagsVersion,
        drafts: drafts.map((d) => ({ ...d, category: 0, score: d.action === 'add' ? 0.9 : 0.01, reason: 'test' })),
      });
      await repos.suggestions.decideAll({ verdict: 'approve', user: { id: null, name: 'mod' }, origin: 'test' });
    };
    const outcomes = async () =>
      prisma.suggestion.findMany({
        where: { post: { booruId: record.id } },
        select: { tag: true, status: true, applyOutcome: true, applyError: true },
        orderBy: { tag: 'asc' },
      });
    return { ...repos, booru, booruId: record.id, approve, outcomes, logger: silentLogger };
  }

  async function danbooru() {
    const server = new FakeDanbooruServer();
    server.addPosts([
      { id: 1, tag_string: 'animal_ears cat_ears solo', file_url: 'https://cdn.donmai.us/1.jpg' },
      { id: 2, tag_string: 'solo', file_url: 'https://cdn.donmai.us/2.jpg' },
      { id: 3, tag_string: 'solo', file_url: 'https://cdn.donmai.us/3.jpg' },
    ]);
    server.setImplications({ cat_ears: ['animal_ears'] });
    await server.start();
    closers.push(() => server.close());
    return server;
  }

  it('should record a removal the booru re-adds as refused_implied, with the implying tag named', async () => {
    const server = await danbooru();
    const ctx = await setup('danbooru', server.url);
    await ctx.tags.upsertRelations(ctx.booruId, 'implication', [
      { antecedent: 'cat_ears', consequent: 'animal_ears', status: 'active' },
    ]);
    await ctx.approve(1, [{ tag: 'animal_ears', action: 'remove' }]);
    const summary = await applyApproved(ctx, { booruId: ctx.booruId });
    expect(summary.refused).toBe(1);
    const [row] = await ctx.outcomes();
    expect(row).toMatchObject({ status: 'failed', applyOutcome: 'refused_implied' });
    expect(row?.applyError).toMatch(/implied by cat_ears/);
    expect(server.getPost(1)?.tag_string).toBe('animal_ears cat_ears solo');
  });

  it('should record HTTP 200 with nothing saved as refused_limit and leave the post alone', async () => {
    const server = await danbooru();
    const ctx = await setup('danbooru', server.url);
    await ctx.approve(2, [{ tag: 'hat', action: 'add' }]);
    server.failNext(1, 'unsaved', { method: 'PUT' });
    await applyApproved(ctx, { booruId: ctx.booruId });
    expect((await ctx.outcomes())[0]).toMatchObject({ status: 'failed', applyOutcome: 'refused_limit' });
    expect(server.getPost(2)?.tag_string).toBe('solo');
  });

  it('should leave edits beyond the per-minute tag budget approved for the next run', async () => {
    const server = await danbooru();
    const ctx = await setup('danbooru', server.url);
    await ctx.approve(2, [{ tag: 'hat', action: 'add' }]);
    await ctx.approve(3, [
      { tag: 'hat', action: 'add' },
      { tag: 'scarf', action: 'add' },
    ]);
    const budget = new TagChangeBudget(2);
    const first = await applyApproved({ ...ctx, budget }, { booruId: ctx.booruId, maxBudgetWaitMs: 0 });
    expect(first).toMatchObject({ applied: 1, budgetDeferred: 2 });
    expect(server.getPost(3)?.tag_string).toBe('solo');
    const next = await applyApproved({ ...ctx, budget: new TagChangeBudget(2) }, { booruId: ctx.booruId });
    expect(next.applied).toBe(2);
    expect(server.getPost(3)?.tag_string).toBe('hat scarf solo');
  });

  it('should close a suggestion for a post deleted since as conflicted, without a write', async () => {
    const server = await danbooru();
    const ctx = await setup('danbooru', server.url);
    await ctx.approve(2, [{ tag: 'hat', action: 'add' }]);
    server.addPosts([{ id: 2, tag_string: 'solo', is_deleted: true, file_url: 'https://cdn.donmai.us/2.jpg' }]);

    const summary = await applyApproved(ctx, { booruId: ctx.booruId });

    expect(summary).toMatchObject({ conflicted: 1, applied: 0, failed: 0 });
    const [row] = await ctx.outcomes();
    expect(row).toMatchObject({ status: 'failed', applyOutcome: 'conflicted' });
    expect(row?.applyError).toMatch(/deleted/);
    expect(server.requests.some((r) => r.method === 'PUT')).toBe(false);
  });

  describe('odd replies to a write: re-read, never failed blind, never lost or sent twice', () => {
    const puts = (server: FakeDanbooruServer) => server.requests.filter((r) => r.method === 'PUT').length;

    it.each([
      { fault: 'savedHtml200' as const, reply: "a proxy's 200 HTML page" },
      { fault: 'savedEmpty' as const, reply: 'an empty 200' },
    ])('should record an edit the booru saved as applied when the reply is $reply', async ({ fault }) => {
      const server = await danbooru();
      const ctx = await setup('danbooru', server.url);
      await ctx.approve(2, [{ tag: 'hat', action: 'add' }]);
      server.failNext(1, fault, { method: 'PUT' });

      const summary = await applyApproved(ctx, { booruId: ctx.booruId });

      expect(summary).toMatchObject({ applied: 1, failed: 0, deferred: 0 });
      expect((await ctx.outcomes())[0]).toMatchObject({ status: 'applied', applyOutcome: 'applied' });
      expect(server.getPost(2)?.tag_string).toBe('hat solo');
      expect(puts(server)).toBe(1);
    });

    it('should leave the suggestion approved when an HTML 200 came back and nothing was saved, and apply it next run', async () => {
      const server = await danbooru();
      const ctx = await setup('danbooru', server.url);
      await ctx.approve(2, [{ tag: 'hat', action: 'add' }]);
      server.failNext(1, 'html200', { method: 'PUT' });

      const first = await applyApproved(ctx, { booruId: ctx.booruId });

      expect(first).toMatchObject({ applied: 0, failed: 0, refused: 0, deferred: 1 });
      expect((await ctx.outcomes())[0]).toMatchObject({ status: 'approved', applyOutcome: null });
      expect(server.getPost(2)?.tag_string).toBe('solo');
      const next = await applyApproved(ctx, { booruId: ctx.booruId });
      expect(next).toMatchObject({ applied: 1, deferred: 0 });
      expect(server.getPost(2)?.tag_string).toBe('hat solo');
      expect(puts(server)).toBe(2);
    });

    it.each([
      { fault: 'html403' as const, what: 'a 403 challenge page' },
      { fault: 404 as const, what: 'a 404' },
    ])(
      'should defer, not fail, when the verifying re-read gets $what, and close it next run without a second write',
      async ({ fault }) => {
        const server = await danbooru();
        const ctx = await setup('danbooru', server.url);
        await ctx.approve(2, [{ tag: 'hat', action: 'add' }]);
        // The first GET of the post (before the write) passes; the one after the write fails.
        server.failNext(1, fault, { method: 'GET', path: '/posts/2.json', skip: 1 });

        const first = await applyApproved(ctx, { booruId: ctx.booruId });

        expect(first).toMatchObject({ failed: 0, deferred: 1 });
        expect((await ctx.outcomes())[0]).toMatchObject({ status: 'approved' });
        expect(server.getPost(2)?.tag_string).toBe('hat solo');
        const next = await applyApproved(ctx, { booruId: ctx.booruId });
        expect(next).toMatchObject({ alreadyApplied: 1, failed: 0, deferred: 0 });
        expect((await ctx.outcomes())[0]).toMatchObject({ status: 'already_applied' });
        expect(server.getPost(2)?.tag_string).toBe('hat solo');
        expect(puts(server)).toBe(1);
      },
    );
  });

  it('should close a Gelbooru suggestion as report_only without any write', async () => {
    const server = new FakeDialectServer('gelbooru');
    server.addPosts([{ id: 7, tag_string: 'solo' }]);
    await server.start();
    closers.push(() => server.close());
    const ctx = await setup('gelbooru', server.url);
    await ctx.approve(7, [{ tag: 'hat', action: 'add' }]);
    const summary = await applyApproved(ctx, { booruId: ctx.booruId });
    expect(summary).toMatchObject({ reportOnly: 1, applied: 0 });
    expect((await ctx.outcomes())[0]).toMatchObject({ status: 'failed', applyOutcome: 'report_only' });
    expect(server.requests.every((r) => r.method === 'GET')).toBe(true);
  });
});
