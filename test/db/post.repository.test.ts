import { PrismaPg } from '@prisma/adapter-pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { PrismaClient } from '../../src/db/generated/client.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { aBooruPost, aPostUpsert } from '../helpers/factories.js';
import { useTestDatabase } from '../helpers/test-db.js';

describe('PostRepository', () => {
  const db = useTestDatabase();
  let sut: PostRepository;
  let booruId: number;
  let booruSeq = 0;

  beforeEach(async () => {
    sut = new PostRepository(db().prisma);
    // A booru per test keeps tests independent inside the one database of this file.
    booruSeq++;
    const booru = await new BooruRepository(db().prisma).ensure({
      name: `booru-${booruSeq}`,
      kind: 'danbooru',
      baseUrl: `https://booru-${booruSeq}.example.test`,
    });
    booruId = booru.id;
  });

  const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

  describe('upsertMany', () => {
    it('should insert new posts as new, or skipped with the crawler reason', async () => {
      const result = await sut.upsertMany(booruId, [
        aPostUpsert({ remoteId: 1 }),
        aPostUpsert({ remoteId: 2, isDeleted: true, mediaUrl: null, skipReason: 'deleted' }),
      ]);

      expect(result).toEqual({ inserted: 2, updated: 0, changed: 0 });
      const one = await sut.findByRemoteId(booruId, 1);
      expect(one).toMatchObject({ state: 'new', tagsVersion: 1, tags: ['1girl', 'solo'], skipReason: null });
      expect(one?.mediaUrl).toContain('/720/1.webp');
      expect(await sut.findByRemoteId(booruId, 2)).toMatchObject({ state: 'skipped', skipReason: 'deleted' });
    });

    it('should write nothing when the same page is crawled again', async () => {
      const page = [aPostUpsert({ remoteId: 1 }), aPostUpsert({ remoteId: 2 })];
      await sut.upsertMany(booruId, page);

      const again = await sut.upsertMany(booruId, page);

      expect(again).toEqual({ inserted: 0, updated: 0, changed: 0 });
      expect((await sut.findByRemoteId(booruId, 1))?.tagsVersion).toBe(1);
    });

    it('should not bump tagsVersion when only the order of the tags differs', async () => {
      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1, tags: ['a', 'b', 'c'] })]);

      const result = await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1, tags: ['c', 'a', 'b', 'a'] })]);

      expect(result.changed).toBe(0);
      expect(await sut.findByRemoteId(booruId, 1)).toMatchObject({ tagsVersion: 1, tags: ['a', 'b', 'c'] });
    });

    it('should bump tagsVersion once per real change of tags or rating', async () => {
      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1, tags: ['a'] }), aPostUpsert({ remoteId: 2 })]);

      const tagsChanged = await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1, tags: ['a', 'b'] })]);
      const ratingChanged = await sut.upsertMany(booruId, [
        aPostUpsert({ remoteId: 1, tags: ['a', 'b'], rating: 'q' }),
      ]);

      expect(tagsChanged).toEqual({ inserted: 0, updated: 1, changed: 1 });
      expect(ratingChanged).toEqual({ inserted: 0, updated: 1, changed: 1 });
      expect(await sut.findByRemoteId(booruId, 1)).toMatchObject({ tagsVersion: 3, rating: 'q', tags: ['a', 'b'] });
      expect((await sut.findByRemoteId(booruId, 2))?.tagsVersion).toBe(1);
    });

    it('should refresh other fields without bumping tagsVersion', async () => {
      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1 })]);

      const result = await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1, fileSize: 999, isPending: true })]);

      expect(result).toEqual({ inserted: 0, updated: 1, changed: 0 });
      expect(await sut.findByRemoteId(booruId, 1)).toMatchObject({ tagsVersion: 1, isPending: true });
    });

    it('should return a crawl-skipped post to new once it is taggable', async () => {
      await sut.upsertMany(booruId, [
        aPostUpsert({ remoteId: 1, isBanned: true, mediaUrl: null, skipReason: 'banned' }),
      ]);

      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1 })]);

      expect(await sut.findByRemoteId(booruId, 1)).toMatchObject({ state: 'new', skipReason: null, isBanned: false });
    });

    it('should keep a post the worker skipped skipped while its media is unchanged', async () => {
      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1 })]);
      const [claimed] = await sut.claimBatch({ booruId, owner: 'w1', limit: 1, leaseMs: 60_000 });
      await sut.markSkipped(claimed!.id, 'undecodable image', 'w1');

      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1, tags: ['1girl', 'solo', 'new_tag'] })]);

      expect(await sut.findByRemoteId(booruId, 1)).toMatchObject({
        state: 'skipped',
        skipReason: 'undecodable image',
        tagsVersion: 2,
      });
    });

    it('should skip a new post that became untaggable', async () => {
      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1 })]);

      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1, isDeleted: true, skipReason: 'deleted' })]);

      expect(await sut.findByRemoteId(booruId, 1)).toMatchObject({ state: 'skipped', skipReason: 'deleted' });
    });

    it('should accept a page that lists a post twice, keeping the last', async () => {
      const result = await sut.upsertMany(booruId, [
        aPostUpsert({ remoteId: 1, tags: ['old'] }),
        aPostUpsert({ remoteId: 1, tags: ['new'] }),
      ]);

      expect(result.inserted).toBe(1);
      expect((await sut.findByRemoteId(booruId, 1))?.tags).toEqual(['new']);
    });

    it('should handle a large page in one call', async () => {
      const page = range(1, 500).map((remoteId) => aPostUpsert({ remoteId, tags: [`tag_${remoteId % 7}`, 'x'] }));

      const result = await sut.upsertMany(booruId, page);

      expect(result).toEqual({ inserted: 500, updated: 0, changed: 0 });
      expect((await sut.countByState(booruId)).new).toBe(500);
    });
  });

  describe('claimBatch', () => {
    it('should lease the lowest remote ids first, up to the limit', async () => {
      await sut.upsertMany(
        booruId,
        [5, 3, 9, 1, 7].map((remoteId) => aPostUpsert({ remoteId })),
      );

      const claimed = await sut.claimBatch({ booruId, owner: 'w1', limit: 3, leaseMs: 60_000 });

      expect(claimed.map((p) => p.remoteId)).toEqual([1, 3, 5]);
      expect(claimed[0]).toMatchObject({ attempts: 1, tagsVersion: 1, rating: 'g', tags: ['1girl', 'solo'] });
      const stored = await sut.findByRemoteId(booruId, 1);
      expect(stored).toMatchObject({ state: 'queued', leaseOwner: 'w1', attempts: 1 });
      expect(stored!.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    });

    it('should not claim skipped, tagged, or validly leased posts', async () => {
      await sut.upsertMany(booruId, [
        aPostUpsert({ remoteId: 1, skipReason: 'deleted', mediaUrl: null }),
        aPostUpsert({ remoteId: 2 }),
        aPostUpsert({ remoteId: 3 }),
      ]);
      const [first] = await sut.claimBatch({ booruId, owner: 'w1', limit: 1, leaseMs: 60_000 });
      await sut.markTagged(first!.id, 'w1');
      await sut.claimBatch({ booruId, owner: 'w1', limit: 1, leaseMs: 60_000 });

      const claimed = await sut.claimBatch({ booruId, owner: 'w2', limit: 10, leaseMs: 60_000 });

      expect(claimed).toEqual([]);
    });

    it('should never hand the same post to two concurrent claimers', async () => {
      await sut.upsertMany(
        booruId,
        range(1, 300).map((remoteId) => aPostUpsert({ remoteId })),
      );
      // Separate clients (separate pools) stand for separate worker machines.
      const clients = [0, 1, 2].map(() => new PrismaClient({ adapter: new PrismaPg({ connectionString: db().url }) }));
      try {
        const claimers = clients.flatMap((client, c) =>
          [0, 1].map(async (k) => {
            const repo = new PostRepository(client);
            const mine: number[] = [];
            for (;;) {
              const batch = await repo.claimBatch({ booruId, owner: `w${c}-${k}`, limit: 7, leaseMs: 60_000 });
              if (batch.length === 0) return mine;
              mine.push(...batch.map((p) => p.remoteId));
            }
          }),
        );
        const results = await Promise.all(claimers);

        const all = results.flat();
        expect(all).toHaveLength(300);
        expect(new Set(all).size).toBe(300);
        expect(results.filter((r) => r.length > 0).length).toBeGreaterThan(1);
      } finally {
        await Promise.all(clients.map((c) => c.$disconnect()));
      }
    });

    it('should reclaim a post whose lease expired, and stop the old owner completing it', async () => {
      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1 })]);
      const [first] = await sut.claimBatch({ booruId, owner: 'crashed', limit: 1, leaseMs: 60_000 });
      await db().prisma.post.update({
        where: { id: first!.id },
        data: { leaseExpiresAt: new Date(Date.now() - 1_000) },
      });

      const [again] = await sut.claimBatch({ booruId, owner: 'w2', limit: 1, leaseMs: 60_000 });

      expect(again).toMatchObject({ id: first!.id, attempts: 2 });
      expect(await sut.markTagged(first!.id, 'crashed')).toBe(false);
      expect(await sut.markTagged(first!.id, 'w2')).toBe(true);
      expect(await sut.findByRemoteId(booruId, 1)).toMatchObject({ state: 'tagged', leaseOwner: null });
    });
  });

  describe('markFailed', () => {
    it('should put a retryable failure back to new until attempts run out, then fail it', async () => {
      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1 })]);
      const states: (string | null)[] = [];

      for (let i = 0; i < 3; i++) {
        const [post] = await sut.claimBatch({ booruId, owner: 'w1', limit: 1, leaseMs: 60_000 });
        states.push(await sut.markFailed(post!.id, `timeout ${i + 1}`, { retry: true, maxAttempts: 3, owner: 'w1' }));
      }

      expect(states).toEqual(['new', 'new', 'failed']);
      expect(await sut.findByRemoteId(booruId, 1)).toMatchObject({
        state: 'failed',
        attempts: 3,
        lastError: 'timeout 3',
        leaseOwner: null,
        leaseExpiresAt: null,
      });
      expect(await sut.claimBatch({ booruId, owner: 'w1', limit: 1, leaseMs: 60_000 })).toEqual([]);
    });

    it('should fail a non-retryable failure at once', async () => {
      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1 })]);
      const [post] = await sut.claimBatch({ booruId, owner: 'w1', limit: 1, leaseMs: 60_000 });

      const state = await sut.markFailed(post!.id, 'corrupt image', { retry: false, maxAttempts: 5, owner: 'w1' });

      expect(state).toBe('failed');
    });

    it('should leave the post alone when the lease belongs to someone else', async () => {
      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1 })]);
      const [post] = await sut.claimBatch({ booruId, owner: 'w1', limit: 1, leaseMs: 60_000 });

      const state = await sut.markFailed(post!.id, 'late', { retry: true, maxAttempts: 5, owner: 'w-other' });

      expect(state).toBeNull();
      expect(await sut.findByRemoteId(booruId, 1)).toMatchObject({
        state: 'queued',
        leaseOwner: 'w1',
        lastError: null,
      });
    });
  });

  describe('refreshFromBooru', () => {
    it('should bump tagsVersion only when the tag set or rating changed', async () => {
      await sut.upsertMany(booruId, [aPostUpsert({ remoteId: 1, tags: ['a', 'b'] })]);
      const post = (await sut.findByRemoteId(booruId, 1))!;

      const same = await sut.refreshFromBooru(post.id, aBooruPost({ remoteId: 1, tags: ['b', 'a'] }));
      const added = await sut.refreshFromBooru(post.id, aBooruPost({ remoteId: 1, tags: ['a', 'b', 'c'] }));

      expect(same).toEqual({ changed: false, tagsVersion: 1 });
      expect(added).toEqual({ changed: true, tagsVersion: 2 });
      expect((await sut.findByRemoteId(booruId, 1))?.tags).toEqual(['a', 'b', 'c']);
      expect(await sut.refreshFromBooru(999_999, aBooruPost({ remoteId: 1 }))).toBeNull();
    });
  });

  describe('countByState', () => {
    it('should count every state, with zeros', async () => {
      await sut.upsertMany(booruId, [
        aPostUpsert({ remoteId: 1 }),
        aPostUpsert({ remoteId: 2 }),
        aPostUpsert({ remoteId: 3, skipReason: 'video' }),
      ]);
      await sut.claimBatch({ booruId, owner: 'w1', limit: 1, leaseMs: 60_000 });

      expect(await sut.countByState(booruId)).toEqual({ new: 1, queued: 1, tagged: 0, skipped: 1, failed: 0 });
    });
  });
});
