/**
 * The re-scan of changed posts (worker/rescan-posts.job.ts) on a real database against the fake Szurubooru: the
 * adapter lists posts by last edit (`last-edit-date-min:1970 sort:last-edit-date`), so posts humans edited are read
 * back, newest first, and posts never edited are not read at all; what a human already did is closed as
 * `already_applied`, also when done under an alias of the suggested tag.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BooruHttp } from '../../src/booru/http.js';
import { SzurubooruClient } from '../../src/booru/szurubooru.client.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { CursorRepository } from '../../src/db/cursor.repository.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { crawlNewPosts } from '../../src/worker/crawl-posts.job.js';
import { CHANGES_CURSOR, rescanChangedPosts } from '../../src/worker/rescan-posts.job.js';
import { aDraft, uniqueBaseUrl } from '../helpers/factories.js';
import { FakeSzurubooruServer } from '../helpers/fake-szurubooru.server.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { storeDiff } from '../helpers/seed.js';

const PNG = Buffer.from('89504e470d0a1a0a', 'hex');

describe('rescanChangedPosts on szurubooru', () => {
  const database = useTestDatabase();
  let server: FakeSzurubooruServer;
  let http: BooruHttp;

  beforeEach(async () => {
    server = new FakeSzurubooruServer();
    server.addTag({ names: ['hat', 'headwear'] });
    for (let id = 1; id <= 5; id++) {
      server.addPost({ id, tags: id === 1 ? ['dog', 'solo'] : ['solo'] }, { bytes: PNG, mimeType: 'image/png' });
    }
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
    const booru = await new BooruRepository(prisma).ensure({ name: stored, baseUrl: stored, kind: 'szurubooru' });
    const modelId = await new ModelRepository(prisma).ensure({
      name: 'm',
      version: stored,
      sha256: `sha-${stored}`,
      family: 'wd',
      purpose: 'tags',
      labels: [],
      manifest: {},
    });
    const deps = { ...repos, booru: new SzurubooruClient(http, { logger: silentLogger }), logger: silentLogger };
    await crawlNewPosts(deps, { booruId: booru.id, minMediaSize: 300, maxPosts: 0 });
    await repos.tags.upsertRelations(booru.id, 'alias', [
      { antecedent: 'headwear', consequent: 'hat', status: 'active' },
    ]);
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
    return { ...deps, booruId: booru.id, suggest, rescan, statusOf };
  }

  it('should read back only what humans edited and close what they already did', async () => {
    const ctx = await setup();
    await ctx.suggest(1, [{ tag: 'cat' }, { tag: 'dog', action: 'remove', score: 0.01 }]);
    await ctx.suggest(2, [{ tag: 'hat' }]);
    await ctx.suggest(3, [{ tag: 'tree' }]);

    server.editAsHuman(1, { add: ['cat'], remove: ['dog'] });
    // Under the alias: szurubooru stores the tag itself, read back by its first name.
    server.editAsHuman(2, { add: ['headwear'] });

    const summary = await ctx.rescan();
    expect(summary).toMatchObject({ supported: true, refreshed: 2, changed: 2, alreadyApplied: 3, interrupted: null });
    expect(await ctx.statusOf(1, 'cat')).toBe('already_applied');
    expect(await ctx.statusOf(1, 'dog')).toBe('already_applied');
    expect(await ctx.statusOf(2, 'hat')).toBe('already_applied');
    expect(await ctx.statusOf(3, 'tree')).toBe('pending');
    expect((await ctx.posts.findByRemoteId(ctx.booruId, 1))?.tags).toEqual(['cat', 'solo']);
    expect((await ctx.posts.findByRemoteId(ctx.booruId, 2))?.tags).toEqual(['hat', 'solo']);
    const lists = server.requests.filter((r) => r.path === '/api/posts/' && r.query['query']?.includes('last-edit'));
    expect(lists.map((r) => r.query['offset'])).toEqual(['0', '2']);
  });

  it('should store a post the id listing skipped from the window below the cursor (the re-scan cannot see it)', async () => {
    server.addPost({ id: 6, tags: ['solo'] }, { bytes: PNG, mimeType: 'image/png' });
    server.addPost({ id: 7, tags: ['solo'] }, { bytes: PNG, mimeType: 'image/png' });
    server.delayCommit(6);
    const ctx = await setup();
    expect(await ctx.posts.findByRemoteId(ctx.booruId, 6)).toBeNull();
    expect(await ctx.cursors.get(ctx.booruId, 'posts')).toBe('7');
    server.commit(6);
    // Never edited: the change listing does not show it.
    expect((await ctx.rescan()).refreshed).toBe(0);
    const crawl = await crawlNewPosts(ctx, { booruId: ctx.booruId, minMediaSize: 300, maxPosts: 0 });
    expect(crawl.recovered).toBe(1);
    expect((await ctx.posts.findByRemoteId(ctx.booruId, 6))?.tags).toEqual(['solo']);
  });

  it('should move the cursor to the newest edit read and refresh a later edit on the next pass', async () => {
    const ctx = await setup();
    server.editAsHuman(5, { add: ['early'] });
    const first = await ctx.rescan();
    expect(first.refreshed).toBe(1);
    expect(await ctx.cursors.get(ctx.booruId, CHANGES_CURSOR)).toBe(first.cursor);
    expect(first.cursor).toBe(server.getPost(5)?.lastEditTime);
    server.editAsHuman(4, { add: ['late'] });
    const second = await ctx.rescan();
    expect(Date.parse(second.cursor!)).toBeGreaterThan(Date.parse(first.cursor!));
    expect((await ctx.posts.findByRemoteId(ctx.booruId, 4))?.tags).toEqual(['late', 'solo']);
  });
});
