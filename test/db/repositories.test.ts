import { describe, expect, it } from 'vitest';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { CursorRepository } from '../../src/db/cursor.repository.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { TaggingRepository } from '../../src/db/tagging.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import type { AppError } from '../../src/shared/errors.js';
import { aPostUpsert } from '../helpers/factories.js';
import { useTestDatabase } from '../helpers/test-db.js';

const aModel = (overrides: Partial<Parameters<ModelRepository['ensure']>[0]> = {}) => ({
  name: 'wd-vit-tagger-v3',
  version: '1.0',
  sha256: 'a'.repeat(64),
  family: 'wd',
  purpose: 'tags',
  labels: [
    { name: 'general', category: 9 },
    { name: '1girl', category: 0 },
  ],
  manifest: { inputSize: 448 },
  ...overrides,
});

describe('BooruRepository', () => {
  const db = useTestDatabase();

  describe('ensure', () => {
    it('should create a booru once and refresh it by base URL', async () => {
      const sut = new BooruRepository(db().prisma);

      const first = await sut.ensure({ name: 'dan', kind: 'danbooru', baseUrl: 'https://dan.test' });
      const second = await sut.ensure({ name: 'danbooru', kind: 'danbooru', baseUrl: 'https://dan.test' });

      expect(second).toMatchObject({ id: first.id, name: 'danbooru', kind: 'danbooru', activeModelId: null });
      expect(await db().prisma.booru.count({ where: { baseUrl: 'https://dan.test' } })).toBe(1);
    });

    it('should refuse a name already used by another base URL with CONFLICT', async () => {
      const sut = new BooruRepository(db().prisma);
      await sut.ensure({ name: 'taken', kind: 'e621', baseUrl: 'https://one.test' });

      const error = await sut.ensure({ name: 'taken', kind: 'e621', baseUrl: 'https://two.test' }).catch((e) => e);

      expect((error as AppError).code).toBe('CONFLICT');
    });
  });

  describe('setActiveModel', () => {
    it('should set the tag and rating models separately', async () => {
      const sut = new BooruRepository(db().prisma);
      const booru = await sut.ensure({ name: 'act', kind: 'danbooru', baseUrl: 'https://act.test' });
      const modelId = await new ModelRepository(db().prisma).ensure(aModel({ sha256: 'b'.repeat(64), version: 'act' }));

      await sut.setActiveModel(booru.id, modelId);

      expect(await sut.findById(booru.id)).toMatchObject({ activeModelId: modelId, activeRatingModelId: null });
      await sut.setActiveModel(booru.id, modelId, 'rating');
      expect(await sut.findById(booru.id)).toMatchObject({ activeModelId: modelId, activeRatingModelId: modelId });
    });
  });
});

describe('ModelRepository', () => {
  const db = useTestDatabase();

  describe('ensure', () => {
    it('should return the same id for the same file and refresh its manifest', async () => {
      const sut = new ModelRepository(db().prisma);

      const id = await sut.ensure(aModel());
      const again = await sut.ensure(aModel({ manifest: { inputSize: 512 } }));

      expect(again).toBe(id);
      expect(await sut.findById(id)).toMatchObject({
        vocabSize: 2,
        labels: [
          { name: 'general', category: 9 },
          { name: '1girl', category: 0 },
        ],
        manifest: { inputSize: 512 },
      });
    });

    it('should refuse another file under a registered name and version with CONFLICT', async () => {
      const sut = new ModelRepository(db().prisma);
      await sut.ensure(aModel({ version: 'x', sha256: 'c'.repeat(64) }));

      const error = await sut.ensure(aModel({ version: 'x', sha256: 'd'.repeat(64) })).catch((e) => e);

      expect((error as AppError).code).toBe('CONFLICT');
    });
  });
});

describe('CursorRepository', () => {
  const db = useTestDatabase();

  describe('get/set', () => {
    it('should return null before the first set, then the latest value per kind', async () => {
      const booru = await new BooruRepository(db().prisma).ensure({
        name: 'c',
        kind: 'danbooru',
        baseUrl: 'https://c.test',
      });
      const sut = new CursorRepository(db().prisma);

      expect(await sut.get(booru.id, 'posts')).toBeNull();
      await sut.set(booru.id, 'posts', '100');
      await sut.set(booru.id, 'posts', '250');
      await sut.set(booru.id, 'changes', '2026-01-01T00:00:00Z');

      expect(await sut.get(booru.id, 'posts')).toBe('250');
      expect(await sut.get(booru.id, 'changes')).toBe('2026-01-01T00:00:00Z');
    });
  });
});

