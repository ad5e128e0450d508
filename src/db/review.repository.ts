/**
 * The review dashboard's reads: the filtered queue by post and by tag, facet counts, one post's whole history, the
 * audit log, thresholds and the status facts the database knows. Written as SQL so each page is a handful of
 * indexed queries, whatever the size of the queue (`scripts/time-dashboard.ts` measures them at 100,000 pending).
 */
import type { EnsembleVote } from '../core/ensemble.js';
import type { BooruKind, SuggestionAction } from '../core/types.js';

export type { SuggestionAction };
import { Prisma, type PrismaClient } from './generated/client.js';
import type { PostState } from './post.types.js';
import type { SuggestionStatus } from './suggestion.types.js';

/** What the queue shows. Every field narrows it; `status` defaults to pending. */
export interface QueueFilter {
  status?: SuggestionStatus;
  action?: SuggestionAction;
  /** Tag category of the suggestion (0 general, 4 character…). */
  category?: number;
  minScore?: number;
  maxScore?: number;
  /** Exact tag name. */
  tag?: string;
  modelId?: number;
  booruId?: number;
}

export type FacetKey = 'action' | 'category' | 'modelId' | 'booruId';

/** Counts per value of one filter, under all the other filters. */
export type Facets = Record<FacetKey, { value: string; count: number }[]>;

export type QueueSort = 'newest' | 'oldest' | 'score';

/** A suggestion as the review pages show it. */
export interface ReviewSuggestion {
  id: number;
  postId: number;
  tag: string;
  action: SuggestionAction;
  category: number | null;
  score: number;
  reason: string;
  status: SuggestionStatus;
  modelId: number;
  decidedBy: string | null;
  decidedAt: Date | null;
  applyOutcome: string | null;
  applyError: string | null;
  appliedAt: Date | null;
  createdAt: Date;
  /** Several models voting: each model's score and the combination; null for a single model's suggestion. */
  votes: EnsembleVote | null;
}

/** A post as the review pages show it. */
export interface ReviewPost {
  id: number;
  booruId: number;
  booruName: string;
  booruKind: BooruKind;
  booruUrl: string;
  remoteId: number;
  rating: string | null;
  tags: string[];
  /** Category of each current tag the synced tag list knows (absent: unknown). */
  tagCategories: Record<string, number>;
  previewUrl: string | null;
  /** The largest image worth showing in the queue: the booru's sample variant, else its preview. */
  sampleUrl: string | null;
  width: number | null;
  height: number | null;
  state: PostState;
  lastError: string | null;
  skipReason: string | null;
}

export interface QueuePost extends ReviewPost {
  suggestions: ReviewSuggestion[];
}

export interface TagSummaryRow {
  tag: string;
  action: SuggestionAction;
  category: number | null;
  count: number;
  maxScore: number;
}

export interface GridItem {
  suggestion: ReviewSuggestion;
  post: { id: number; remoteId: number; previewUrl: string | null; booruKind: BooruKind; tags: string[] };
}

export interface PredictionView {
  modelId: number;
  modelName: string;
  modelVersion: string;
  createdAt: Date;
  tagsVersion: number;
  /** Highest first. */
  scores: { label: string; score: number }[];
}

export interface TagEditView {
  id: number;
  suggestionIds: number[];
  oldTagString: string;
  newTagString: string;
  resultTags: string[];
  outcome: string;
  error: string | null;
  createdAt: Date;
}

export interface AuditView {
  id: number;
  at: Date;
  actor: string;
  action: string;
  suggestionId: number | null;
  postId: number | null;
  remoteId: number | null;
  tag: string | null;
  detail: unknown;
  origin: string | null;
}

export interface PostDetail {
  post: ReviewPost;
  suggestions: ReviewSuggestion[];
  predictions: PredictionView[];
  decisions: AuditView[];
  tagEdits: TagEditView[];
}

export interface ThresholdView {
  booruName: string;
  scope: string;
  key: string;
  action: SuggestionAction;
  value: number;
  source: string;
  enabled: boolean;
  evidence: unknown;
  updatedAt: Date;
}

