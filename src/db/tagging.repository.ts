/**
 * The worker's write path for a whole batch of tagged posts, in one transaction and a handful of statements:
 * store the compact scores, replace each post's pending suggestions, mark the posts tagged. Results for posts whose
 * lease this worker no longer holds (it expired and another worker took the post) are dropped, so a post is never
 * scored twice into the suggestions.
 */
import type { SuggestionDraft } from '../core/types.js';
import { Prisma, type PrismaClient } from './generated/client.js';
import { planReplacement } from './suggestion-plan.js';

export interface TaggingResult {
  postId: number;
  /** The post's tagsVersion the scores and the diff saw. */
  tagsVersion: number;
  labelIdx: number[];
  scores: number[];
  floor: number;
  /** The diff's suggestions; a draft made by another model than the batch's (the rating model) names it. */
  drafts: readonly ModelDraft[];
  /** Scores of the same post under other models (the rating model), stored beside the main ones. */
  extraPredictions?: readonly { modelId: number; labelIdx: number[]; scores: number[]; floor: number }[];
}

export type ModelDraft = SuggestionDraft & { modelId?: number };

export interface StoreResultsInput {
  modelId: number;
  /** The lease owner: only posts still leased to it are written. */
  owner: string;
  results: readonly TaggingResult[];
  /** How much stronger a score must be to raise again what a moderator rejected. (Default: 0.1.) */
  rejectMargin?: number;
}

export interface StoreResultsSummary {
  tagged: number;
  /** Posts whose lease was lost before the write: their results were dropped. */
  lostLease: number[];
  created: number;
  kept: number;
  superseded: number;
  suppressed: number;
}

export class TaggingRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async storeResults(input: StoreResultsInput): Promise<StoreResultsSummary> {
    const summary: StoreResultsSummary = {
      tagged: 0,
      lostLease: [],
      created: 0,
      kept: 0,
      superseded: 0,
      suppressed: 0,
    };
    if (input.results.length === 0) return summary;
    const ids = input.results.map((r) => r.postId);
    return this.prisma.$transaction(async (tx) => {
      // Locking the posts (in id order, so concurrent writers cannot deadlock) serialises this batch against any other
      // writer of the same posts' suggestions, and proves the leases are still ours.
      const owned = await tx.$queryRaw<{ id: number }[]>`
        SELECT id FROM posts WHERE id = ANY(${ids}::int[]) AND state = 'queued' AND lease_owner = ${input.owner}
        ORDER BY id FOR UPDATE`;
      const ownedIds = new Set(owned.map((r) => r.id));
      summary.lostLease = ids.filter((id) => !ownedIds.has(id));
      const results = input.results.filter((r) => ownedIds.has(r.postId));
      if (results.length === 0) return summary;

      // Parallel arrays again; each post's index and score arrays travel as array literals and are cast back.
      const literal = (values: readonly number[]) => `{${values.join(',')}}`;
      const rows = results.flatMap((r) => [
        {
          postId: r.postId,
          modelId: input.modelId,
          labelIdx: r.labelIdx,
          scores: r.scores,
          floor: r.floor,
          tv: r.tagsVersion,
        },
        ...(r.extraPredictions ?? []).map((e) => ({ postId: r.postId, ...e, tv: r.tagsVersion })),
      ]);
      await tx.$executeRaw`
        INSERT INTO predictions (post_id, model_id, label_idx, scores, floor, tags_version)
        SELECT post_id, model_id, label_idx::int[], scores::real[], floor, tags_version
        FROM unnest(${rows.map((r) => r.postId)}::int[], ${rows.map((r) => r.modelId)}::int[],
          ${rows.map((r) => literal(r.labelIdx))}::text[], ${rows.map((r) => literal(r.scores))}::text[],
          ${rows.map((r) => r.floor)}::real[], ${rows.map((r) => r.tv)}::int[])
          AS v(post_id, model_id, label_idx, scores, floor, tags_version)
        ON CONFLICT (post_id, model_id) DO UPDATE SET label_idx = EXCLUDED.label_idx, scores = EXCLUDED.scores,
          floor = EXCLUDED.floor, tags_version = EXCLUDED.tags_version, created_at = now()`;

      await replaceSuggestions(tx, input.modelId, results, input.rejectMargin ?? 0.1, summary);

      const { count } = await tx.post.updateMany({
        where: { id: { in: results.map((r) => r.postId) } },
        data: { state: 'tagged', taggedAt: new Date(), lastError: null, leaseOwner: null, leaseExpiresAt: null },
      });
      summary.tagged = count;
      return summary;
    });
  }

  /**
   * Tagged posts whose tags changed after they were scored by `modelId` (a human edit, a re-scan): their stored
   * scores, to diff again without re-inference.
   */
  async listStale(booruId: number, modelId: number, limit: number): Promise<StaleScores[]> {
    const rows = await this.prisma.$queryRaw<
      {
        id: number;
        tags: string[];
        rating: string | null;
        tags_version: number;
        label_idx: number[];
        scores: number[];
        floor: number;
      }[]
    >`
      SELECT p.id, p.tags, p.rating, p.tags_version, pr.label_idx, pr.scores, pr.floor
      FROM posts p JOIN predictions pr ON pr.post_id = p.id AND pr.model_id = ${modelId}
      WHERE p.booru_id = ${booruId} AND p.state = 'tagged' AND pr.tags_version < p.tags_version
      ORDER BY p.id LIMIT ${limit}`;
    return rows.map((r) => ({
      postId: r.id,
      tags: r.tags,
      rating: r.rating,
      tagsVersion: r.tags_version,
      labelIdx: r.label_idx,
      scores: r.scores.map(Number),
      floor: Number(r.floor),
    }));
  }

  /** Stores a re-diff of tagged posts: suggestions replaced, the scores marked as seen at the new tags version. */
  async storeRediffs(input: {
    modelId: number;
    results: readonly { postId: number; tagsVersion: number; drafts: readonly SuggestionDraft[] }[];
    rejectMargin?: number;
    /** Leave rating suggestions as they are (another model, whose scores this re-diff does not read, made them). */
    keepRatings?: boolean;
  }): Promise<Omit<StoreResultsSummary, 'lostLease'>> {
    const summary = { tagged: 0, created: 0, kept: 0, superseded: 0, suppressed: 0 };
    if (input.results.length === 0) return summary;
    return this.prisma.$transaction(async (tx) => {
      const ids = input.results.map((r) => r.postId);
      const locked = await tx.$queryRaw<{ id: number; tags_version: number }[]>`
        SELECT id, tags_version FROM posts WHERE id = ANY(${ids}::int[]) AND state = 'tagged' ORDER BY id FOR UPDATE`;
      // A post edited again since it was read is left for the next pass.
      const current = new Map(locked.map((r) => [r.id, r.tags_version]));
      const results = input.results.filter((r) => current.get(r.postId) === r.tagsVersion);
      const scoped = input.keepRatings
        ? results.map((r) => ({ ...r, drafts: r.drafts.filter((d) => d.action !== 'rating') }))
        : results;
      await replaceSuggestions(tx, input.modelId, scoped, input.rejectMargin ?? 0.1, summary, input.keepRatings);
      for (const r of results) {
        await tx.prediction.updateMany({
          where: { postId: r.postId, modelId: input.modelId },
          data: { tagsVersion: r.tagsVersion },
        });
      }
      return summary;
    });
  }
}

