import { UNRECORDED_VOCABULARY } from '../../src/core/vocabulary-freshness.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TaggingRepository, type TaggingResult } from '../../src/db/tagging.repository.js';
import { defaultDiffPolicy } from '../helpers/policy.js';
import { NO_TAG_FACTS } from '../../src/core/tag-vocabulary.js';
import { buildDiffContext } from '../../src/worker/diff-context.js';
import { rediffChangedPosts } from '../../src/worker/rediff-posts.job.js';
import { aBooruPost, aDraft, aPostUpsert } from '../helpers/factories.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

describe('TaggingRepository', () => {
  const database = useTestDatabase();
  let booruId: number;
  let modelId: number;
  let posts: PostRepository;
  let suggestions: SuggestionRepository;
  let sut: TaggingRepository;
  let nextRemoteId = 1;

  beforeAll(async () => {
    const { prisma } = database();
    booruId = (await new BooruRepository(prisma).ensure({ name: 't', kind: 'danbooru', baseUrl: 'http://t.test' })).id;
    modelId = await new ModelRepository(prisma).ensure({
      name: 'm',
      version: '1',
      sha256: 'b'.repeat(64),
      family: 'wd',
      purpose: 'tags',
      labels: [],
      manifest: {},
    });
    posts = new PostRepository(prisma);
    suggestions = new SuggestionRepository(prisma);
    sut = new TaggingRepository(prisma);
  });

  /** Crawls `n` new posts and claims them for `owner`. */
  async function claimed(n: number, owner = 'w1') {
    const rows = Array.from({ length: n }, () => aPostUpsert({ remoteId: nextRemoteId++ }));
    await posts.upsertMany(booruId, rows);
    return posts.claimBatch({ booruId, owner, limit: n, leaseMs: 60_000 });
  }

  function resultOf(post: { id: number; tagsVersion: number }, tags: string[]): TaggingResult {
    return {
      syncGeneration: 0,
      postId: post.id,
      tagsVersion: post.tagsVersion,
      labelIdx: [0, 3],
      scores: [0.5, 0.25],
      floor: 0.01,
      drafts: tags.map((tag) => aDraft({ tag })),
    };
  }

  describe('storeResults', () => {
    it('should store scores, suggestions and the tagged state of a whole batch', async () => {
      const batch = await claimed(50);
      const summary = await sut.storeResults({
        rejectMargin: 0.1,
        modelId,
        owner: 'w1',
        results: batch.map((post, i) => resultOf(post, i % 2 === 0 ? ['cat_ears', 'smile'] : [])),
      });
      expect(summary).toMatchObject({ tagged: 50, lostLease: [], created: 50, kept: 0, superseded: 0 });
      const { prisma } = database();
      const ids = batch.map((p) => p.id);
      expect(await prisma.prediction.count({ where: { postId: { in: ids } } })).toBe(50);
      const stored = await prisma.prediction.findFirst({ where: { postId: ids[0] } });
      expect(stored).toMatchObject({ labelIdx: [0, 3], scores: [0.5, 0.25], floor: expect.closeTo(0.01, 6) });
      expect(await prisma.post.count({ where: { id: { in: ids }, state: 'tagged', leaseOwner: null } })).toBe(50);
    });

    it('should drop the results of posts whose lease another worker took over', async () => {
      const [mine, stolen] = await claimed(2, 'w1');
      const { prisma } = database();
      await prisma.post.update({ where: { id: stolen!.id }, data: { leaseOwner: 'w2' } });
      const summary = await sut.storeResults({
        rejectMargin: 0.1,
        modelId,
        owner: 'w1',
        results: [resultOf(mine!, ['a']), resultOf(stolen!, ['b'])],
      });
      expect(summary).toMatchObject({ tagged: 1, lostLease: [stolen!.id], created: 1 });
      expect(await prisma.prediction.count({ where: { postId: stolen!.id } })).toBe(0);
      expect(await prisma.suggestion.count({ where: { postId: stolen!.id } })).toBe(0);
      expect((await prisma.post.findUnique({ where: { id: stolen!.id } }))?.state).toBe('queued');
    });

    it('should keep, supersede and suppress like the per-post replacement when a post is scored again', async () => {
      const [post] = await claimed(1);
      await sut.storeResults({
        rejectMargin: 0.1,
        modelId,
        owner: 'w1',
        results: [resultOf(post!, ['keep', 'drop', 'veto'])],
      });
      const veto = (await suggestions.list({ status: 'pending', limit: 100, offset: 0 })).find(
        (s) => s.postId === post!.id && s.tag === 'veto',
      );
      await suggestions.decide({ ids: [veto!.id], verdict: 'reject', user: { id: null, name: 'mod' }, origin: 'test' });
      const { prisma } = database();
      // The lease expired and the post came back (a second model, a crash): score it again.
      await prisma.post.update({ where: { id: post!.id }, data: { state: 'new' } });
      const [again] = await posts.claimBatch({ booruId, owner: 'w1', limit: 100, leaseMs: 60_000 });
      expect(again?.id).toBe(post!.id);
      const summary = await sut.storeResults({
        rejectMargin: 0.1,
        modelId,
        owner: 'w1',
        results: [resultOf(again!, ['keep', 'veto', 'new'])],
      });
      expect(summary).toMatchObject({ tagged: 1, created: 1, kept: 1, superseded: 1, suppressed: 1 });
      const rows = await prisma.suggestion.findMany({ where: { postId: post!.id }, orderBy: { id: 'asc' } });
      expect(rows.map((r) => `${r.tag}:${r.status}`)).toEqual([
        'keep:pending',
        'drop:superseded',
        'veto:rejected',
        'new:pending',
      ]);
      expect(await prisma.prediction.count({ where: { postId: post!.id } })).toBe(1);
    });

    it('should let two workers write overlapping batches without duplicates', async () => {
      const batch = await claimed(20);
      const results = batch.map((post) => resultOf(post, ['x', 'y']));
      const [a, b] = await Promise.all([
        sut.storeResults({ rejectMargin: 0.1, modelId, owner: 'w1', results }),
        sut.storeResults({ rejectMargin: 0.1, modelId, owner: 'w1', results: [...results].reverse() }),
      ]);
      // The first writer tags them all; the second finds the leases gone (the posts are tagged) and drops its copy.
      expect(a.tagged + b.tagged).toBe(20);
      const { prisma } = database();
      expect(await prisma.suggestion.count({ where: { postId: { in: batch.map((p) => p.id) } } })).toBe(40);
    });
  });

  describe('claimBatch with maxAttempts', () => {
    it('should fail a post whose lease keeps expiring instead of claiming it forever', async () => {
      const { prisma } = database();
      const [post] = await claimed(1, 'crashed');
      await prisma.post.update({
        where: { id: post!.id },
        data: { attempts: 3, leaseExpiresAt: new Date(Date.now() - 1000) },
      });
      const again = await posts.claimBatch({ booruId, owner: 'w1', limit: 100, leaseMs: 60_000, maxAttempts: 3 });
      expect(again.map((p) => p.id)).not.toContain(post!.id);
      const row = await prisma.post.findUnique({ where: { id: post!.id } });
      expect(row).toMatchObject({ state: 'failed', leaseOwner: null });
      expect(row?.lastError).toMatch(/lease expired after attempt 3/);
    });
  });

  describe('heartbeat and release', () => {
    it('should extend only our leases and give unstarted posts back uncounted', async () => {
      const { prisma } = database();
      const batch = await claimed(3, 'w9');
      const ids = batch.map((p) => p.id);
      expect(await posts.heartbeat(ids, 'someone-else', 60_000)).toBe(0);
      expect(await posts.heartbeat(ids, 'w9', 120_000)).toBe(3);
      expect(await posts.release(ids, 'w9')).toBe(3);
      const rows = await prisma.post.findMany({ where: { id: { in: ids } } });
      expect(rows.every((r) => r.state === 'new' && r.leaseOwner === null && r.attempts === 0)).toBe(true);
    });
  });

  describe('re-diff of posts edited after scoring', () => {
    it('should supersede what a human did meanwhile and propose what the new tags call for, without re-inference', async () => {
      const labels = [
        { name: 'cat_ears', category: 0 },
        { name: 'smile', category: 0 },
      ];
      const context = buildDiffContext(labels, NO_TAG_FACTS, [], defaultDiffPolicy(), UNRECORDED_VOCABULARY);
      const [post] = await claimed(1);
      // Scored: cat_ears 0.9 (add), smile 0.001 (not on the post yet).
      await sut.storeResults({
        rejectMargin: 0.1,
        modelId,
        owner: 'w1',
        results: [
          {
            syncGeneration: 0,
            postId: post!.id,
            tagsVersion: post!.tagsVersion,
            labelIdx: [0, 1],
            scores: [0.9, 0.001],
            floor: 0.01,
            drafts: [aDraft({ tag: 'cat_ears', score: 0.9 })],
          },
        ],
      });
      // A human adds cat_ears (the suggestion) and smile (which the model scores 0.001) on the booru; a re-scan stores it.
      await posts.refreshFromBooru(
        post!.id,
        aBooruPost({ remoteId: post!.remoteId, tags: ['1girl', 'cat_ears', 'smile', 'solo'] }),
      );
      const summary = await rediffChangedPosts({ tagging: sut, logger: silentLogger }, { booruId, modelId, context });
      expect(summary).toMatchObject({ posts: 1, created: 1, superseded: 1 });
      const { prisma } = database();
      const rows = await prisma.suggestion.findMany({ where: { postId: post!.id }, orderBy: { id: 'asc' } });
      expect(rows.map((r) => `${r.action} ${r.tag}:${r.status}`)).toEqual([
        'add cat_ears:superseded',
        'remove smile:pending',
      ]);
      // Done: nothing is stale any more.
      expect(await sut.listStale(booruId, modelId, 10)).toEqual([]);
    });
  });

  describe('concurrent re-diffs of one post', () => {
    it('should let each plan from the suggestions the one before it wrote, so none fails on a duplicate', async () => {
      const { prisma } = database();
      const [post] = await claimed(1);
      await sut.storeResults({ rejectMargin: 0.1, modelId, owner: 'w1', results: [resultOf(post!, ['cat_ears'])] });
      const rediff = () =>
        new TaggingRepository(prisma).storeRediffs({
          rejectMargin: 0.1,
          modelId,
          syncGeneration: 0,
          results: [{ postId: post!.id, tagsVersion: post!.tagsVersion, drafts: [aDraft({ tag: 'smile' })] }],
        });

      const outcomes = await Promise.allSettled([rediff(), rediff(), rediff(), rediff()]);

      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
      const rows = await prisma.suggestion.findMany({ where: { postId: post!.id }, orderBy: { id: 'asc' } });
      expect(rows.map((r) => `${r.tag}:${r.status}`)).toEqual(['cat_ears:superseded', 'smile:pending']);
    });
  });

  describe('a file replaced while it is being scored', () => {
    it("should drop the old file's scores and queue the post again for the new file", async () => {
      const { prisma } = database();
      const [post] = await claimed(1);
      // A crawl or re-scan sees a new md5 while the worker still scores the old file.
      await posts.upsertMany(booruId, [aPostUpsert({ remoteId: post!.remoteId, md5: 'f'.repeat(32) })]);
      const summary = await sut.storeResults({
        rejectMargin: 0.1,
        modelId,
        owner: 'w1',
        results: [resultOf(post!, ['stale'])],
      });
      expect(summary.lostLease).toEqual([post!.id]);
      expect(await prisma.prediction.count({ where: { postId: post!.id } })).toBe(0);
      expect(await prisma.suggestion.count({ where: { postId: post!.id } })).toBe(0);
      const row = await prisma.post.findUniqueOrThrow({ where: { id: post!.id } });
      expect([row.state, row.leaseOwner, row.attempts]).toEqual(['new', null, 0]);
      const again = await posts.claimBatch({ booruId, owner: 'w2', limit: 1000, leaseMs: 60_000 });
      expect(again.find((p) => p.id === post!.id)?.md5).toBe('f'.repeat(32));
    });
  });

  describe('rating suggestions from another model', () => {
    it('should keep the rating model as the author of a refreshed rating suggestion', async () => {
      const { prisma } = database();
      const rater = await new ModelRepository(prisma).ensure({
        name: 'rater',
        version: '1',
        sha256: 'd'.repeat(64),
        family: 'custom',
        purpose: 'rating',
        labels: [],
        manifest: {},
      });
      const [post] = await claimed(1);
      const withRating = (p: { id: number; tagsVersion: number }, score: number): TaggingResult => ({
        ...resultOf(p, ['cat_ears']),
        drafts: [
          aDraft({ tag: 'cat_ears' }),
          { ...aDraft({ tag: 'rating:q', action: 'rating', score }), category: null, modelId: rater },
        ],
      });
      await sut.storeResults({ rejectMargin: 0.1, modelId, owner: 'w1', results: [withRating(post!, 0.85)] });
      await posts.queueRescore(booruId, modelId + 999);
      const [again] = await posts
        .claimBatch({ booruId, owner: 'w1', limit: 1000, leaseMs: 60_000 })
        .then((rows) => rows.filter((p) => p.id === post!.id));
      const summary = await sut.storeResults({
        rejectMargin: 0.1,
        modelId,
        owner: 'w1',
        results: [withRating(again!, 0.95)],
      });
      expect(summary).toMatchObject({ tagged: 1, created: 0, kept: 2, superseded: 0 });
      const rating = await prisma.suggestion.findFirstOrThrow({ where: { postId: post!.id, action: 'rating' } });
      expect([rating.status, rating.score, rating.modelId]).toEqual(['pending', 0.95, rater]);
    });

    it('should leave rating suggestions alone when a re-diff does not read the rating model', async () => {
      const { prisma } = database();
      const [post] = await claimed(1);
      await sut.storeResults({
        rejectMargin: 0.1,
        modelId,
        owner: 'w1',
        results: [
          {
            ...resultOf(post!, ['cat_ears']),
            drafts: [aDraft({ tag: 'cat_ears' }), aDraft({ tag: 'rating:s', action: 'rating' })],
          },
        ],
      });
      const summary = await sut.storeRediffs({
        rejectMargin: 0.1,
        modelId,
        syncGeneration: 0,
        keepRatings: true,
        results: [{ postId: post!.id, tagsVersion: post!.tagsVersion, drafts: [aDraft({ tag: 'smile' })] }],
      });
      expect(summary).toMatchObject({ created: 1, superseded: 1 });
      const rows = await prisma.suggestion.findMany({ where: { postId: post!.id }, orderBy: { id: 'asc' } });
      expect(rows.map((r) => `${r.action} ${r.tag}:${r.status}`)).toEqual([
        'add cat_ears:superseded',
        'rating rating:s:pending',
        'add smile:pending',
      ]);
    });
  });

  describe('model change', () => {
    it('should queue what the old model scored behind new posts, and keep suggestions the new model agrees with', async () => {
      const { prisma } = database();
      const [old] = await claimed(1);
      await sut.storeResults({
        rejectMargin: 0.1,
        modelId,
        owner: 'w1',
        results: [resultOf(old!, ['agreed', 'disputed'])],
      });
      const newModel = await new ModelRepository(prisma).ensure({
        name: 'm',
        version: '2',
        sha256: 'c'.repeat(64),
        family: 'wd',
        purpose: 'tags',
        labels: [],
        manifest: {},
      });
      const queued = await posts.queueRescore(booruId, newModel);
      expect(queued).toBeGreaterThanOrEqual(1);
      // A post crawled after the change is claimed before the archive.
      await posts.upsertMany(booruId, [aPostUpsert({ remoteId: 90_000 })]);
      const fresh = await prisma.post.count({ where: { booruId, state: 'new', taggedAt: null } });
      const first = await posts.claimBatch({ booruId, owner: 'w1', limit: fresh, leaseMs: 60_000 });
      expect(first.map((p) => p.remoteId)).toContain(90_000);
      expect(first.map((p) => p.id)).not.toContain(old!.id);
      const rest = await posts.claimBatch({ booruId, owner: 'w1', limit: 1000, leaseMs: 60_000 });
      const again = rest.find((p) => p.id === old!.id)!;
      expect(again).toBeDefined();
      await sut.storeResults({
        rejectMargin: 0.1,
        modelId: newModel,
        owner: 'w1',
        results: [resultOf(again, ['agreed'])],
      });
      const rows = await prisma.suggestion.findMany({ where: { postId: old!.id }, orderBy: { id: 'asc' } });
      expect(rows.map((r) => [r.tag, r.status, r.modelId])).toEqual([
        ['agreed', 'pending', newModel],
        ['disputed', 'superseded', modelId],
      ]);
      expect(await prisma.prediction.count({ where: { postId: old!.id } })).toBe(2);
    });
  });
});
