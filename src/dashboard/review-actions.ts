/** Deciding and undoing, shared by the form routes and the JSON API. */
import { REPORT_ONLY_KINDS } from '../core/dialects.js';
import type { DecideResult } from '../db/suggestion.types.js';
import type { SessionUser } from './access.js';
import type { RouteContext } from './route-context.js';
import { can } from './policies.js';

export type Verdict = 'approve' | 'reject' | 'undo';

/**
 * Approves, rejects or undoes suggestions as `user`. Approvals of suggestions on a report-only booru (no tag-edit
 * API) are refused per suggestion and reported in `skipped`.
 */
export async function decideAs(
  context: RouteContext,
  user: SessionUser,
  ids: number[],
  verdict: Verdict,
  origin: string,
): Promise<DecideResult> {
  const { suggestions } = context.deps;
  const decider = { id: user.id, name: user.name };
  if (verdict === 'undo') return suggestions.undo({ ids, user: decider, origin });
  const reportOnly =
    verdict === 'approve' ? new Set(await suggestions.listReportOnly(ids, REPORT_ONLY_KINDS)) : new Set<number>();
  const result = await suggestions.decide({
    ids: ids.filter((id) => !reportOnly.has(id)),
    verdict,
    user: decider,
    origin,
  });
  return {
    changed: result.changed,
    skipped: [...result.skipped, ...[...reportOnly].map((id) => ({ id, why: 'report-only booru: no tag-edit API' }))],
  };
}

export function originOf(user: SessionUser, ip: string): string {
  return user.via === 'token' ? `api ${ip}` : `web ${ip}`;
}

/**
 * An audit row's origin as `role` may see it: admins see the client address, everyone else only how the action came
 * in (`web`, `api`, `cli`): who signed in from where is not for every viewer to read.
 */
export function originFor(role: SessionUser['role'], origin: string | null): string | null {
  if (origin === null || can(role, 'administer')) return origin;
  return origin.split(' ')[0] ?? null;
}
