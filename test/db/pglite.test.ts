import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TaggingRepository } from '../../src/db/tagging.repository.js';
import { aDraft, aPostUpsert } from '../helpers/factories.js';
import { createTestPgliteDatabase, silentLogger, type TestPgliteDatabase } from '../helpers/test-db.js';

describe('the embedded PGlite database', () => {
  let db: TestPgliteDatabase;

  beforeAll(async () => {
    db = await createTestPgliteDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  describe('openDatabase', () => {
    it('should open a migrated embedded database', () => {
      expect(db.kind).toBe('pglite');
      expect(db.migrations.length).toBeGreaterThan(0);
    });
  });

  describe('crawl → claim → score → suggest → decide → apply', () => {
    it('should run the basic flow end to end', async () => {
      const prisma = db.prisma;
      const booru = await new BooruRepository(prisma).ensure({
        name: 'demo',
        kind: 'danbooru',
        baseUrl: 'http://127.0.0.1:1',
      });
      const modelId = await new ModelRepository(prisma).ensure({
        name: 'demo',
        version: '1',
        sha256: 'e'.repeat(64),
        family: 'wd',
        purpose: 'tags',
        labels: [{ name: 'cat', category: 0 }],
        manifest: {},
      });
      const sut = {
        posts: new PostRepository(prisma),
        tagging: new TaggingRepository(prisma),
        suggestions: new SuggestionRepository(prisma),
      };

      expect(
        await sut.posts.upsertMany(
          booru.id,
          [1, 2, 3].map((remoteId) => aPostUpsert({ remoteId })),
        ),
      ).toEqual({
        inserted: 3,
        updated: 0,
        changed: 0,
      });
      expect(
        (await sut.posts.upsertMany(booru.id, [aPostUpsert({ remoteId: 1, tags: ['1girl', 'solo', 'x'] })])).changed,
      ).toBe(1);
      const claimed = await sut.posts.claimBatch({ booruId: booru.id, owner: 'w', limit: 2, leaseMs: 60_000 });
      expect(claimed.map((p) => [p.remoteId, p.tagsVersion])).toEqual([
        [1, 2],
        [2, 1],
      ]);
      const post = claimed[0]!;
      // The worker's write path: scores, suggestions and the tagged state in one statement.
      const stored = await sut.tagging.storeResults({
        modelId,
        owner: 'w',
        rejectMargin: 0.1,
        results: [
          {
            postId: post.id,
            tagsVersion: 2,
            labelIdx: [0],
            scores: [0.9],
            floor: 0.1,
            drafts: [aDraft({ tag: 'cat' }), aDraft({ tag: 'dog' })],
            syncGeneration: 0,
          },
        ],
      });
      expect(stored).toMatchObject({ tagged: 1, lostLease: [], created: 2 });
      expect(await prisma.prediction.count({ where: { postId: post.id, modelId } })).toBe(1);
      expect(await sut.posts.markFailed(claimed[1]!.id, 'x', { retry: true, maxAttempts: 3, owner: 'w' })).toBe('new');
      const pending = await sut.suggestions.list({ status: 'pending', limit: 10, offset: 0 });
      const decided = await sut.suggestions.decide({
        ids: pending.map((p) => p.id),
        verdict: 'approve',
        user: { id: null, name: 'cli-user' },
        origin: 'cli',
      });
      expect(decided.changed).toHaveLength(2);
      const [group] = await sut.suggestions.listApprovedGrouped(booru.id);
      const applied = await sut.suggestions.recordApplyOutcomes({
        postId: post.id,
        edit: { oldTagString: '1girl solo x', newTagString: '1girl cat dog solo x', resultTags: [], outcome: 'ok' },
        outcomes: group!.suggestions.map((s) => ({
          suggestionId: s.id,
          status: 'applied' as const,
          outcome: 'applied',
        })),
      });

      expect(applied.updated).toHaveLength(2);
      expect(await sut.suggestions.countByStatus()).toMatchObject({ applied: 2, pending: 0 });
      expect(await sut.posts.countByState(booru.id)).toEqual({ new: 2, queued: 0, tagged: 1, skipped: 0, failed: 0 });
      expect(await prisma.decision.count()).toBe(4);
    });
  });

  describe('reopening', () => {
    it('should keep the data and apply no migration twice', async () => {
      await db.close();
      expect(await migrate({ dataDir: db.dataDir })).toEqual([]);

      const reopened = await openDatabase({ dataDir: db.dataDir, logger: silentLogger });
      try {
        expect(reopened.migrations).toEqual([]);
        expect(await reopened.prisma.post.count()).toBe(3);
      } finally {
        await reopened.close();
      }
    });
  });
});
