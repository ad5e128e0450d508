/**
 * The suggestion queue's reads, for the review pages: the filtered queue by post and by tag, facet counts, the tag
 * summary and grid, and the names of facet values. Written as SQL so each page is a handful of indexed queries,
 * whatever the size of the queue (`scripts/time-dashboard.ts` measures them at 100,000 pending). Part of the
 * suggestions aggregate: `SuggestionRepository` exposes each.
 */
import type { BooruKind, ReviewSuggestion, SuggestionAction } from '../core/types.js';
import { Prisma, type PrismaClient } from './generated/client.js';
import { loadReviewPosts } from './post-detail.js';
import type { QueuePost } from './post.types.js';
import { SUGGESTION_COLUMNS, type SuggestionSqlRow, toSuggestion } from './suggestion.mapper.js';
import type {
  FacetKey,
  Facets,
  GridItem,
  QueueFilter,
  QueueSort,
  SuggestionStatus,
  TagSummaryRow,
} from './suggestion.types.js';

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

/** How many posts have a suggestion matching the filter. */
export async function countPosts(prisma: PrismaClient, filter: QueueFilter): Promise<number> {
  const rows = await prisma.$queryRaw<{ n: number }[]>`
    SELECT count(DISTINCT s.post_id)::int AS n FROM suggestions s WHERE ${whereOf(filter)}`;
  return rows[0]?.n ?? 0;
}

/** How many suggestions match the filter. */
export async function countSuggestions(prisma: PrismaClient, filter: QueueFilter): Promise<number> {
  const rows = await prisma.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM suggestions s WHERE ${whereOf(filter)}`;
  return rows[0]?.n ?? 0;
}

/**
 * Counts per action, category, model and booru; each under every filter but its own (faceted search), in one scan
 * of the matching suggestions (GROUPING SETS, one conditional count per facet). The post is joined only when more
 * than one booru shares the database.
 */
export async function facets(prisma: PrismaClient, filter: QueueFilter): Promise<Facets> {
  const booruCount = await prisma.booru.count();
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
  const rows = await prisma.$queryRaw<
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
    const only = await prisma.booru.findFirst({ select: { id: true } });
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
export async function listQueuePosts(
  prisma: PrismaClient,
  filter: QueueFilter,
  page: { sort: QueueSort; limit: number; offset: number },
): Promise<QueuePost[]> {
  const order =
    page.sort === 'score'
      ? sql`max(s.score) DESC, s.post_id DESC`
      : page.sort === 'oldest'
        ? sql`s.post_id ASC`
        : sql`s.post_id DESC`;
  const ids = await prisma.$queryRaw<{ post_id: number }[]>`
    SELECT s.post_id FROM suggestions s WHERE ${whereOf(filter)}
    GROUP BY s.post_id ORDER BY ${order} LIMIT ${page.limit} OFFSET ${page.offset}`;
  if (ids.length === 0) return [];
  const postIds = ids.map((r) => r.post_id);
  const [posts, suggestions] = await Promise.all([
    loadReviewPosts(prisma, postIds),
    prisma.$queryRaw<SuggestionSqlRow[]>`
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
export async function listSuggestions(
  prisma: PrismaClient,
  filter: QueueFilter,
  page: { limit: number; offset: number },
): Promise<(ReviewSuggestion & { remoteId: number })[]> {
  const rows = await prisma.$queryRaw<(SuggestionSqlRow & { remote_id: number })[]>`
    SELECT ${SUGGESTION_COLUMNS}, p.remote_id FROM suggestions s JOIN posts p ON p.id = s.post_id
    LEFT JOIN users u ON u.id = s.decided_by_id
    WHERE ${whereOf(filter)} ORDER BY s.score DESC, s.id ASC LIMIT ${page.limit} OFFSET ${page.offset}`;
  return rows.map((r) => ({ ...toSuggestion(r), remoteId: r.remote_id }));
}

/** Suggestions of any status (or one), of any booru (or one), highest score first (then by id). */
export async function listAll(
  prisma: PrismaClient,
  query: { status?: SuggestionStatus; booruId?: number; limit: number; offset: number },
): Promise<(ReviewSuggestion & { remoteId: number })[]> {
  const parts: Prisma.Sql[] = [sql`TRUE`];
  if (query.status) parts.push(sql`s.status = ${query.status}::"SuggestionStatus"`);
  if (query.booruId !== undefined) parts.push(sql`p.booru_id = ${query.booruId}`);
  const rows = await prisma.$queryRaw<(SuggestionSqlRow & { remote_id: number })[]>`
    SELECT ${SUGGESTION_COLUMNS}, p.remote_id FROM suggestions s JOIN posts p ON p.id = s.post_id
    LEFT JOIN users u ON u.id = s.decided_by_id
    WHERE ${Prisma.join(parts, ' AND ')} ORDER BY s.score DESC, s.id ASC LIMIT ${query.limit} OFFSET ${query.offset}`;
  return rows.map((r) => ({ ...toSuggestion(r), remoteId: r.remote_id }));
}

/** The tags with suggestions matching the filter, most suggestions first. */
export async function listTagSummary(
  prisma: PrismaClient,
  filter: QueueFilter,
  limit: number,
): Promise<TagSummaryRow[]> {
  const rows = await prisma.$queryRaw<
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
export async function listTagGrid(
  prisma: PrismaClient,
  tag: string,
  action: SuggestionAction,
  filter: QueueFilter,
  page: { direction: 'desc' | 'asc'; limit: number; offset: number },
): Promise<GridItem[]> {
  const order = page.direction === 'asc' ? sql`s.score ASC, s.id ASC` : sql`s.score DESC, s.id ASC`;
  const rows = await prisma.$queryRaw<
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

/** Boorus and models by id, to name facet values. */
export async function listNames(prisma: PrismaClient): Promise<{
  boorus: { id: number; name: string; kind: BooruKind }[];
  models: { id: number; name: string; version: string }[];
}> {
  const [boorus, models] = await Promise.all([
    prisma.booru.findMany({ select: { id: true, name: true, kind: true }, orderBy: { id: 'asc' } }),
    prisma.model.findMany({ select: { id: true, name: true, version: true }, orderBy: { id: 'asc' } }),
  ]);
  return { boorus, models };
}

/**
 * Of these suggestions, the ones on a booru of a report-only kind (no tag-edit API: they cannot be approved).
 * @param reportOnlyKinds the dialects without a tag-edit API (src/core/dialects.ts).
 */
export async function listReportOnly(
  prisma: PrismaClient,
  ids: readonly number[],
  reportOnlyKinds: readonly string[],
): Promise<number[]> {
  if (ids.length === 0 || reportOnlyKinds.length === 0) return [];
  const rows = await prisma.$queryRaw<{ id: number }[]>`
    SELECT s.id FROM suggestions s JOIN posts p ON p.id = s.post_id JOIN boorus b ON b.id = p.booru_id
    WHERE s.id = ANY(${[...ids]}::int[]) AND b.kind::text = ANY(${[...reportOnlyKinds]}::text[])`;
  return rows.map((r) => r.id);
}