export interface DatabaseStatus {
  posts: Record<PostState, number>;
  suggestions: Record<SuggestionStatus, number>;
  failuresByReason: { reason: string; count: number }[];
  /** Lease owners holding posts now. */
  workers: { id: string; leased: number; leaseExpiresAt: Date }[];
  taggedLastHour: number;
  lastTaggedAt: Date | null;
}

const sql = Prisma.sql;

function whereOf(filter: QueueFilter, without?: FacetKey): Prisma.Sql {
  const parts: Prisma.Sql[] = [sql`s.status = ${filter.status ?? 'pending'}::"SuggestionStatus"`];
  if (filter.action && without !== 'action') parts.push(sql`s.action = ${filter.action}::"SuggestionAction"`);
  if (filter.category !== undefined && without !== 'category') parts.push(sql`s.category = ${filter.category}`);
  if (filter.minScore !== undefined) parts.push(sql`s.score >= ${filter.minScore}`);
  if (filter.maxScore !== undefined) parts.push(sql`s.score <= ${filter.maxScore}`);
  if (filter.tag) parts.push(sql`s.tag = ${filter.tag}`);
  if (filter.modelId !== undefined && without !== 'modelId') parts.push(sql`s.model_id = ${filter.modelId}`);
  if (filter.booruId !== undefined && without !== 'booruId') {
    parts.push(sql`s.post_id IN (SELECT id FROM posts WHERE booru_id = ${filter.booruId})`);
  }
  return Prisma.join(parts, ' AND ');
}

interface SuggestionSqlRow {
  id: number;
  post_id: number;
  tag: string;
  action: SuggestionAction;
  category: number | null;
  score: number;
  reason: string;
  status: SuggestionStatus;
  model_id: number;
  decided_by: string | null;
  decided_at: Date | null;
  apply_outcome: string | null;
  apply_error: string | null;
  applied_at: Date | null;
  created_at: Date;
  votes: unknown;
}

const SUGGESTION_COLUMNS = sql`s.id, s.post_id, s.tag, s.action::text AS action, s.category, s.score,
  s.reason, s.status::text AS status, s.model_id, u.name AS decided_by, s.decided_at, s.apply_outcome, s.apply_error,
  s.applied_at, s.created_at, s.votes`;

/** The stored vote, when it has the shape the worker writes (anything else is shown as none). */
function voteOf(value: unknown): EnsembleVote | null {
  if (typeof value !== 'object' || value === null) return null;
  const { combination, models } = value as { combination?: unknown; models?: unknown };
  if (typeof combination !== 'string' || !Array.isArray(models)) return null;
  const valid = models.every(
    (m) => typeof m === 'object' && m !== null && typeof m.model === 'string' && typeof m.score === 'number',
  );
  return valid ? { combination, models: models as EnsembleVote['models'] } : null;
}

function toSuggestion(r: SuggestionSqlRow): ReviewSuggestion {
  return {
    id: r.id,
    postId: r.post_id,
    tag: r.tag,
    action: r.action,
    category: r.category,
    score: r.score,
    reason: r.reason,
    status: r.status,
    modelId: r.model_id,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    applyOutcome: r.apply_outcome,
    applyError: r.apply_error,
    appliedAt: r.applied_at,
    createdAt: r.created_at,
    votes: voteOf(r.votes),
  };
}

interface PostSqlRow {
  id: number;
  booru_id: number;
  booru_name: string;
  booru_kind: BooruKind;
  booru_url: string;
  remote_id: number;
  rating: string | null;
  tags: string[] | null;
  preview_url: string | null;
  variants: unknown;
  width: number | null;
  height: number | null;
  state: PostState;
  last_error: string | null;
  skip_reason: string | null;
}

const POST_COLUMNS = sql`p.id, p.booru_id, b.name AS booru_name, b.kind::text AS booru_kind, b.base_url AS booru_url,
  p.remote_id, p.rating, p.tags, p.preview_url, p.variants, p.width, p.height, p.state::text AS state, p.last_error,
  p.skip_reason`;

