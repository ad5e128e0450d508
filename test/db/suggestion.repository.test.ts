import { PrismaPg } from '@prisma/adapter-pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { PrismaClient } from '../../src/db/generated/client.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TaggingRepository } from '../../src/db/tagging.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { aDraft, aPostUpsert } from '../helpers/factories.js';
import { storeDiff } from '../helpers/seed.js';
import { useTestDatabase } from '../helpers/test-db.js';

describe('SuggestionRepository', () => {
  const db = useTestDatabase();
  let sut: SuggestionRepository;
  let booruId: number;
  let modelId: number;
  let postIds: number[];
  let seq = 0;

  beforeEach(async () => {
    const prisma = db().prisma;
    sut = new SuggestionRepository(prisma);
    seq++;
    booruId = (
      await new BooruRepository(prisma).ensure({ name: `b${seq}`, kind: 'danbooru', baseUrl: `https://b${seq}.test` })
    ).id;
    modelId = await new ModelRepository(prisma).ensure({
      name: 'wd-test',
      version: `v${seq}`,
      sha256: `sha-${seq}`,
      family: 'wd',
      purpose: 'tags',
      labels: [{ name: 'cat', category: 0 }],
      manifest: {},
    });
    const posts = new PostRepository(prisma);
    await posts.upsertMany(booruId, [aPostUpsert({ remoteId: 10 }), aPostUpsert({ remoteId: 20 })]);
    postIds = [(await posts.findByRemoteId(booruId, 10))!.id, (await posts.findByRemoteId(booruId, 20))!.id];
  });

  // A diff stored the way the worker stores it (TaggingRepository.storeResults).
  const replace = (postId: number, drafts: ReturnType<typeof aDraft>[], tagsVersion = 1) =>
    storeDiff(db().prisma, { postId, modelId, tagsVersion, drafts });
  const pendingOf = (postId: number) =>
    db().prisma.suggestion.findMany({ where: { postId, status: 'pending' }, orderBy: { tag: 'asc' } });
  const moderator = { id: null, name: 'mod' };

  describe('a new diff of a post (storeResults, storeRediffs)', () => {
    it('should create pending suggestions for new drafts', async () => {
      const result = await replace(postIds[0]!, [
        aDraft({ tag: 'cat' }),
        aDraft({ tag: 'solo', action: 'remove', score: 0.01 }),
      ]);

      expect(result).toEqual({ created: 2, kept: 0, superseded: 0, suppressed: 0 });
      const rows = await pendingOf(postIds[0]!);
      expect(rows.map((r) => [r.tag, r.action, r.isOpen, r.modelId])).toEqual([
        ['cat', 'add', true, modelId],
        ['solo', 'remove', true, modelId],
      ]);
    });

    it('should refresh matching pending rows in place and supersede the ones no longer proposed', async () => {
      await replace(postIds[0]!, [aDraft({ tag: 'cat', score: 0.5 }), aDraft({ tag: 'dog' })]);
      const before = await pendingOf(postIds[0]!);

      const result = await replace(
        postIds[0]!,
        [aDraft({ tag: 'cat', score: 0.75, reason: 'newer' }), aDraft({ tag: 'hat' })],
        2,
      );

      expect(result).toEqual({ created: 1, kept: 1, superseded: 1, suppressed: 0 });
      const after = await pendingOf(postIds[0]!);
      expect(after.map((r) => r.tag)).toEqual(['cat', 'hat']);
      const cat = after.find((r) => r.tag === 'cat')!;
      expect(cat).toMatchObject({ id: before.find((r) => r.tag === 'cat')!.id, reason: 'newer', tagsVersion: 2 });
      expect(cat.score).toBeCloseTo(0.75, 5);
      const dog = await db().prisma.suggestion.findFirst({ where: { postId: postIds[0]!, tag: 'dog' } });
      expect(dog).toMatchObject({ status: 'superseded', isOpen: null });
    });

    it('should supersede everything when the diff proposes nothing', async () => {
      await replace(postIds[0]!, [aDraft({ tag: 'cat' })]);

      expect(await replace(postIds[0]!, [])).toEqual({ created: 0, kept: 0, superseded: 1, suppressed: 0 });
      expect(await pendingOf(postIds[0]!)).toEqual([]);
    });

    it('should not raise again what was rejected on this post unless the score is clearly higher', async () => {
      await replace(postIds[0]!, [aDraft({ tag: 'cat', score: 0.5 })]);
      const [cat] = await pendingOf(postIds[0]!);
      await sut.decide({ ids: [cat!.id], verdict: 'reject', user: moderator, origin: 'test' });

      const slightlyHigher = await replace(postIds[0]!, [aDraft({ tag: 'cat', score: 0.55 })]);
      const clearlyHigher = await replace(postIds[0]!, [aDraft({ tag: 'cat', score: 0.65 })]);

      expect(slightlyHigher).toMatchObject({ created: 0, suppressed: 1 });
      expect(clearlyHigher).toMatchObject({ created: 1, suppressed: 0 });
      // The rejection is per post: another post may get the same tag.
      expect(await replace(postIds[1]!, [aDraft({ tag: 'cat', score: 0.5 })])).toMatchObject({ created: 1 });
    });

    it('should not raise again what was approved or applied', async () => {
      await replace(postIds[0]!, [aDraft({ tag: 'cat' })]);
      const [cat] = await pendingOf(postIds[0]!);
      await sut.decide({ ids: [cat!.id], verdict: 'approve', user: moderator, origin: 'test' });

      expect(await replace(postIds[0]!, [aDraft({ tag: 'cat', score: 0.99 })])).toMatchObject({
        created: 0,
        suppressed: 1,
      });
    });

    it('should let concurrent workers of one post end with a single pending row per tag', async () => {
      // Separate clients stand for separate workers; each round they claim and store together while one post waits.
      await new PostRepository(db().prisma).markSkipped(postIds[1]!, 'not this one');
      const clients = [0, 1, 2, 3].map(
        () => new PrismaClient({ adapter: new PrismaPg({ connectionString: db().url }) }),
      );
      try {
        for (let round = 0; round < 5; round++) {
          await db().prisma.post.update({ where: { id: postIds[0]! }, data: { state: 'new', taggedAt: null } });
          const tags = [`cat${round}`, `dog${round}`];
          const results = await Promise.all(
            clients.map(async (client, i) => {
              const owner = `w${i}`;
              const claimed = await new PostRepository(client).claimBatch({
                booruId,
                owner,
                limit: 1,
                leaseMs: 60_000,
              });
              return new TaggingRepository(client).storeResults({
                modelId,
                owner,
                rejectMargin: 0.1,
                results: claimed.map((post) => ({
                  postId: post.id,
                  tagsVersion: post.tagsVersion,
                  labelIdx: [],
                  scores: [],
                  floor: 0,
                  drafts: tags.map((tag) => aDraft({ tag })),
                  syncGeneration: 0,
                })),
              });
            }),
          );

          expect(results.reduce((n, r) => n + r.tagged, 0)).toBe(1);
          expect(results.reduce((n, r) => n + r.created, 0)).toBe(2);
          expect((await pendingOf(postIds[0]!)).map((r) => r.tag)).toEqual(tags);
        }
      } finally {
        await Promise.all(clients.map((c) => c.$disconnect()));
      }
    });
  });

  describe('the database', () => {
    it('should refuse a second pending row for the same (post, tag, action) but allow closed duplicates', async () => {
      const row = {
        postId: postIds[0]!,
        tag: 'cat',
        action: 'add' as const,
        score: 0.9,
        modelId,
        reason: 'r',
        tagsVersion: 1,
      };
      await db().prisma.suggestion.create({ data: row });

      await expect(db().prisma.suggestion.create({ data: row })).rejects.toThrow(/Unique constraint/i);
      await db().prisma.suggestion.create({ data: { ...row, status: 'superseded', isOpen: null } });
      await db().prisma.suggestion.create({ data: { ...row, status: 'superseded', isOpen: null } });
      expect(await db().prisma.suggestion.count({ where: { postId: postIds[0]!, tag: 'cat' } })).toBe(3);
    });
  });

  describe('decide', () => {
    it('should move pending suggestions to the verdict and audit each change', async () => {
      const user = await new UserRepository(db().prisma).create({
        name: `mod${seq}`,
        role: 'moderator',
        passwordHash: 'x',
      });
      await replace(postIds[0]!, [aDraft({ tag: 'cat' }), aDraft({ tag: 'dog' })]);
      const [cat, dog] = await pendingOf(postIds[0]!);

      const result = await sut.decide({
        ids: [cat!.id, dog!.id, 987_654],
        verdict: 'approve',
        user: { id: user.id, name: user.name },
        origin: '10.0.0.1',
      });

      expect(result).toEqual({ changed: [cat!.id, dog!.id], skipped: [{ id: 987_654, why: 'not found' }] });
      const stored = await db().prisma.suggestion.findUnique({ where: { id: cat!.id } });
      expect(stored).toMatchObject({ status: 'approved', isOpen: null, decidedById: user.id });
      expect(stored!.decidedAt).toBeInstanceOf(Date);
      const audit = await db().prisma.decision.findMany({ where: { suggestionId: { in: [cat!.id, dog!.id] } } });
      expect(audit).toHaveLength(2);
      expect(audit[0]).toMatchObject({
        action: 'approve',
        actor: user.name,
        userId: user.id,
        origin: '10.0.0.1',
        postId: postIds[0],
      });
    });

    it('should skip suggestions that are no longer pending', async () => {
      await replace(postIds[0]!, [aDraft({ tag: 'cat' })]);
      const [cat] = await pendingOf(postIds[0]!);
      await sut.decide({ ids: [cat!.id], verdict: 'reject', user: moderator, origin: null });

      const result = await sut.decide({ ids: [cat!.id], verdict: 'approve', user: moderator, origin: null });

      expect(result).toEqual({ changed: [], skipped: [{ id: cat!.id, why: 'not pending (rejected)' }] });
      expect(await db().prisma.decision.count({ where: { suggestionId: cat!.id } })).toBe(1);
    });

    it('should let exactly one of two concurrent deciders change each suggestion', async () => {
      await replace(
        postIds[0]!,
        ['a', 'b', 'c', 'd'].map((tag) => aDraft({ tag })),
      );
      const ids = (await pendingOf(postIds[0]!)).map((r) => r.id);

      const [approve, reject] = await Promise.all([
        sut.decide({ ids, verdict: 'approve', user: { id: null, name: 'alice' }, origin: null }),
        sut.decide({ ids, verdict: 'reject', user: { id: null, name: 'bob' }, origin: null }),
      ]);

      expect([...approve.changed, ...reject.changed].sort()).toEqual([...ids].sort());
      expect(await db().prisma.decision.count({ where: { suggestionId: { in: ids } } })).toBe(ids.length);
    });
  });

  describe('decideAll', () => {
    it('should decide every pending suggestion of the booru', async () => {
      await replace(postIds[0]!, [aDraft({ tag: 'cat' })]);
      await replace(postIds[1]!, [aDraft({ tag: 'dog' })]);

      const result = await sut.decideAll({ verdict: 'reject', user: moderator, origin: 'cli', booruId });

      expect(result.changed).toHaveLength(2);
      expect(await sut.count({ status: 'pending', booruId })).toBe(0);
    });
  });

  describe('list', () => {
    it('should list by score, highest first, with the remote post id', async () => {
      await replace(postIds[0]!, [aDraft({ tag: 'low', score: 0.4 }), aDraft({ tag: 'high', score: 0.95 })]);
      await replace(postIds[1]!, [aDraft({ tag: 'mid', score: 0.7 })]);

      const rows = await sut.list({ status: 'pending', booruId, limit: 10, offset: 0 });
      const page2 = await sut.list({ status: 'pending', booruId, limit: 2, offset: 2 });

      expect(rows.map((r) => [r.tag, r.remoteId])).toEqual([
        ['high', 10],
        ['mid', 20],
        ['low', 10],
      ]);
      expect(rows[0]).toMatchObject({ action: 'add', category: 0, status: 'pending', modelId });
      expect(page2.map((r) => r.tag)).toEqual(['low']);
      expect(await sut.count({ booruId })).toBe(3);
    });
  });

  describe('listApprovedGrouped', () => {
    it('should group approved suggestions by post', async () => {
      await replace(postIds[0]!, [aDraft({ tag: 'cat' }), aDraft({ tag: 'dog' })]);
      await replace(postIds[1]!, [aDraft({ tag: 'hat' }), aDraft({ tag: 'rejected_one' })]);
      const pending = [...(await pendingOf(postIds[0]!)), ...(await pendingOf(postIds[1]!))];
      const byTag = new Map(pending.map((p) => [p.tag, p.id]));
      await sut.decide({
        ids: ['cat', 'dog', 'hat'].map((t) => byTag.get(t)!),
        verdict: 'approve',
        user: moderator,
        origin: null,
      });
      await sut.decide({ ids: [byTag.get('rejected_one')!], verdict: 'reject', user: moderator, origin: null });

      const groups = await sut.listApprovedGrouped(booruId);

      expect(groups.map((g) => [g.post.remoteId, g.suggestions.map((s) => s.tag)])).toEqual([
        [10, ['cat', 'dog']],
        [20, ['hat']],
      ]);
      expect(groups[0]!.post).toMatchObject({ id: postIds[0], tags: ['1girl', 'solo'], rating: 'g', tagsVersion: 1 });
    });
  });

  describe('recordApplyOutcomes', () => {
    it('should store the edit, each outcome, and an apply audit row per suggestion, leaving non-approved alone', async () => {
      await replace(postIds[0]!, [aDraft({ tag: 'cat' }), aDraft({ tag: 'dog' }), aDraft({ tag: 'hat' })]);
      const byTag = new Map((await pendingOf(postIds[0]!)).map((p) => [p.tag, p.id]));
      const [cat, dog, hat] = ['cat', 'dog', 'hat'].map((t) => byTag.get(t)!);
      await sut.decide({ ids: [cat!, dog!], verdict: 'approve', user: moderator, origin: null });

      const result = await sut.recordApplyOutcomes({
        postId: postIds[0]!,
        edit: {
          oldTagString: '1girl solo',
          newTagString: '1girl solo cat dog',
          resultTags: ['1girl', 'cat', 'solo'],
          outcome: 'partial',
        },
        outcomes: [
          { suggestionId: cat!, status: 'applied', outcome: 'applied' },
          { suggestionId: dog!, status: 'failed', outcome: 'refused', error: 'tag dog is locked' },
          { suggestionId: hat!, status: 'applied', outcome: 'applied' },
        ],
      });

      expect(result.updated).toEqual([cat, dog]);
      expect(result.skipped).toEqual([hat]);
      const edit = await db().prisma.tagEdit.findUnique({ where: { id: result.tagEditId } });
      expect(edit).toMatchObject({
        postId: postIds[0],
        suggestionIds: [cat, dog, hat],
        outcome: 'partial',
        resultTags: ['1girl', 'cat', 'solo'],
      });
      expect(await db().prisma.suggestion.findUnique({ where: { id: cat! } })).toMatchObject({
        status: 'applied',
        applyOutcome: 'applied',
      });
      const dogRow = await db().prisma.suggestion.findUnique({ where: { id: dog! } });
      expect(dogRow).toMatchObject({
        status: 'failed',
        applyOutcome: 'refused',
        applyError: 'tag dog is locked',
        appliedAt: null,
      });
      expect((await db().prisma.suggestion.findUnique({ where: { id: hat! } }))?.status).toBe('pending');
      const audit = await new AuditRepository(db().prisma).list({ limit: 50, offset: 0 });
      const applies = audit.filter((a) => a.action === 'apply' && a.postId === postIds[0]);
      expect(applies.map((a) => a.suggestionId).sort()).toEqual([cat, dog].sort());
      expect(applies[0]).toMatchObject({
        actor: 'apply',
        detail: expect.objectContaining({ tagEditId: result.tagEditId }),
      });
    });
  });

  describe('countByStatus', () => {
    it('should count every status, with zeros', async () => {
      const before = await sut.countByStatus();
      await replace(postIds[0]!, [aDraft({ tag: 'cat' }), aDraft({ tag: 'dog' })]);
      const [cat] = await pendingOf(postIds[0]!);
      await sut.decide({ ids: [cat!.id], verdict: 'reject', user: moderator, origin: null });

      const after = await sut.countByStatus();

      expect(Object.keys(after).sort()).toEqual([
        'already_applied',
        'applied',
        'approved',
        'failed',
        'pending',
        'rejected',
        'superseded',
      ]);
      expect(after.pending - before.pending).toBe(1);
      expect(after.rejected - before.rejected).toBe(1);
    });
  });
});