describe('stored scores (TaggingRepository.storeResults)', () => {
  const db = useTestDatabase();

  describe('storeResults', () => {
    it('should store scores per (post, model) and replace them on re-scoring', async () => {
      const booru = await new BooruRepository(db().prisma).ensure({
        name: 'p',
        kind: 'danbooru',
        baseUrl: 'https://p.test',
      });
      const modelId = await new ModelRepository(db().prisma).ensure(aModel());
      const posts = new PostRepository(db().prisma);
      const sut = new TaggingRepository(db().prisma);
      const scoreOf = async (labelIdx: number[], scores: number[], floor: number) => {
        const [claimed] = await posts.claimBatch({ booruId: booru.id, owner: 'w', limit: 1, leaseMs: 60_000 });
        const stored = await sut.storeResults({
          modelId,
          owner: 'w',
          rejectMargin: 0.1,
          results: [
            {
              postId: claimed!.id,
              tagsVersion: claimed!.tagsVersion,
              labelIdx,
              scores,
              floor,
              drafts: [],
              syncGeneration: 0,
            },
          ],
        });
        expect(stored.tagged).toBe(1);
        return claimed!.id;
      };
      await posts.upsertMany(booru.id, [aPostUpsert({ remoteId: 1 })]);
      const postId = await scoreOf([0, 1], [0.25, 0.875], 0.05);
      expect(await db().prisma.prediction.findFirst({ where: { postId, modelId } })).toMatchObject({
        labelIdx: [0, 1],
        tagsVersion: 1,
      });
      // A new file on the booru sends the post back to be scored again.
      await posts.upsertMany(booru.id, [aPostUpsert({ remoteId: 1, md5: 'another-file' })]);
      await scoreOf([1], [0.5], 0.1);

      const row = await db().prisma.prediction.findFirst({ where: { postId, modelId } });
      expect(row).toMatchObject({ labelIdx: [1], scores: [0.5], tagsVersion: 1 });
      expect(row!.floor).toBeCloseTo(0.1, 6);
      expect(await db().prisma.prediction.count({ where: { postId } })).toBe(1);
    });
  });
});

describe('UserRepository', () => {
  const db = useTestDatabase();

  describe('create/find', () => {
    it('should create a user findable by name and id, and refuse a duplicate name', async () => {
      const sut = new UserRepository(db().prisma);

      const user = await sut.create({ name: 'alice', role: 'admin', passwordHash: 'scrypt$1' });

      expect(await sut.findByName('alice')).toEqual(user);
      expect(await sut.findById(user.id)).toEqual(user);
      expect(await sut.findByName('nobody')).toBeNull();
      const error = await sut.create({ name: 'alice', role: 'viewer', passwordHash: 'x' }).catch((e) => e);
      expect((error as AppError).code).toBe('CONFLICT');
    });
  });

  describe('sessions', () => {
    it('should find only unexpired sessions of enabled users, and end them on a password change', async () => {
      const sut = new UserRepository(db().prisma);
      const user = await sut.create({ name: 'bob', role: 'moderator', passwordHash: 'h1' });
      const hour = 3_600_000;
      await sut.createSession({
        id: 's-live',
        userId: user.id,
        csrfToken: 'c1',
        expiresAt: new Date(Date.now() + hour),
      });
      await sut.createSession({
        id: 's-old',
        userId: user.id,
        csrfToken: 'c2',
        expiresAt: new Date(Date.now() - hour),
      });

      expect(await sut.findSession('s-live')).toMatchObject({
        userId: user.id,
        csrfToken: 'c1',
        user: { name: 'bob' },
      });
      expect(await sut.findSession('s-old')).toBeNull();
      expect(await sut.deleteExpiredSessions()).toBe(1);

      await sut.setPassword(user.id, 'h2');

      expect(await sut.findSession('s-live')).toBeNull();
      expect((await sut.findById(user.id))?.passwordHash).toBe('h2');
    });

    it('should not return the session of a disabled user, and delete on logout', async () => {
      const sut = new UserRepository(db().prisma);
      const user = await sut.create({ name: 'carol', role: 'viewer', passwordHash: 'h' });
      const expiresAt = new Date(Date.now() + 60_000);
      await sut.createSession({ id: 's-c', userId: user.id, csrfToken: 'c', expiresAt });
      await sut.createSession({ id: 's-c2', userId: user.id, csrfToken: 'c', expiresAt });

      await sut.deleteSession('s-c2');
      expect(await sut.findSession('s-c2')).toBeNull();
      await db().prisma.user.update({ where: { id: user.id }, data: { disabledAt: new Date() } });

      expect(await sut.findSession('s-c')).toBeNull();
    });
  });
});

describe('AuditRepository', () => {
  const db = useTestDatabase();

  describe('record/list', () => {
    it('should append entries and list them newest first', async () => {
      const sut = new AuditRepository(db().prisma);

      const first = await sut.record({ userId: null, actor: 'cli', action: 'login', origin: 'cli' });
      const second = await sut.record({
        userId: null,
        actor: 'admin',
        action: 'threshold',
        detail: { tag: 'cat', value: 0.4 },
      });

      const rows = await sut.list({ limit: 10, offset: 0 });
      expect(rows.map((r) => r.id)).toEqual([second, first]);
      expect(rows[0]).toMatchObject({
        action: 'threshold',
        detail: { tag: 'cat', value: 0.4 },
        origin: null,
        suggestionId: null,
      });
      expect(await sut.list({ limit: 1, offset: 1 })).toHaveLength(1);
    });
  });
});
