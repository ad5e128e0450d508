/**
 * The one mapping of a suggestions row onto the domain's {@link Suggestion}: the columns every raw read selects
 * (`SUGGESTION_COLUMNS`, with `s` the suggestions table and `u` the deciding user) and the row → view mapper.
 */
import type { EnsembleVote, ReviewSuggestion, SuggestionAction } from '../core/types.js';
import type { SuggestionStatus } from '../core/states.js';
import { Prisma } from './generated/client.js';

/** A suggestions row as {@link SUGGESTION_COLUMNS} selects it. */
export interface SuggestionSqlRow {
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

export const SUGGESTION_COLUMNS = Prisma.sql`s.id, s.post_id, s.tag, s.action::text AS action, s.category, s.score,
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

export function toSuggestion(r: SuggestionSqlRow): ReviewSuggestion {
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
