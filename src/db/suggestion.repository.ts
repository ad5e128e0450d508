/**
 * The suggestions aggregate: a suggestion's reads (lists, counts, the review queue, the approved ones to write back)
 * and its moves (decide, undo, the write-back's outcome, the re-scan's closing), each move with its audit rows. New
 * suggestions come only from a diff, through `TaggingRepository` (src/db/tagging.repository.ts). The queue reads live
 * in suggestion-queue.ts and the moves in suggestion-moves.ts; this class is their one entry.
 */
import type { Rating } from '../core/types.js';
import { SUGGESTION_STATUSES } from '../core/states.js';
import type { PrismaClient } from './generated/client.js';
import type { QueuePost } from './post.types.js';
import * as moves from './suggestion-moves.js';
import * as queue from './suggestion-queue.js';
import type {
  ApprovedChange,
  ApprovedPostGroup,
  DecideInput,
  DecideResult,
  Facets,
  GridItem,
  QueueFilter,
  QueueSort,
  RecordApplyInput,
  RecordApplyResult,
  ReviewSuggestion,
  SuggestionAction,
  SuggestionRow,
  SuggestionStatus,
  TagSummaryRow,
} from './suggestion.types.js';

export * from './suggestion.types.js';

export class SuggestionRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Suggestions, highest score first (then by id), optionally of one status and one booru. */
  async list(query: {
    status?: SuggestionStatus;
    booruId?: number;
    limit: number;
    offset: number;
  }): Promise<SuggestionRow[]> {
    return queue.listAll(this.prisma, query);
  }

  /** How many suggestions there are (of one status, of one booru). */
  async count(query: { status?: SuggestionStatus; booruId?: number } = {}): Promise<number> {
    return this.prisma.suggestion.count({
      where: {
        ...(query.status ? { status: query.status } : {}),
        ...(query.booruId !== undefined ? { post: { booruId: query.booruId } } : {}),
      },
    });
  }

  /** How many suggestions are in each status (every status present, zero when none). */
  async countByStatus(): Promise<Record<SuggestionStatus, number>> {
    const groups = await this.prisma.suggestion.groupBy({ by: ['status'], _count: { _all: true } });
    const counts = Object.fromEntries(SUGGESTION_STATUSES.map((s) => [s, 0])) as Record<SuggestionStatus, number>;
    for (const g of groups) counts[g.status] = g._count._all;
    return counts;
  }

  /** Approved suggestions of a booru grouped by post (lowest remote id first), ready to be written back. */
  async listApprovedGrouped(booruId: number, limit?: number): Promise<ApprovedPostGroup[]> {
    const rows = await this.prisma.suggestion.findMany({
      where: { status: 'approved', post: { booruId } },
      orderBy: [{ post: { remoteId: 'asc' } }, { id: 'asc' }],
      include: { post: { select: { id: true, remoteId: true, tags: true, rating: true, tagsVersion: true } } },
      ...(limit !== undefined ? { take: limit } : {}),
    });
    const groups = new Map<number, ApprovedPostGroup>();
    for (const r of rows) {
      let group = groups.get(r.postId);
      if (!group) {
        group = { post: { ...r.post, rating: r.post.rating as Rating | null }, suggestions: [] };
        groups.set(r.postId, group);
      }
      group.suggestions.push({
        id: r.id,
        tag: r.tag,
        action: r.action,
        category: r.category,
        score: r.score,
        reason: r.reason,
        modelId: r.modelId,
        tagsVersion: r.tagsVersion,
      });
    }
    return [...groups.values()];
  }

  /** Approved suggestions of these posts that are not applied yet, oldest decision first (the dataset export). */
  async listApprovedForPosts(postIds: readonly number[]): Promise<ApprovedChange[]> {
    if (postIds.length === 0) return [];
    return this.prisma.suggestion.findMany({
      where: { postId: { in: [...postIds] }, status: 'approved' },
      select: { postId: true, tag: true, action: true },
      orderBy: [{ decidedAt: 'asc' }, { id: 'asc' }],
    });
  }

  /** Open suggestions (pending or approved) of these posts, for the re-scan to re-check against the booru. */
  async listOpenForPosts(
    postIds: readonly number[],
  ): Promise<{ id: number; postId: number; tag: string; action: 'add' | 'remove' | 'rating'; status: string }[]> {
    if (postIds.length === 0) return [];
    return this.prisma.suggestion.findMany({
      where: { postId: { in: [...postIds] }, status: { in: ['pending', 'approved'] } },
      select: { id: true, postId: true, tag: true, action: true, status: true },
      orderBy: { id: 'asc' },
    });
  }

  /** How many posts have a suggestion matching the filter. */
  countPosts(filter: QueueFilter): Promise<number> {
    return queue.countPosts(this.prisma, filter);
  }

  /** How many suggestions match the filter. */
  countSuggestions(filter: QueueFilter): Promise<number> {
    return queue.countSuggestions(this.prisma, filter);
  }

  /** Counts per action, category, model and booru, each under every filter but its own (faceted search). */
  facets(filter: QueueFilter): Promise<Facets> {
    return queue.facets(this.prisma, filter);
  }

  /** One page of the queue by post: posts with a matching suggestion, each with its matching suggestions. */
  listQueuePosts(filter: QueueFilter, page: { sort: QueueSort; limit: number; offset: number }): Promise<QueuePost[]> {
    return queue.listQueuePosts(this.prisma, filter, page);
  }

  /** Suggestions matching the filter, highest score first (then by id), with the post's remote id. */
  listSuggestions(
    filter: QueueFilter,
    page: { limit: number; offset: number },
  ): Promise<(ReviewSuggestion & { remoteId: number })[]> {
    return queue.listSuggestions(this.prisma, filter, page);
  }

  /** The tags with suggestions matching the filter, most suggestions first. */
  listTagSummary(filter: QueueFilter, limit: number): Promise<TagSummaryRow[]> {
    return queue.listTagSummary(this.prisma, filter, limit);
  }

  /** One tag's suggestions across posts, for the grid: by score in either direction. */
  listTagGrid(
    tag: string,
    action: SuggestionAction,
    filter: QueueFilter,
    page: { direction: 'desc' | 'asc'; limit: number; offset: number },
  ): Promise<GridItem[]> {
    return queue.listTagGrid(this.prisma, tag, action, filter, page);
  }

  /** Boorus and models by id, to name facet values. */
  listNames(): ReturnType<typeof queue.listNames> {
    return queue.listNames(this.prisma);
  }

  /** Of these suggestions, the ones on a booru of a report-only kind (no tag-edit API: they cannot be approved). */
  listReportOnly(ids: readonly number[], reportOnlyKinds: readonly string[]): Promise<number[]> {
    return queue.listReportOnly(this.prisma, ids, reportOnlyKinds);
  }

  /** Approves or rejects pending suggestions, one audit row per change; the others are reported in `skipped`. */
  decide(input: DecideInput): Promise<DecideResult> {
    return moves.decide(this.prisma, input);
  }

  /** Takes decisions back (approved or rejected → pending), until the suggestion is applied. */
  undo(input: Omit<DecideInput, 'verdict'>): Promise<DecideResult> {
    return moves.undo(this.prisma, input);
  }

  /** {@link decide} for every pending suggestion (of one booru when given). */
  decideAll(input: Omit<DecideInput, 'ids'> & { booruId?: number }): Promise<DecideResult> {
    return moves.decideAll(this.prisma, input);
  }

  /** Records one write-back: a TagEdit row, each approved suggestion's outcome, one `apply` audit row each. */
  recordApplyOutcomes(input: RecordApplyInput): Promise<RecordApplyResult> {
    return moves.recordApplyOutcomes(this.prisma, input);
  }

  /** Closes open suggestions a change on the booru settled (`already_applied` or `superseded`); returns the ids. */
  closeOpen(
    rows: readonly { id: number; status: 'already_applied' | 'superseded'; reason: string }[],
    actor = 'rescan',
  ): Promise<number[]> {
    return moves.closeOpen(this.prisma, rows, actor);
  }
}
