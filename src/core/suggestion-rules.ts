/**
 * The review rules a new diff follows, pure: what replacing one post's pending suggestions with a new diff means
 * (which pending rows are kept and refreshed, which are superseded, which drafts are created, which are suppressed
 * because a moderator already decided them), and when a rejected suggestion may be raised again (only when clearly
 * stronger). src/db/tagging.repository.ts carries the plan out in SQL.
 */
import type { SuggestionStatus } from './states.js';
import type { PlannedSuggestion, SuggestionDraft } from './types.js';

/** The statuses a new diff reads: pending ones it replaces, decided ones it must not raise again. */
export const PLANNED_STATUSES: readonly SuggestionStatus[] = [
  'pending',
  'rejected',
  'approved',
  'applied',
  'already_applied',
];

export interface ReplacementPlan {
  keep: { id: number; draft: SuggestionDraft }[];
  supersede: number[];
  create: SuggestionDraft[];
  suppressed: number;
}

const keyOf = (tag: string, action: string) => `${action}\u0000${tag}`;

/** A rejected suggestion comes back only when the new score is clearly stronger (lower, for a removal). */
export function isClearlyStronger(draft: SuggestionDraft, rejectedScore: number, margin: number): boolean {
  return draft.action === 'remove' ? draft.score <= rejectedScore - margin : draft.score >= rejectedScore + margin;
}

export function planReplacement(
  existing: readonly PlannedSuggestion[],
  drafts: readonly SuggestionDraft[],
  rejectMargin: number,
): ReplacementPlan {
  const pending = new Map<string, number>();
  const decided = new Set<string>();
  const rejected = new Map<string, number[]>();
  for (const s of existing) {
    const k = keyOf(s.tag, s.action);
    if (s.status === 'pending') pending.set(k, s.id);
    else if (s.status === 'rejected') rejected.set(k, [...(rejected.get(k) ?? []), s.score]);
    else if (s.status === 'approved' || s.status === 'applied' || s.status === 'already_applied') decided.add(k);
  }
  const plan: ReplacementPlan = { keep: [], supersede: [], create: [], suppressed: 0 };
  const seen = new Set<string>();
  for (const draft of drafts) {
    const k = keyOf(draft.tag, draft.action);
    if (seen.has(k)) continue;
    seen.add(k);
    const pendingId = pending.get(k);
    if (pendingId !== undefined) {
      plan.keep.push({ id: pendingId, draft });
      pending.delete(k);
    } else if (decided.has(k) || rejected.get(k)?.some((score) => !isClearlyStronger(draft, score, rejectMargin))) {
      plan.suppressed++;
    } else {
      plan.create.push(draft);
    }
  }
  plan.supersede = [...pending.values()];
  return plan;
}
