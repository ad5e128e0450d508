/**
 * The post as the review pages read it: posts with their booru and the categories of their current tags, and one
 * post's whole history (suggestions, score sets, decisions, write-backs). Part of the posts aggregate
 * (`PostRepository.findDetail`); the suggestion queue loads its posts through {@link loadReviewPosts}.
 */
import { listAuditViews } from './audit.repository.js';
import { Prisma, type PrismaClient } from './generated/client.js';
import type { PostDetail, PostState, ReviewPost } from './post.types.js';
import type { BooruKind } from '../core/types.js';
import { SUGGESTION_COLUMNS, type SuggestionSqlRow, toSuggestion } from './suggestion.mapper.js';

const sql = Prisma.sql;

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

/** A post with every suggestion, score set, decision and write-back it ever had. */
export async function findPostDetail(prisma: PrismaClient, postId: number): Promise<PostDetail | null> {
  const [post] = await loadReviewPosts(prisma, [postId]);
  if (!post) return null;
  const [suggestions, predictions, decisions, edits] = await Promise.all([
    prisma.$queryRaw<SuggestionSqlRow[]>`
      SELECT ${SUGGESTION_COLUMNS} FROM suggestions s LEFT JOIN users u ON u.id = s.decided_by_id
      WHERE s.post_id = ${postId} ORDER BY s.created_at DESC, s.id DESC`,
    prisma.prediction.findMany({
      where: { postId },
      orderBy: { createdAt: 'desc' },
      include: { model: { select: { name: true, version: true, labels: true } } },
    }),
    listAuditViews(prisma, { postId, limit: 200 }),
    prisma.tagEdit.findMany({ where: { postId }, orderBy: { id: 'desc' } }),
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

export async function loadReviewPosts(prisma: PrismaClient, ids: readonly number[]): Promise<ReviewPost[]> {
  const rows = await prisma.$queryRaw<PostSqlRow[]>`
    SELECT ${POST_COLUMNS} FROM posts p JOIN boorus b ON b.id = p.booru_id WHERE p.id = ANY(${[...ids]}::int[])`;
  if (rows.length === 0) return [];
  // Current tags' categories from the synced tag list (one query for the whole page).
  const pairs = rows.flatMap((r) => (r.tags ?? []).map((t) => ({ booru: r.booru_id, name: t })));
  const categories =
    pairs.length === 0
      ? []
      : await prisma.$queryRaw<{ booru_id: number; name: string; category: number }[]>`
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
