/**
 * The worker's write path for a whole batch of tagged posts, in one transaction and a handful of statements:
 * store the compact scores, replace each post's pending suggestions, mark the posts tagged. Results for posts whose
 * lease this worker no longer holds (it expired and another worker took the post) are dropped, so a post is never
 * scored twice into the suggestions.
 */
import { PLANNED_STATUSES, planReplacement } from '../core/suggestion-rules.js';
import type { EnsembleVote, PlannedSuggestion, SuggestionAction, SuggestionDraft } from '../core/types.js';
import { Prisma, type PrismaClient } from './generated/client.js';
import { inList, POST_MOVES, SUGGESTION_MOVES } from './state-guards.js';
import type { SuggestionSqlRow } from './suggestion.mapper.js';

/**
 * A write holds the scores of a whole batch of model runs: on a loaded machine (every core busy with inference and
 * decoding) it may wait longer for a connection than Prisma's 2 s default, and failing it would throw those runs
 * away. A lease lost meanwhile is still caught inside the transaction.
 */
const WRITE_TRANSACTION = { maxWait: 30_000, timeout: 30_000 };

export interface TaggingResult {
  postId: number;
  /** The post's tagsVersion the scores and the diff saw. */
  tagsVersion: number;
  labelIdx: number[];
  scores: number[];
  floor: number;
  /** The diff's suggestions; a draft made by another model than the batch's (the rating model) names it. */
  drafts: readonly ModelDraft[];
  /**
   * The tag-sync generation the diff used; null when the diff was refused (stale vocabulary): the scores are stored
   * and the post's suggestions left as they are, for the re-diff to pick up once a sync succeeds.
   */
  syncGeneration: number | null;
  /** Scores of the same post under other models (the rating model), stored beside the main ones. */
  extraPredictions?: readonly { modelId: number; labelIdx: number[]; scores: number[]; floor: number }[];
}

/**
 * A draft as the worker stores it: `modelId` names another model than the batch's (the rating model); `votes` is the
 * vote of several models behind it (each model's score and the combination).
 */
export type ModelDraft = SuggestionDraft & { modelId?: number; votes?: EnsembleVote };