export interface StaleScores {
  postId: number;
  tags: string[];
  rating: string | null;
  tagsVersion: number;
  labelIdx: number[];
  scores: number[];
  floor: number;
}

type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/** Applies {@link planReplacement} to every post of the batch in a few statements. */
async function replaceSuggestions(
  tx: Tx,
  modelId: number,
  results: readonly Pick<TaggingResult, 'postId' | 'tagsVersion' | 'drafts'>[],
  rejectMargin: number,
  summary: Pick<StoreResultsSummary, 'created' | 'kept' | 'superseded' | 'suppressed'>,
  keepRatings = false,
): Promise<void> {
  const existing = await tx.suggestion.findMany({
    where: {
      postId: { in: results.map((r) => r.postId) },
      ...(keepRatings ? { action: { not: 'rating' } } : {}),
      status: { in: ['pending', 'rejected', 'approved', 'applied', 'already_applied'] },
    },
    select: { id: true, postId: true, tag: true, action: true, status: true, score: true },
  });
  const byPost = new Map<number, typeof existing>();
  for (const s of existing) byPost.set(s.postId, [...(byPost.get(s.postId) ?? []), s]);
  const creates: Prisma.SuggestionCreateManyInput[] = [];
  const keeps: Prisma.Sql[] = [];
  const supersede: number[] = [];
  for (const result of results) {
    const plan = planReplacement(byPost.get(result.postId) ?? [], result.drafts, rejectMargin);
    summary.suppressed += plan.suppressed;
    summary.kept += plan.keep.length;
    supersede.push(...plan.supersede);
    for (const { id, draft } of plan.keep) {
      keeps.push(
        Prisma.sql`(${id}::int, ${draft.score}::real, ${draft.reason}, ${draft.category}::int, ${result.tagsVersion}::int, ${(draft as ModelDraft).modelId ?? modelId}::int)`,
      );
    }
    for (const draft of plan.create) {
      creates.push({
        postId: result.postId,
        tag: draft.tag,
        action: draft.action,
        category: draft.category,
        score: draft.score,
        reason: draft.reason,
        modelId: (draft as ModelDraft).modelId ?? modelId,
        tagsVersion: result.tagsVersion,
      });
    }
  }
  if (supersede.length > 0) {
    const { count } = await tx.suggestion.updateMany({
      where: { id: { in: supersede }, status: 'pending' },
      data: { status: 'superseded', isOpen: null },
    });
    summary.superseded = count;
  }
  if (keeps.length > 0) {
    await tx.$executeRaw`
      UPDATE suggestions AS s SET score = v.score, reason = v.reason, category = v.category,
    tags_version = v.tags_version, model_id = ${modelId}, updated_at = now()
      FROM (VALUES ${Prisma.join(keeps)}) AS v(id, score, reason, category, tags_version)
      WHERE s.id = v.id`;
  }
  if (creates.length > 0) {
    // One INSERT over parallel arrays: Prisma's createMany builds a statement with a parameter per field and row,
    // which costs milliseconds per row at this size.
    summary.created = await tx.$executeRaw`
      INSERT INTO suggestions (post_id, tag, action, category, score, model_id, reason, tags_version, updated_at)
      SELECT post_id, tag, action::"SuggestionAction", category, score, model_id, reason, tags_version, now()
      FROM unnest(${creates.map((c) => c.postId)}::int[], ${creates.map((c) => c.modelId)}::int[],
        ${creates.map((c) => c.tag)}::text[],
        ${creates.map((c) => c.action)}::text[], ${creates.map((c) => c.category ?? null)}::int[],
        ${creates.map((c) => c.score)}::real[], ${creates.map((c) => c.reason)}::text[],
        ${creates.map((c) => c.tagsVersion)}::int[])
        AS v(post_id, model_id, tag, action, category, score, reason, tags_version)`;
  }
}
