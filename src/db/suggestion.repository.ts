import type { Rating } from '../core/types.js';
import type { PrismaClient } from './generated/client.js';
import { planReplacement } from './suggestion-plan.js';
import {
  type ApprovedPostGroup,
  type DecideInput,
  type DecideResult,
  type RecordApplyInput,
  type RecordApplyResult,
  type ReplacePendingInput,
  type ReplacePendingResult,
  SUGGESTION_STATUSES,
  type SuggestionRow,
  type SuggestionStatus,
} from './suggestion.types.js';

export * from './suggestion.types.js';

export class SuggestionRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Makes the post's pending suggestions equal to `drafts`, in one transaction: matching pending rows are refreshed,
   * the others superseded, new drafts inserted as pending unless already approved/applied on this post or rejected
   * without a clearly stronger score (`rejectMargin`).
   */
  async replacePending(input: ReplacePendingInput): Promise<ReplacePendingResult> {
    const margin = input.rejectMargin ?? 0.1;
    return this.prisma.$transaction(async (tx) => {
      // Serialise writers of the same post: two workers re-diffing it at once would otherwise both insert the same
      // pending row and one would fail on the (post, tag, action, is_open) unique index.
      await tx.$queryRaw`SELECT id FROM posts WHERE id = ${input.postId} FOR UPDATE`;
      const existing = await tx.suggestion.findMany({
        where: {
          postId: input.postId,
          status: { in: ['pending', 'rejected', 'approved', 'applied', 'already_applied'] },
        },
        select: { id: true, tag: true, action: true, status: true, score: true },
      });
      const plan = planReplacement(existing, input.drafts, margin);
      const result: ReplacePendingResult = {
        created: 0,
        kept: plan.keep.length,
        superseded: 0,
        suppressed: plan.suppressed,
      };
      for (const { id, draft } of plan.keep) {
        await tx.suggestion.update({
          where: { id },
          data: {
            score: draft.score,
            reason: draft.reason,
            category: draft.category,
            modelId: input.modelId,
            tagsVersion: input.tagsVersion,
          },
        });
      }
      const toCreate = plan.create;
      if (plan.supersede.length > 0) {
        const { count } = await tx.suggestion.updateMany({
          where: { id: { in: plan.supersede }, status: 'pending' },
          data: { status: 'superseded', isOpen: null },
        });
        result.superseded = count;
      }
      if (toCreate.length > 0) {
        const { count } = await tx.suggestion.createMany({
          data: toCreate.map((d) => ({
            postId: input.postId,
            tag: d.tag,
            action: d.action,
            category: d.category,
            score: d.score,
            reason: d.reason,
            modelId: input.modelId,
            tagsVersion: input.tagsVersion,
          })),
        });
        result.created = count;
      }
      return result;
    });
  }

  /** Suggestions, highest score first (then by id), optionally of one status and one booru. */
  async list(query: {
    status?: SuggestionStatus;
    booruId?: number;
    limit: number;
    offset: number;
  }): Promise<SuggestionRow[]> {
    const rows = await this.prisma.suggestion.findMany({
      where: {
        ...(query.status ? { status: query.status } : {}),
        ...(query.booruId !== undefined ? { post: { booruId: query.booruId } } : {}),
      },
      orderBy: [{ score: 'desc' }, { id: 'asc' }],
      take: query.limit,
      skip: query.offset,
      include: { post: { select: { remoteId: true } } },
    });
    return rows.map((r) => ({
      id: r.id,
      postId: r.postId,
      remoteId: r.post.remoteId,
      tag: r.tag,
      action: r.action,
      category: r.category,
      score: r.score,
      reason: r.reason,
      status: r.status,
      modelId: r.modelId,
      createdAt: r.createdAt,
    }));
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

  /**
   * Approves or rejects pending suggestions and writes one audit row per change, in one transaction. Suggestions
   * that are unknown or no longer pending (another moderator was faster) are reported in `skipped`.
   */
  async decide(input: DecideInput): Promise<DecideResult> {
    const ids = [...new Set(input.ids)];
    if (ids.length === 0) return { changed: [], skipped: [] };
    const status = input.verdict === 'approve' ? 'approved' : 'rejected';
    return this.prisma.$transaction(async (tx) => {
      // The status guard makes the update the arbiter: of two concurrent deciders, exactly one changes the row.
      const changedRows = await tx.suggestion.updateManyAndReturn({
        where: { id: { in: ids }, status: 'pending' },
        data: { status, isOpen: null, decidedById: input.user.id, decidedAt: new Date() },
        select: { id: true, postId: true },
      });
      const changed = new Set(changedRows.map((r) => r.id));
      const rest = ids.filter((id) => !changed.has(id));
      const others = rest.length
        ? await tx.suggestion.findMany({ where: { id: { in: rest } }, select: { id: true, status: true } })
        : [];
      const statusOf = new Map(others.map((o) => [o.id, o.status]));
      const skipped = rest.map((id) => {
        const current = statusOf.get(id);
        return { id, why: current === undefined ? 'not found' : `not pending (${current})` };
      });
      if (changedRows.length > 0) {
        await tx.decision.createMany({
          data: changedRows.map((r) => ({
            userId: input.user.id,
            actor: input.user.name,
            action: input.verdict,
            suggestionId: r.id,
            postId: r.postId,
            origin: input.origin,
            detail: { from: 'pending', to: status },
          })),
        });
      }
      return { changed: [...changed].sort((a, b) => a - b), skipped };
    });
  }

  /**
   * Takes decisions back: approved or rejected suggestions return to pending, with one `undo` audit row each, in one
   * transaction. Possible only until the suggestion is applied (the status guard: once the apply job has moved it
   * on, it stays), and only while no newer pending suggestion holds the same (post, tag, action).
   */
  async undo(input: Omit<DecideInput, 'verdict'>): Promise<DecideResult> {
    const ids = [...new Set(input.ids)];
    if (ids.length === 0) return { changed: [], skipped: [] };
    return this.prisma.$transaction(async (tx) => {
      const changedRows = await tx.$queryRaw<{ id: number; post_id: number; from: string }[]>`
        UPDATE suggestions s SET status = 'pending', is_open = true, decided_by_id = NULL, decided_at = NULL,
          updated_at = now()
        FROM (SELECT id, status::text AS from_status FROM suggestions WHERE id = ANY(${ids}::int[]) FOR UPDATE) old
        WHERE s.id = old.id AND s.status IN ('approved', 'rejected')
          AND NOT EXISTS (SELECT 1 FROM suggestions o WHERE o.post_id = s.post_id AND o.tag = s.tag
                          AND o.action = s.action AND o.is_open AND o.id <> s.id)
        RETURNING s.id, s.post_id, old.from_status AS "from"`;
      const changed = new Set(changedRows.map((r) => r.id));
      const rest = ids.filter((id) => !changed.has(id));
      const others = rest.length
        ? await tx.suggestion.findMany({ where: { id: { in: rest } }, select: { id: true, status: true } })
        : [];
      const statusOf = new Map(others.map((o) => [o.id, o.status]));
      const skipped = rest.map((id) => {
        const current = statusOf.get(id);
        if (current === undefined) return { id, why: 'not found' };
        if (current === 'approved' || current === 'rejected') return { id, why: 'a newer suggestion is pending' };
        return { id, why: `cannot be undone (${current})` };
      });
      if (changedRows.length > 0) {
        await tx.decision.createMany({
          data: changedRows.map((r) => ({
            userId: input.user.id,
            actor: input.user.name,
            action: 'undo',
            suggestionId: r.id,
            postId: r.post_id,
            origin: input.origin,
            detail: { from: r.from, to: 'pending' },
          })),
        });
      }
      return { changed: [...changed].sort((a, b) => a - b), skipped };
    });
  }

  /** {@link decide} for every pending suggestion (of one booru when given). */
  async decideAll(input: Omit<DecideInput, 'ids'> & { booruId?: number }): Promise<DecideResult> {
    const rows = await this.prisma.suggestion.findMany({
      where: { status: 'pending', ...(input.booruId !== undefined ? { post: { booruId: input.booruId } } : {}) },
      select: { id: true },
    });
    return this.decide({ ...input, ids: rows.map((r) => r.id) });
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

  /**
   * Records one write-back in one transaction: a TagEdit row, each approved suggestion's outcome, and one `apply`
   * audit row per suggestion changed.
   */
  async recordApplyOutcomes(input: RecordApplyInput): Promise<RecordApplyResult> {
    const actor = input.actor ?? { id: null, name: 'apply' };
    return this.prisma.$transaction(async (tx) => {
      const edit = await tx.tagEdit.create({
        data: {
          postId: input.postId,
          suggestionIds: input.outcomes.map((o) => o.suggestionId),
          oldTagString: input.edit.oldTagString,
          newTagString: input.edit.newTagString,
          resultTags: input.edit.resultTags,
          outcome: input.edit.outcome,
          error: input.edit.error ?? null,
        },
        select: { id: true },
      });
      const now = new Date();
      const updated: number[] = [];
      const skipped: number[] = [];
      for (const o of input.outcomes) {
        const { count } = await tx.suggestion.updateMany({
          where: { id: o.suggestionId, postId: input.postId, status: 'approved' },
          data: {
            status: o.status,
            applyOutcome: o.outcome,
            applyError: o.error ?? null,
            appliedAt: o.status === 'failed' ? null : now,
          },
        });
        (count === 1 ? updated : skipped).push(o.suggestionId);
      }
      const outcomeOf = new Map(input.outcomes.map((o) => [o.suggestionId, o]));
      if (updated.length > 0) {
        await tx.decision.createMany({
          data: updated.map((id) => {
            const o = outcomeOf.get(id)!;
            return {
              userId: actor.id,
              actor: actor.name,
              action: 'apply',
              suggestionId: id,
              postId: input.postId,
              origin: input.origin ?? null,
              detail: { tagEditId: edit.id, status: o.status, outcome: o.outcome, error: o.error ?? null },
            };
          }),
        });
      }
      return { tagEditId: edit.id, updated, skipped };
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

  /**
   * Closes open suggestions that a change on the booru settled: `already_applied` (a human made the change) or
   * `superseded` (the post changed so that it no longer applies), with one audit row each under `actor`. Only rows
   * still pending or approved are touched (a concurrent decision or apply wins).
   * @returns The ids changed.
   */
  async closeOpen(
    rows: readonly { id: number; status: 'already_applied' | 'superseded'; reason: string }[],
    actor = 'rescan',
  ): Promise<number[]> {
    if (rows.length === 0) return [];
    return this.prisma.$transaction(async (tx) => {
      const changed: number[] = [];
      for (const row of rows) {
        const updated = await tx.suggestion.updateManyAndReturn({
          where: { id: row.id, status: { in: ['pending', 'approved'] } },
          data: {
            status: row.status,
            isOpen: null,
            applyOutcome: row.status,
            applyError: row.status === 'superseded' ? row.reason : null,
          },
          select: { id: true, postId: true },
        });
        const hit = updated[0];
        if (!hit) continue;
        changed.push(hit.id);
        await tx.decision.create({
          data: {
            userId: null,
            actor,
            action: row.status === 'already_applied' ? 'close' : 'supersede',
            suggestionId: hit.id,
            postId: hit.postId,
            origin: null,
            detail: { to: row.status, reason: row.reason },
          },
        });
      }
      return changed;
    });
  }
}