export interface StoreResultsInput {
  modelId: number;
  /** The lease owner: only posts still leased to it are written. */
  owner: string;
  results: readonly TaggingResult[];
  /** How much stronger a score must be to raise again what a moderator rejected (TAGGER_REJECT_MARGIN). */
  rejectMargin: number;
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
    // Two statements in one transaction: lock and read, then write everything. Each round trip through the client
    // costs about a millisecond, which at thousands of posts per second is most of the budget.
    return this.prisma.$transaction(async (tx) => {
      // Locking the posts (in id order, so concurrent writers cannot deadlock) serialises this batch against any other
      // writer of the same posts' suggestions, and proves the leases are still ours. The same statement reads the
      // suggestions the new diff replaces.
      const rows = await tx.$queryRaw<(ExistingRow & { owned_id: number })[]>`
        WITH owned AS (
          SELECT id FROM posts WHERE id = ANY(${ids}::int[]) AND state IN (${inList(POST_MOVES.tag.from)})
            AND lease_owner = ${input.owner}
          ORDER BY id FOR UPDATE)
        SELECT o.id AS owned_id, s.id, s.post_id, s.tag, s.action::text AS action, s.status::text AS status, s.score
        FROM owned o LEFT JOIN suggestions s ON s.post_id = o.id AND s.status IN (${REPLACEABLE})`;
      const ownedIds = new Set(rows.map((r) => r.owned_id));
      summary.lostLease = ids.filter((id) => !ownedIds.has(id));
      const results = input.results.filter((r) => ownedIds.has(r.postId));
      if (results.length === 0) return summary;

      // A refused diff (stale vocabulary) leaves the post's suggestions alone.
      const diffed = new Set(results.filter((r) => r.syncGeneration !== null).map((r) => r.postId));
      const writes = planWrites(
        existingByPost(rows.filter((r) => r.id !== null && diffed.has(r.post_id))),
        results.filter((r) => diffed.has(r.postId)),
        input.modelId,
        input.rejectMargin,
      );
      // Parallel arrays again; each post's index and score arrays travel as array literals and are cast back.
      const literal = (values: readonly number[]) => `{${values.join(',')}}`;
      const predictions = results.flatMap((r) => [
        {
          postId: r.postId,
          modelId: input.modelId,
          labelIdx: r.labelIdx,
          scores: r.scores,
          floor: r.floor,
          tv: r.tagsVersion,
          gen: r.syncGeneration,
        },
        ...(r.extraPredictions ?? []).map((e) => ({
          postId: r.postId,
          ...e,
          tv: r.tagsVersion,
          gen: r.syncGeneration,
        })),
      ]);
      const [counts] = await tx.$queryRaw<WriteCounts[]>`
        WITH ${suggestionWrites(writes)},
        scored AS (
          INSERT INTO predictions (post_id, model_id, label_idx, scores, floor, tags_version, sync_generation)
          SELECT post_id, model_id, label_idx::int[], scores::real[], floor, tags_version, sync_generation
          FROM unnest(${predictions.map((r) => r.postId)}::int[], ${predictions.map((r) => r.modelId)}::int[],
            ${predictions.map((r) => literal(r.labelIdx))}::text[], ${predictions.map((r) => literal(r.scores))}::text[],
            ${predictions.map((r) => r.floor)}::real[], ${predictions.map((r) => r.tv)}::int[],
            ${predictions.map((r) => r.gen)}::int[])
            AS v(post_id, model_id, label_idx, scores, floor, tags_version, sync_generation)
          ON CONFLICT (post_id, model_id) DO UPDATE SET label_idx = EXCLUDED.label_idx, scores = EXCLUDED.scores,
            floor = EXCLUDED.floor, tags_version = EXCLUDED.tags_version, sync_generation = EXCLUDED.sync_generation,
            created_at = now()
          RETURNING 1),
        done AS (
          UPDATE posts SET state = 'tagged', tagged_at = now(), last_error = NULL, lease_owner = NULL,
            lease_expires_at = NULL, updated_at = now()
          WHERE id = ANY(${results.map((r) => r.postId)}::int[])
          RETURNING 1)
        SELECT (SELECT count(*) FROM done)::int AS tagged, (SELECT count(*) FROM created)::int AS created,
          (SELECT count(*) FROM superseded)::int AS superseded, (SELECT count(*) FROM scored)::int AS scored`;
      summary.tagged = counts!.tagged;
      summary.created = counts!.created;
      summary.superseded = counts!.superseded;
      summary.kept = writes.keep.length;
      summary.suppressed = writes.suppressed;
      return summary;
    }, WRITE_TRANSACTION);
  }

  /**
   * Tagged posts whose tags changed after they were scored by `modelId` (a human edit, a re-scan), or whose diff
   * waited for a fresh tag sync: their stored scores, to diff again without re-inference.
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
      WHERE p.booru_id = ${booruId} AND p.state = 'tagged'
        AND (pr.tags_version < p.tags_version OR pr.sync_generation IS NULL)
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

  /** The stored scores of these posts under these models (several models voting: each member's own scores). */
  async listScores(
    postIds: readonly number[],
    modelIds: readonly number[],
  ): Promise<{ postId: number; modelId: number; labelIdx: number[]; scores: number[] }[]> {
    if (postIds.length === 0 || modelIds.length === 0) return [];
    const rows = await this.prisma.prediction.findMany({
      where: { postId: { in: [...postIds] }, modelId: { in: [...modelIds] } },
      select: { postId: true, modelId: true, labelIdx: true, scores: true },
    });
    return rows.map((r) => ({ ...r, scores: r.scores.map(Number) }));
  }

  /**
   * Stores a re-diff of tagged posts: suggestions replaced, the scores marked as seen at the new tags version and
   * diffed with `syncGeneration`.
   */
  async storeRediffs(input: {
    modelId: number;
    syncGeneration: number;
    results: readonly { postId: number; tagsVersion: number; drafts: readonly SuggestionDraft[] }[];
    /** How much stronger a score must be to raise again what a moderator rejected (TAGGER_REJECT_MARGIN). */
    rejectMargin: number;
    /** Leave rating suggestions as they are (another model, whose scores this re-diff does not read, made them). */
    keepRatings?: boolean;
  }): Promise<Omit<StoreResultsSummary, 'lostLease'>> {
    const summary = { tagged: 0, created: 0, kept: 0, superseded: 0, suppressed: 0 };
    if (input.results.length === 0) return summary;
    return this.prisma.$transaction(async (tx) => {
      const ids = input.results.map((r) => r.postId);
      // The lock first, in its own statement: a re-diff that waited for another one's lock must then read the
      // suggestions that one wrote (a statement reads as of its start, so one statement would plan from the old ones).
      const locked = await tx.$queryRaw<{ id: number; tags_version: number }[]>`
        SELECT id, tags_version FROM posts WHERE id = ANY(${ids}::int[]) AND state = 'tagged' ORDER BY id FOR UPDATE`;
      // A post edited again since it was read is left for the next pass.
      const current = new Map(locked.map((r) => [r.id, r.tags_version]));
      const results = input.results.filter((r) => current.get(r.postId) === r.tagsVersion);
      if (results.length === 0) return summary;
      const rows = await tx.$queryRaw<ExistingRow[]>`
        SELECT s.id, s.post_id, s.tag, s.action::text AS action, s.status::text AS status, s.score
        FROM suggestions s
        WHERE s.post_id = ANY(${results.map((r) => r.postId)}::int[]) AND s.status IN (${REPLACEABLE})
          ${input.keepRatings ? Prisma.sql`AND s.action <> 'rating'` : Prisma.empty}`;
      const scoped = input.keepRatings
        ? results.map((r) => ({ ...r, drafts: r.drafts.filter((d) => d.action !== 'rating') }))
        : results;
      const writes = planWrites(existingByPost(rows), scoped, input.modelId, input.rejectMargin);
      const [counts] = await tx.$queryRaw<WriteCounts[]>`
        WITH ${suggestionWrites(writes)},
        seen AS (
          UPDATE predictions p SET tags_version = v.tags_version, sync_generation = ${input.syncGeneration}
          FROM unnest(${results.map((r) => r.postId)}::int[], ${results.map((r) => r.tagsVersion)}::int[])
            AS v(post_id, tags_version)
          WHERE p.post_id = v.post_id AND p.model_id = ${input.modelId}
          RETURNING 1)
        SELECT 0 AS tagged, (SELECT count(*) FROM created)::int AS created,
          (SELECT count(*) FROM superseded)::int AS superseded, (SELECT count(*) FROM seen)::int AS scored`;
      summary.created = counts!.created;
      summary.superseded = counts!.superseded;
      summary.kept = writes.keep.length;
      summary.suppressed = writes.suppressed;
      return summary;
    }, WRITE_TRANSACTION);
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

/** Suggestion statuses a new diff reads: pending ones it replaces, decided ones it must not raise again. */
const REPLACEABLE = inList(PLANNED_STATUSES);

/** A post's earlier suggestion as the locking read returns it (null id: the post has none). */
type ExistingRow = Pick<SuggestionSqlRow, 'post_id' | 'tag' | 'action' | 'status' | 'score'> & { id: number | null };

interface WriteCounts {
  tagged: number;
  created: number;
  superseded: number;
  scored: number;
}

function existingByPost(rows: readonly ExistingRow[]): Map<number, PlannedSuggestion[]> {
  const byPost = new Map<number, PlannedSuggestion[]>();
  for (const r of rows) {
    const list = byPost.get(r.post_id);
    const row = { id: r.id!, tag: r.tag, action: r.action, status: r.status, score: Number(r.score) };
    if (list) list.push(row);
    else byPost.set(r.post_id, [row]);
  }
  return byPost;
}

/** Every post's {@link planReplacement}, gathered into column arrays for one statement. */
interface SuggestionWritePlan {
  supersede: number[];
  keep: {
    id: number;
    score: number;
    reason: string;
    category: number | null;
    tagsVersion: number;
    modelId: number;
    votes: string | null;
  }[];
  create: {
    postId: number;
    tag: string;
    action: SuggestionAction;
    category: number | null;
    score: number;
    reason: string;
    modelId: number;
    tagsVersion: number;
    votes: string | null;
  }[];
  suppressed: number;
}

/** The vote behind a draft as JSON text for the `votes` column, or null. */
const votesOf = (draft: SuggestionDraft): string | null => {
  const votes = (draft as ModelDraft).votes;
  return votes ? JSON.stringify(votes) : null;
};

function planWrites(
  existing: ReadonlyMap<number, readonly PlannedSuggestion[]>,
  results: readonly Pick<TaggingResult, 'postId' | 'tagsVersion' | 'drafts'>[],
  modelId: number,
  rejectMargin: number,
): SuggestionWritePlan {
  const writes: SuggestionWritePlan = { supersede: [], keep: [], create: [], suppressed: 0 };
  for (const result of results) {
    const plan = planReplacement(existing.get(result.postId) ?? [], result.drafts, rejectMargin);
    writes.suppressed += plan.suppressed;
    writes.supersede.push(...plan.supersede);
    for (const { id, draft } of plan.keep) {
      writes.keep.push({
        id,
        score: draft.score,
        reason: draft.reason,
        category: draft.category ?? null,
        tagsVersion: result.tagsVersion,
        modelId: (draft as ModelDraft).modelId ?? modelId,
        votes: votesOf(draft),
      });
    }
    for (const draft of plan.create) {
      writes.create.push({
        postId: result.postId,
        tag: draft.tag,
        action: draft.action,
        category: draft.category ?? null,
        score: draft.score,
        reason: draft.reason,
        modelId: (draft as ModelDraft).modelId ?? modelId,
        tagsVersion: result.tagsVersion,
        votes: votesOf(draft),
      });
    }
  }
  return writes;
}

/**
 * The CTEs `superseded`, `refreshed` and `created` that carry out a {@link SuggestionWritePlan} (empty arrays make
 * them no-ops). One INSERT over parallel arrays: Prisma's createMany builds a statement with a parameter per field and
 * row, which costs milliseconds per row at this size. Only pending rows are superseded or refreshed, so a moderator's
 * decision made meanwhile stands.
 */
function suggestionWrites(plan: SuggestionWritePlan): Prisma.Sql {
  const { keep, create } = plan;
  return Prisma.sql`
    superseded AS (
      UPDATE suggestions SET status = 'superseded', is_open = NULL, updated_at = now()
      WHERE id = ANY(${plan.supersede}::int[]) AND status IN (${inList(SUGGESTION_MOVES.supersede.from)})
      RETURNING 1),
    refreshed AS (
      UPDATE suggestions AS s SET score = v.score, reason = v.reason, category = v.category,
        tags_version = v.tags_version, model_id = v.model_id, votes = COALESCE(v.votes::jsonb, s.votes),
        updated_at = now()
      FROM unnest(${keep.map((k) => k.id)}::int[], ${keep.map((k) => k.score)}::real[],
        ${keep.map((k) => k.reason)}::text[], ${keep.map((k) => k.category)}::int[],
        ${keep.map((k) => k.tagsVersion)}::int[], ${keep.map((k) => k.modelId)}::int[],
        ${keep.map((k) => k.votes)}::text[])
        AS v(id, score, reason, category, tags_version, model_id, votes)
      WHERE s.id = v.id AND s.status = 'pending'
      RETURNING 1),
    created AS (
      INSERT INTO suggestions (post_id, tag, action, category, score, model_id, reason, tags_version, votes, updated_at)
      SELECT post_id, tag, action::"SuggestionAction", category, score, model_id, reason, tags_version, votes::jsonb,
        now()
      FROM unnest(${create.map((c) => c.postId)}::int[], ${create.map((c) => c.modelId)}::int[],
        ${create.map((c) => c.tag)}::text[], ${create.map((c) => c.action)}::text[],
        ${create.map((c) => c.category)}::int[], ${create.map((c) => c.score)}::real[],
        ${create.map((c) => c.reason)}::text[], ${create.map((c) => c.tagsVersion)}::int[],
        ${create.map((c) => c.votes)}::text[])
        AS v(post_id, model_id, tag, action, category, score, reason, tags_version, votes)
      RETURNING 1)`;
}