/** The sample-sized variant Danbooru offers (720x720, then sample), for a readable image in the queue. */
function sampleOf(variants: unknown): string | null {
  if (!Array.isArray(variants)) return null;
  for (const type of ['720x720', 'sample', '360x360']) {
    const found = variants.find((v) => v && typeof v === 'object' && (v as { type?: unknown }).type === type) as
      | { url?: unknown }
      | undefined;
    if (typeof found?.url === 'string') return found.url;
  }
  return null;
}

export class ReviewRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** How many posts have a suggestion matching the filter. */
  async countPosts(filter: QueueFilter): Promise<number> {
    const rows = await this.prisma.$queryRaw<{ n: number }[]>`
      SELECT count(DISTINCT s.post_id)::int AS n FROM suggestions s WHERE ${whereOf(filter)}`;
    return rows[0]?.n ?? 0;
  }

  /** How many suggestions match the filter. */
  async countSuggestions(filter: QueueFilter): Promise<number> {
    const rows = await this.prisma.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM suggestions s WHERE ${whereOf(filter)}`;
    return rows[0]?.n ?? 0;
  }

  /**
   * Counts per action, category, model and booru; each under every filter but its own (faceted search), in one scan
   * of the matching suggestions (GROUPING SETS, one conditional count per facet). The post is joined only when more
   * than one booru shares the database.
   */
  async facets(filter: QueueFilter): Promise<Facets> {
    const booruCount = await this.prisma.booru.count();
    const multi = booruCount > 1;
    const ok = (key: FacetKey): Prisma.Sql => {
      switch (key) {
        case 'action':
          return filter.action ? sql`s.action = ${filter.action}::"SuggestionAction"` : sql`TRUE`;
        case 'category':
          return filter.category !== undefined ? sql`s.category = ${filter.category}` : sql`TRUE`;
        case 'modelId':
          return filter.modelId !== undefined ? sql`s.model_id = ${filter.modelId}` : sql`TRUE`;
        case 'booruId':
          return filter.booruId !== undefined && multi ? sql`p.booru_id = ${filter.booruId}` : sql`TRUE`;
      }
    };
    const others = (key: FacetKey): Prisma.Sql =>
      Prisma.join((['action', 'category', 'modelId', 'booruId'] as const).filter((k) => k !== key).map(ok), ' AND ');
    const base = whereOf({
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.minScore !== undefined ? { minScore: filter.minScore } : {}),
      ...(filter.maxScore !== undefined ? { maxScore: filter.maxScore } : {}),
      ...(filter.tag ? { tag: filter.tag } : {}),
      // One booru: its filter is a no-op or excludes everything; keep it exact without the join.
      ...(!multi && filter.booruId !== undefined ? { booruId: filter.booruId } : {}),
    });
    const rows = await this.prisma.$queryRaw<
      {
        g_action: number;
        g_category: number;
        g_model: number;
        action: string | null;
        category: number | null;
        model_id: number | null;
        booru_id: number | null;
        n_action: number;
        n_category: number;
        n_model: number;
        n_booru: number;
      }[]
    >`
      SELECT GROUPING(s.action) AS g_action, GROUPING(s.category) AS g_category, GROUPING(s.model_id) AS g_model,
             s.action::text AS action, s.category, s.model_id, ${multi ? sql`p.booru_id` : sql`NULL::int`} AS booru_id,
             count(*) FILTER (WHERE ${others('action')})::int AS n_action,
             count(*) FILTER (WHERE ${others('category')})::int AS n_category,
             count(*) FILTER (WHERE ${others('modelId')})::int AS n_model,
             count(*) FILTER (WHERE ${others('booruId')})::int AS n_booru
      FROM suggestions s ${multi ? sql`JOIN posts p ON p.id = s.post_id` : Prisma.empty}
      WHERE ${base}
      GROUP BY GROUPING SETS ((s.action), (s.category), (s.model_id)${multi ? sql`, (p.booru_id)` : Prisma.empty})`;
    const facets: Facets = { action: [], category: [], modelId: [], booruId: [] };
    for (const r of rows) {
      if (r.g_action === 0) facets.action.push({ value: r.action ?? '', count: r.n_action });
      else if (r.g_category === 0) facets.category.push({ value: String(r.category ?? -1), count: r.n_category });
      else if (r.g_model === 0) facets.modelId.push({ value: String(r.model_id), count: r.n_model });
      else facets.booruId.push({ value: String(r.booru_id), count: r.n_booru });
    }
    if (!multi) {
      const only = await this.prisma.booru.findFirst({ select: { id: true } });
      const total = facets.action.reduce(
        (sum, f) => sum + (!filter.action || f.value === filter.action ? f.count : 0),
        0,
      );
      if (only) facets.booruId.push({ value: String(only.id), count: total });
    }
    for (const list of Object.values(facets)) list.sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
    for (const key of Object.keys(facets) as FacetKey[]) facets[key] = facets[key].filter((f) => f.count > 0);
    return facets;
  }

  /**
   * One page of the queue by post: the posts with a suggestion matching the filter, each with its matching
   * suggestions (highest score first).
   */
  async listQueuePosts(
    filter: QueueFilter,
    page: { sort: QueueSort; limit: number; offset: number },
  ): Promise<QueuePost[]> {
    const order =
      page.sort === 'score'
        ? sql`max(s.score) DESC, s.post_id DESC`
        : page.sort === 'oldest'
          ? sql`s.post_id ASC`
          : sql`s.post_id DESC`;
    const ids = await this.prisma.$queryRaw<{ post_id: number }[]>`
      SELECT s.post_id FROM suggestions s WHERE ${whereOf(filter)}
      GROUP BY s.post_id ORDER BY ${order} LIMIT ${page.limit} OFFSET ${page.offset}`;
    if (ids.length === 0) return [];
    const postIds = ids.map((r) => r.post_id);
    const [posts, suggestions] = await Promise.all([
      this.loadPosts(postIds),
      this.prisma.$queryRaw<SuggestionSqlRow[]>`
        SELECT ${SUGGESTION_COLUMNS} FROM suggestions s LEFT JOIN users u ON u.id = s.decided_by_id
        WHERE s.post_id = ANY(${postIds}::int[]) AND ${whereOf(filter)}
        ORDER BY s.action, s.score DESC, s.id`,
    ]);
    const byPost = new Map<number, ReviewSuggestion[]>();
    for (const row of suggestions) {
      const list = byPost.get(row.post_id) ?? [];
      list.push(toSuggestion(row));
      byPost.set(row.post_id, list);
    }
    const postById = new Map(posts.map((p) => [p.id, p]));
    return postIds.flatMap((id) => {
      const post = postById.get(id);
      return post ? [{ ...post, suggestions: byPost.get(id) ?? [] }] : [];
    });
  }

  /** Suggestions matching the filter, highest score first (then by id), with the post's remote id. */
  async listSuggestions(
    filter: QueueFilter,
    page: { limit: number; offset: number },
  ): Promise<(ReviewSuggestion & { remoteId: number })[]> {
    const rows = await this.prisma.$queryRaw<(SuggestionSqlRow & { remote_id: number })[]>`
      SELECT ${SUGGESTION_COLUMNS}, p.remote_id FROM suggestions s JOIN posts p ON p.id = s.post_id
      LEFT JOIN users u ON u.id = s.decided_by_id
      WHERE ${whereOf(filter)} ORDER BY s.score DESC, s.id ASC LIMIT ${page.limit} OFFSET ${page.offset}`;
    return rows.map((r) => ({ ...toSuggestion(r), remoteId: r.remote_id }));
  }

  /** The tags with suggestions matching the filter, most suggestions first. */
  async listTagSummary(filter: QueueFilter, limit: number): Promise<TagSummaryRow[]> {
    const rows = await this.prisma.$queryRaw<
      { tag: string; action: SuggestionAction; category: number | null; count: number; max_score: number }[]
    >`
      SELECT s.tag, s.action::text AS action, min(s.category) AS category, count(*)::int AS count,
             max(s.score) AS max_score
      FROM suggestions s WHERE ${whereOf(filter)}
      GROUP BY s.tag, s.action ORDER BY count(*) DESC, s.tag LIMIT ${limit}`;
    return rows.map((r) => ({
      tag: r.tag,
      action: r.action,
      category: r.category,
      count: r.count,
      maxScore: r.max_score,
    }));
  }

  /** One tag's suggestions across posts, for the grid: by score in either direction. */
  async listTagGrid(
    tag: string,
    action: SuggestionAction,
    filter: QueueFilter,
    page: { direction: 'desc' | 'asc'; limit: number; offset: number },
  ): Promise<GridItem[]> {
    const order = page.direction === 'asc' ? sql`s.score ASC, s.id ASC` : sql`s.score DESC, s.id ASC`;
    const rows = await this.prisma.$queryRaw<
      (SuggestionSqlRow & { remote_id: number; preview_url: string | null; booru_kind: BooruKind; tags: string[] })[]
    >`
      SELECT ${SUGGESTION_COLUMNS}, p.remote_id, p.preview_url, b.kind::text AS booru_kind, p.tags
      FROM suggestions s JOIN posts p ON p.id = s.post_id JOIN boorus b ON b.id = p.booru_id
      LEFT JOIN users u ON u.id = s.decided_by_id
      WHERE ${whereOf({ ...filter, tag, action })}
      ORDER BY ${order} LIMIT ${page.limit} OFFSET ${page.offset}`;
    return rows.map((r) => ({
      suggestion: toSuggestion(r),
      post: { id: r.post_id, remoteId: r.remote_id, previewUrl: r.preview_url, booruKind: r.booru_kind, tags: r.tags },
    }));
  }

  /** A post with every suggestion, score set, decision and write-back it ever had. */
  async findPostDetail(postId: number): Promise<PostDetail | null> {
    const [post] = await this.loadPosts([postId]);
    if (!post) return null;
    const [suggestions, predictions, decisions, edits] = await Promise.all([
      this.prisma.$queryRaw<SuggestionSqlRow[]>`
        SELECT ${SUGGESTION_COLUMNS} FROM suggestions s LEFT JOIN users u ON u.id = s.decided_by_id
        WHERE s.post_id = ${postId} ORDER BY s.created_at DESC, s.id DESC`,
      this.prisma.prediction.findMany({
        where: { postId },
        orderBy: { createdAt: 'desc' },
        include: { model: { select: { name: true, version: true, labels: true } } },
      }),
      this.listAudit({ postId, limit: 200 }),
      this.prisma.tagEdit.findMany({ where: { postId }, orderBy: { id: 'desc' } }),
    ]);
    return {
      post,
      suggestions: suggestions.map(toSuggestion),
      predictions: predictions.map((p) => {
        const labels = Array.isArray(p.model.labels) ? (p.model.labels as { name?: string }[]) : [];
        const scores = p.labelIdx
          .map((idx, i) => ({ label: labels[idx]?.name ?? `#${idx}`, score: p.scores[i] ?? 0 }))
          .sort((a, b) => b.score - a.score);
        return {
          modelId: p.modelId,
          modelName: p.model.name,
          modelVersion: p.model.version,
          createdAt: p.createdAt,
          tagsVersion: p.tagsVersion,
          scores,
        };
      }),
      decisions,
      tagEdits: edits.map((e) => ({
        id: e.id,
        suggestionIds: e.suggestionIds,
        oldTagString: e.oldTagString,
        newTagString: e.newTagString,
        resultTags: e.resultTags,
        outcome: e.outcome,
        error: e.error,
        createdAt: e.createdAt,
      })),
    };
  }

  /** The audit log, newest first; `beforeId` pages backwards. */
  async listAudit(query: {
    beforeId?: number;
    actor?: string;
    action?: string;
    postId?: number;
    limit: number;
  }): Promise<AuditView[]> {
    const parts: Prisma.Sql[] = [sql`TRUE`];
    if (query.beforeId !== undefined) parts.push(sql`d.id < ${query.beforeId}`);
    if (query.actor) parts.push(sql`d.actor = ${query.actor}`);
    if (query.action) parts.push(sql`d.action = ${query.action}`);
    if (query.postId !== undefined) parts.push(sql`d.post_id = ${query.postId}`);
    const rows = await this.prisma.$queryRaw<
      {
        id: number;
        at: Date;
        actor: string;
        action: string;
        suggestion_id: number | null;
        post_id: number | null;
        remote_id: number | null;
        tag: string | null;
        detail: unknown;
        origin: string | null;
      }[]
    >`
      SELECT d.id, d.at, d.actor, d.action, d.suggestion_id, d.post_id, p.remote_id, s.tag, d.detail, d.origin
      FROM decisions d LEFT JOIN posts p ON p.id = d.post_id LEFT JOIN suggestions s ON s.id = d.suggestion_id
      WHERE ${Prisma.join(parts, ' AND ')} ORDER BY d.id DESC LIMIT ${query.limit}`;
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      actor: r.actor,
      action: r.action,
      suggestionId: r.suggestion_id,
      postId: r.post_id,
      remoteId: r.remote_id,
      tag: r.tag,
      detail: r.detail,
      origin: r.origin,
    }));
  }

  /** Every stored threshold (per category and per tag), with the evidence that produced it. */
  async listThresholds(): Promise<ThresholdView[]> {
    const rows = await this.prisma.threshold.findMany({
      include: { booru: { select: { name: true } } },
      orderBy: [{ booruId: 'asc' }, { scope: 'asc' }, { key: 'asc' }, { action: 'asc' }],
    });
    return rows.map((r) => ({
      booruName: r.booru.name,
      scope: r.scope,
      key: r.key,
      action: r.action,
      value: r.value,
      source: r.source,
      enabled: r.enabled,
      evidence: r.evidence,
      updatedAt: r.updatedAt,
    }));
  }

  /** Boorus and models by id, to name facet values. */
  async listNames(): Promise<{
    boorus: { id: number; name: string; kind: BooruKind }[];
    models: { id: number; name: string; version: string }[];
  }> {
    const [boorus, models] = await Promise.all([
      this.prisma.booru.findMany({ select: { id: true, name: true, kind: true }, orderBy: { id: 'asc' } }),
      this.prisma.model.findMany({ select: { id: true, name: true, version: true }, orderBy: { id: 'asc' } }),
    ]);
    return { boorus, models };
  }

  /**
   * Of these suggestions, the ones on a booru of a report-only kind (no tag-edit API: they cannot be approved).
   * @param reportOnlyKinds the dialects without a tag-edit API (src/booru/dialects.ts).
   */
  async listReportOnly(ids: readonly number[], reportOnlyKinds: readonly string[]): Promise<number[]> {
    if (ids.length === 0 || reportOnlyKinds.length === 0) return [];
    const rows = await this.prisma.$queryRaw<{ id: number }[]>`
      SELECT s.id FROM suggestions s JOIN posts p ON p.id = s.post_id JOIN boorus b ON b.id = p.booru_id
      WHERE s.id = ANY(${[...ids]}::int[]) AND b.kind::text = ANY(${[...reportOnlyKinds]}::text[])`;
    return rows.map((r) => r.id);
  }

  /** Pipeline facts the database holds: posts by state, failures grouped by reason, lease holders, throughput. */
  async readStatus(now: Date = new Date()): Promise<DatabaseStatus> {
    const hourAgo = new Date(now.getTime() - 3600_000);
    const [states, statuses, failures, workers, tagged] = await Promise.all([
      this.prisma.$queryRaw<{ state: PostState; n: number }[]>`
        SELECT state::text AS state, count(*)::int AS n FROM posts GROUP BY 1`,
      this.prisma.$queryRaw<{ status: SuggestionStatus; n: number }[]>`
        SELECT status::text AS status, count(*)::int AS n FROM suggestions GROUP BY 1`,
      this.prisma.$queryRaw<{ reason: string; count: number }[]>`
        SELECT coalesce(last_error, skip_reason, 'unknown') AS reason, count(*)::int AS count FROM posts
        WHERE state IN ('failed', 'skipped') OR (last_error IS NOT NULL AND state IN ('new', 'queued'))
        GROUP BY 1 ORDER BY 2 DESC LIMIT 30`,
      this.prisma.$queryRaw<{ id: string; leased: number; lease_expires_at: Date }[]>`
        SELECT lease_owner AS id, count(*)::int AS leased, max(lease_expires_at) AS lease_expires_at FROM posts
        WHERE lease_owner IS NOT NULL AND lease_expires_at > ${now} GROUP BY 1 ORDER BY 1`,
      this.prisma.$queryRaw<{ n: number; last: Date | null }[]>`
        SELECT count(*) FILTER (WHERE tagged_at > ${hourAgo})::int AS n, max(tagged_at) AS last FROM posts`,
    ]);
    const posts = { new: 0, queued: 0, tagged: 0, skipped: 0, failed: 0 } as Record<PostState, number>;
    for (const r of states) posts[r.state] = r.n;
    const suggestions = {
      pending: 0,
      approved: 0,
      rejected: 0,
      applied: 0,
      failed: 0,
      superseded: 0,
      already_applied: 0,
    } as Record<SuggestionStatus, number>;
    for (const r of statuses) suggestions[r.status] = r.n;
    return {
      posts,
      suggestions,
      failuresByReason: failures,
      workers: workers.map((w) => ({ id: w.id, leased: w.leased, leaseExpiresAt: w.lease_expires_at })),
      taggedLastHour: tagged[0]?.n ?? 0,
      lastTaggedAt: tagged[0]?.last ?? null,
    };
  }

  private async loadPosts(ids: readonly number[]): Promise<ReviewPost[]> {
    const rows = await this.prisma.$queryRaw<PostSqlRow[]>`
      SELECT ${POST_COLUMNS} FROM posts p JOIN boorus b ON b.id = p.booru_id WHERE p.id = ANY(${[...ids]}::int[])`;
    if (rows.length === 0) return [];
    // Current tags' categories from the synced tag list (one query for the whole page).
    const pairs = rows.flatMap((r) => (r.tags ?? []).map((t) => ({ booru: r.booru_id, name: t })));
    const categories =
      pairs.length === 0
        ? []
        : await this.prisma.$queryRaw<{ booru_id: number; name: string; category: number }[]>`
            SELECT t.booru_id, t.name, t.category FROM tags t
            JOIN unnest(${pairs.map((p) => p.booru)}::int[], ${pairs.map((p) => p.name)}::text[]) AS x(b, n)
              ON t.booru_id = x.b AND t.name = x.n`;
    const categoryOf = new Map(categories.map((c) => [`${c.booru_id}\u0000${c.name}`, c.category]));
    return rows.map((r) => {
      const tags = r.tags ?? [];
      const tagCategories: Record<string, number> = {};
      for (const t of tags) {
        const c = categoryOf.get(`${r.booru_id}\u0000${t}`);
        if (c !== undefined) tagCategories[t] = c;
      }
      return {
        id: r.id,
        booruId: r.booru_id,
        booruName: r.booru_name,
        booruKind: r.booru_kind,
        booruUrl: r.booru_url,
        remoteId: r.remote_id,
        rating: r.rating,
        tags,
        tagCategories,
        previewUrl: r.preview_url,
        sampleUrl: sampleOf(r.variants) ?? r.preview_url,
        width: r.width,
        height: r.height,
        state: r.state,
        lastError: r.last_error,
        skipReason: r.skip_reason,
      };
    });
  }
}
