/**
 * The suggestion moves and their audit rows, each in one transaction: a moderator's decision (approve, reject) and its
 * undo, the write-back's outcome, and the re-scan's closing of what the booru settled. The status guard of each
 * UPDATE is the arbiter between concurrent writers; the guards are `SUGGESTION_MOVES` (src/db/state-guards.ts),
 * checked against src/core/states.ts. Part of the suggestions aggregate: `SuggestionRepository` exposes each.
 */
import type { PrismaClient } from './generated/client.js';
import { inList, SUGGESTION_MOVES } from './state-guards.js';
import type { DecideInput, DecideResult, RecordApplyInput, RecordApplyResult } from './suggestion.types.js';

/**
 * Approves or rejects pending suggestions and writes one audit row per change, in one transaction. Suggestions
 * that are unknown or no longer pending (another moderator was faster) are reported in `skipped`.
 */
export async function decide(prisma: PrismaClient, input: DecideInput): Promise<DecideResult> {
  const ids = [...new Set(input.ids)];
  if (ids.length === 0) return { changed: [], skipped: [] };
  const status = input.verdict === 'approve' ? 'approved' : 'rejected';
  return prisma.$transaction(async (tx) => {
    // The status guard makes the update the arbiter: of two concurrent deciders, exactly one changes the row.
    const changedRows = await tx.suggestion.updateManyAndReturn({
      where: { id: { in: ids }, status: { in: [...SUGGESTION_MOVES.decide.from] } },
      data: { status, isOpen: null, decidedById: input.user.id, decidedAt: new Date() },
      select: { id: true, postId: true },
    });
    const changed = new Set(changedRows.map((r) => r.id));
    const rest = ids.filter((id) => !changed.has(id));
    const statusOf = await statusesOf(tx, rest);
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
export async function undo(prisma: PrismaClient, input: Omit<DecideInput, 'verdict'>): Promise<DecideResult> {
  const ids = [...new Set(input.ids)];
  if (ids.length === 0) return { changed: [], skipped: [] };
  return prisma.$transaction(async (tx) => {
    const changedRows = await tx.$queryRaw<{ id: number; post_id: number; from: string }[]>`
      UPDATE suggestions s SET status = 'pending', is_open = true, decided_by_id = NULL, decided_at = NULL,
        updated_at = now()
      FROM (SELECT id, status::text AS from_status FROM suggestions WHERE id = ANY(${ids}::int[]) FOR UPDATE) old
      WHERE s.id = old.id AND s.status IN (${inList(SUGGESTION_MOVES.undo.from)})
        AND NOT EXISTS (SELECT 1 FROM suggestions o WHERE o.post_id = s.post_id AND o.tag = s.tag
                        AND o.action = s.action AND o.is_open AND o.id <> s.id)
      RETURNING s.id, s.post_id, old.from_status AS "from"`;
    const changed = new Set(changedRows.map((r) => r.id));
    const rest = ids.filter((id) => !changed.has(id));
    const statusOf = await statusesOf(tx, rest);
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
export async function decideAll(
  prisma: PrismaClient,
  input: Omit<DecideInput, 'ids'> & { booruId?: number },
): Promise<DecideResult> {
  const rows = await prisma.suggestion.findMany({
    where: {
      status: { in: [...SUGGESTION_MOVES.decide.from] },
      ...(input.booruId !== undefined ? { post: { booruId: input.booruId } } : {}),
    },
    select: { id: true },
  });
  return decide(prisma, { ...input, ids: rows.map((r) => r.id) });
}

/**
 * Records one write-back in one transaction: a TagEdit row, each approved suggestion's outcome, and one `apply`
 * audit row per suggestion changed.
 */
export async function recordApplyOutcomes(prisma: PrismaClient, input: RecordApplyInput): Promise<RecordApplyResult> {
  const actor = input.actor ?? { id: null, name: 'apply' };
  return prisma.$transaction(async (tx) => {
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
        where: { id: o.suggestionId, postId: input.postId, status: { in: [...SUGGESTION_MOVES.apply.from] } },
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

/**
 * Closes open suggestions that a change on the booru settled: `already_applied` (a human made the change) or
 * `superseded` (the post changed so that it no longer applies), with one audit row each under `actor`. Only rows
 * still pending or approved are touched (a concurrent decision or apply wins).
 * @returns The ids changed.
 */
export async function closeOpen(
  prisma: PrismaClient,
  rows: readonly { id: number; status: 'already_applied' | 'superseded'; reason: string }[],
  actor = 'rescan',
): Promise<number[]> {
  if (rows.length === 0) return [];
  return prisma.$transaction(async (tx) => {
    const changed: number[] = [];
    for (const row of rows) {
      const updated = await tx.suggestion.updateManyAndReturn({
        where: { id: row.id, status: { in: [...SUGGESTION_MOVES.close.from] } },
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

/** The current status of each suggestion a guarded move left alone (absent: no such suggestion), to say why. */
async function statusesOf(tx: Pick<PrismaClient, 'suggestion'>, ids: readonly number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.suggestion.findMany({ where: { id: { in: [...ids] } }, select: { id: true, status: true } });
  return new Map(rows.map((r) => [r.id, r.status]));
}
