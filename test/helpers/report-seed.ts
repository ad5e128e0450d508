/**
 * A database seeded with known posts, suggestions and decisions, for the report and learned-threshold tests. Every
 * number the report should show follows from this table by hand (see test/db/report.test.ts).
 */
import { BooruRepository } from '../../src/db/booru.repository.js';
import type { PrismaClient } from '../../src/db/generated/client.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { aPostUpsert } from './factories.js';

export const SEED_SINCE = new Date('2026-11-01T00:00:00.000Z');
export const SEED_UNTIL = new Date('2026-11-08T00:00:00.000Z');
const IN = (day: number, hour = 12) => new Date(Date.UTC(2026, 10, day, hour));
const BEFORE = new Date('2026-10-15T12:00:00.000Z');

/** Tag names a booru could really send, which no output may pass through as markup. */
export const EVIL_TAG = '<script>alert(1)</script>[b]bold[/b]';
export const NODTEXT_TAG = 'x[/nodtext][b]y';

type Status = 'pending' | 'approved' | 'rejected' | 'applied' | 'failed' | 'superseded' | 'already_applied';

interface SeedSuggestion {
  post: number;
  tag: string;
  action: 'add' | 'remove' | 'rating';
  score: number;
  status: Status;
  model?: 'a' | 'b';
  created?: Date;
  decided?: Date;
  applyError?: string;
  reason?: string;
}

/** Suggestions made in the period unless `created` says otherwise; decided a day later. */
const SEED_SUGGESTIONS: SeedSuggestion[] = [
  { post: 1, tag: 'cat_ears', action: 'add', score: 0.9, status: 'applied' },
  { post: 2, tag: 'cat_ears', action: 'add', score: 0.8, status: 'approved' },
  { post: 3, tag: 'cat_ears', action: 'add', score: 0.7, status: 'approved' },
  { post: 4, tag: 'cat_ears', action: 'add', score: 0.6, status: 'rejected' },
  { post: 5, tag: 'cat_ears', action: 'add', score: 0.5, status: 'pending' },
  { post: 6, tag: 'cat_ears', action: 'add', score: 0.55, status: 'superseded' },
  { post: 11, tag: 'cat_ears', action: 'add', score: 0.95, status: 'approved', created: BEFORE },
  { post: 1, tag: 'smile', action: 'add', score: 0.4, status: 'rejected', model: 'b' },
  { post: 2, tag: 'smile', action: 'add', score: 0.45, status: 'rejected', model: 'b' },
  { post: 3, tag: 'smile', action: 'add', score: 0.95, status: 'failed', model: 'b', applyError: 'refused: tag limit' },
  { post: 4, tag: 'smile', action: 'add', score: 0.9, status: 'already_applied', model: 'b' },
  { post: 1, tag: 'solo', action: 'remove', score: 0.01, status: 'approved' },
  { post: 2, tag: 'solo', action: 'remove', score: 0.005, status: 'pending' },
  { post: 3, tag: 'solo', action: 'remove', score: 0, status: 'pending' },
  { post: 2, tag: EVIL_TAG, action: 'add', score: 0.99, status: 'pending' },
  { post: 3, tag: NODTEXT_TAG, action: 'add', score: 0.98, status: 'pending' },
  {
    post: 3,
    tag: 'rating:q',
    action: 'rating',
    score: 0.93,
    status: 'rejected',
    reason: 'rating q 0.93 vs current g 0.05 (margin 0.40)',
  },
  {
    post: 4,
    tag: 'rating:e',
    action: 'rating',
    score: 0.9,
    status: 'approved',
    reason: 'rating e 0.90 vs current q 0.10 (margin 0.40)',
  },
];

export interface SeededReport {
  booruId: number;
  modelA: number;
  modelB: number;
}

/**
 * Posts 1–6 tagged in the period, 7–8 skipped (video), 9 skipped (deleted), 10 failed, 11 crawled and tagged before
 * it; then {@link SEED_SUGGESTIONS}.
 */
export async function seedReport(prisma: PrismaClient): Promise<SeededReport> {
  const booru = await new BooruRepository(prisma).ensure({ name: 'dan', kind: 'danbooru', baseUrl: 'http://dan.test' });
  const models = new ModelRepository(prisma);
  const base = { family: 'wd', purpose: 'tags' as const, labels: [], manifest: {} };
  const modelA = await models.ensure({ ...base, name: 'wd-test', version: '1', sha256: 'a'.repeat(64) });
  const modelB = await models.ensure({ ...base, name: 'wd-test', version: '2', sha256: 'b'.repeat(64) });
  const posts = new PostRepository(prisma);
  await posts.upsertMany(
    booru.id,
    Array.from({ length: 11 }, (_, i) => aPostUpsert({ remoteId: i + 1 })),
  );
  const idOf = new Map<number, number>();
  for (let remoteId = 1; remoteId <= 11; remoteId++) {
    const post = (await posts.findByRemoteId(booru.id, remoteId))!;
    idOf.set(remoteId, post.id);
    const crawled = remoteId === 11 ? new Date('2026-10-10T00:00:00.000Z') : IN(1 + (remoteId % 6));
    const state =
      remoteId <= 6 || remoteId === 11
        ? { state: 'tagged' as const, taggedAt: remoteId === 11 ? BEFORE : IN(1 + (remoteId % 6), 13) }
        : remoteId <= 8
          ? { state: 'skipped' as const, skipReason: 'video' }
          : remoteId === 9
            ? { state: 'skipped' as const, skipReason: 'deleted' }
            : { state: 'failed' as const, lastError: 'HTTP 404' };
    await prisma.post.update({ where: { id: post.id }, data: { createdAt: crawled, rating: 'g', ...state } });
  }
  for (const [i, s] of SEED_SUGGESTIONS.entries()) {
    const created = s.created ?? IN(2 + (i % 5));
    const decided = s.status === 'pending' ? null : (s.decided ?? new Date(created.getTime() + 86_400_000));
    await prisma.suggestion.create({
      data: {
        postId: idOf.get(s.post)!,
        tag: s.tag,
        action: s.action,
        category: s.action === 'rating' ? 9 : 0,
        score: s.score,
        modelId: s.model === 'b' ? modelB : modelA,
        reason: s.reason ?? `score ${s.score}`,
        status: s.status,
        isOpen: s.status === 'pending' ? true : null,
        tagsVersion: 1,
        decidedAt: ['approved', 'rejected', 'applied', 'failed'].includes(s.status) ? decided : null,
        applyError: s.applyError ?? null,
        applyOutcome: s.status === 'failed' ? 'refused' : s.status === 'applied' ? 'applied' : null,
        appliedAt: s.status === 'applied' ? decided : null,
        createdAt: created,
      },
    });
  }
  return { booruId: booru.id, modelA, modelB };
}
