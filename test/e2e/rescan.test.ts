/**
 * The re-scan of changed posts on a real database against the fake Danbooru: humans edit tags between passes; the
 * re-scan refreshes the stored tags, closes what a human already did as `already_applied`, supersedes what no longer
 * applies, keeps the rest, and moves its cursor only over what it read.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DanbooruClient } from '../../src/booru/danbooru.client.js';
import { BooruHttp } from '../../src/booru/http.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { CursorRepository } from '../../src/db/cursor.repository.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { crawlNewPosts } from '../../src/worker/crawl-posts.job.js';
import { CHANGES_CURSOR, rescanChangedPosts } from '../../src/worker/rescan-posts.job.js';
import { aDraft, uniqueBaseUrl } from '../helpers/factories.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { storeDiff } from '../helpers/seed.js';

describe('rescanChangedPosts', () => {
  const database = useTestDatabase();
  let server: FakeDanbooruServer;
  let http: BooruHttp;

  beforeEach(async () => {
    server = new FakeDanbooruServer();
    server.addPosts([
      { id: 1, tag_string: 'dog solo', file_url: 'https://cdn.donmai.us/1.jpg' },
      { id: 2, tag_string: 'solo', file_url: 'https://cdn.donmai.us/2.jpg' },
      { id: 3, tag_string: 'solo', file_url: 'https://cdn.donmai.us/3.jpg' },
      { id: 4, tag_string: 'solo', file_url: 'https://cdn.donmai.us/4.jpg' },
    ]);
    await server.start();
    http = new BooruHttp({ baseUrl: server.url, userAgent: 'booru-tagger/0.1 (rescan test)', logger: silentLogger });
  });

  afterEach(async () => {
    await http.close();
    await server.close();
  });

  async function setup() {
    const prisma = database().prisma;
    const repos = {
      posts: new PostRepository(prisma),
      cursors: new CursorRepository(prisma),
      suggestions: new SuggestionRepository(prisma),
      tags: new TagRepository(prisma),
    };
    const stored = uniqueBaseUrl(server.url);
    const booru = await new BooruRepository(prisma).ensure({
      name: stored,
      baseUrl: stored,
      kind: 'danbooru',
    });
    const modelId = await new ModelRepository(prisma).ensure({
      name: 'm',
      version: server.url,
      sha256: `sha-${server.url}`,
      family: 'wd',
      purpose: 'tags',
      labels: [],
      manifest: {},
    });
    const deps = { ...repos, booru: new DanbooruClient(http, { logger: silentLogger }), logger: silentLogger };
    await crawlNewPosts(deps, { booruId: booru.id, minMediaSize: 300, maxPosts: 0 });
    const suggest = async (remoteId: number, drafts: Parameters<typeof aDraft>[0][]) => {
      const post = (await repos.posts.findByRemoteId(booru.id, remoteId))!;
      await storeDiff(database().prisma, {
        postId: post.id,
        modelId,
        tagsVersion: post.tagsVersion,
        drafts: drafts.map(aDraft),
      });
    };
    const rescan = () =>
      rescanChangedPosts(deps, { booruId: booru.id, minMediaSize: 300, windowMs: 3_600_000, pageSize: 2 });
    const statusOf = async (remoteId: number, tag: string) => {
      const post = (await repos.posts.findByRemoteId(booru.id, remoteId))!;
      return (await prisma.suggestion.findFirst({ where: { postId: post.id, tag }, orderBy: { id: 'desc' } }))?.status;
    };
    return { ...deps, booruId: booru.id, suggest, rescan, statusOf, prisma };
  }

  it('should close what humans did, supersede what no longer applies, keep the rest and refresh tags', async () => {
    const ctx = await setup();
    await ctx.suggest(1, [{ tag: 'cat' }, { tag: 'dog', action: 'remove', score: 0.01 }]);
    await ctx.suggest(2, [{ tag: 'animal' }]);
    await ctx.suggest(3, [{ tag: 'hat' }]);
    await ctx.suggest(4, [{ tag: 'tree' }]);

    server.editAsHuman(1, { add: ['cat'], remove: ['dog'] });
    server.setImplications({ fox: ['animal'] });
    server.editAsHuman(2, { add: ['fox'] });
    server.addPosts([{ id: 3, tag_string: 'solo', is_deleted: true }]);

    const summary = await ctx.rescan();
    // Danbooru adds implied tags itself: fox brought animal along, so that suggestion is done too.
    expect(summary).toMatchObject({ supported: true, alreadyApplied: 3, superseded: 1, interrupted: null });
    expect(await ctx.statusOf(2, 'animal')).toBe('already_applied');
    expect(await ctx.statusOf(1, 'cat')).toBe('already_applied');
    expect(await ctx.statusOf(1, 'dog')).toBe('already_applied');
    expect(await ctx.statusOf(3, 'hat')).toBe('superseded');
    expect(await ctx.statusOf(4, 'tree')).toBe('pending');
    expect((await ctx.posts.findByRemoteId(ctx.booruId, 1))?.tags).toEqual(['cat', 'solo']);
    expect((await ctx.posts.findByRemoteId(ctx.booruId, 3))?.isDeleted).toBe(true);
    const decisions = await ctx.prisma.decision.findMany({ where: { actor: 'rescan' } });
    expect(decisions.length).toBeGreaterThanOrEqual(3);
  });

  it('should supersede an add that a newly added tag now implies (with synced implications)', async () => {
    const ctx = await setup();
    await ctx.tags.upsertRelations(ctx.booruId, 'implication', [
      { antecedent: 'fox', consequent: 'animal', status: 'active' },
    ]);
    await ctx.suggest(2, [{ tag: 'animal' }]);
    server.editAsHuman(2, { add: ['fox'] });
    expect(await ctx.rescan()).toMatchObject({ superseded: 1 });
    expect(await ctx.statusOf(2, 'animal')).toBe('superseded');
  });

  it('should move the cursor to the newest change read and read less on the next pass', async () => {
    const ctx = await setup();
    const first = await ctx.rescan();
    expect(first.cursor).not.toBeNull();
    expect(await ctx.cursors.get(ctx.booruId, CHANGES_CURSOR)).toBe(first.cursor);
    server.editAsHuman(4, { add: ['late'] });
    const second = await ctx.rescan();
    expect(Date.parse(second.cursor!)).toBeGreaterThan(Date.parse(first.cursor!));
    expect((await ctx.posts.findByRemoteId(ctx.booruId, 4))?.tags).toEqual(['late', 'solo']);
  });

  it('should keep the cursor when a transient failure interrupts the pass', async () => {
    const ctx = await setup();
    const shaky = new BooruHttp({
      baseUrl: server.url,
      userAgent: 'booru-tagger/0.1 (rescan test)',
      logger: silentLogger,
      retry: { retries: 0 },
    });
    server.failNext(1, 503);
    const summary = await rescanChangedPosts(
      { ...ctx, booru: new DanbooruClient(shaky, { logger: silentLogger }) },
      { booruId: ctx.booruId, minMediaSize: 300, windowMs: 3_600_000 },
    );
    await shaky.close();
    expect(summary.interrupted?.code).toBe('BOORU_HTTP');
    expect(await ctx.cursors.get(ctx.booruId, CHANGES_CURSOR)).toBeNull();
  });
});
