/**
 * The two state machines of the pipeline, written down once: where a post is in the pipeline (`PostState`) and where
 * a suggestion is in review (`SuggestionStatus`), each with the table of the moves allowed (from → to). The
 * repositories settle each move in SQL with a status guard; the guards' "from" lists are exported beside the SQL and
 * test/unit/states.test.ts checks every one of them against these tables.
 */

/** Where a post is in the pipeline. */
export type PostState = 'new' | 'queued' | 'tagged' | 'skipped' | 'failed';
export const POST_STATES: readonly PostState[] = ['new', 'queued', 'tagged', 'skipped', 'failed'];

/** Where a suggestion is in review: `pending → approved | rejected`, then an approved one `→ applied | failed`. */
export type SuggestionStatus =
  | 'pending'
  | 'approved'
  | 'rejected'
  | 'applied'
  | 'failed'
  | 'superseded'
  | 'already_applied';
export const SUGGESTION_STATUSES: readonly SuggestionStatus[] = [
  'pending',
  'approved',
  'rejected',
  'applied',
  'failed',
  'superseded',
  'already_applied',
];

/**
 * The moves a post may make:
 * - `new → queued`: a worker claims it; `new → skipped`: the crawler finds no taggable image.
 * - `queued → queued`: another worker takes over an expired lease; `→ tagged`: its scores are stored; `→ new`: released
 *   on shutdown, a retryable failure, or its image changed; `→ failed`: a final failure or too many expired leases;
 *   `→ skipped`: the worker cannot read the image.
 * - `tagged → new`: a newer model re-scores it, or its image changed; `tagged → skipped`: marked by hand.
 * - `failed → new`: its image changed; `skipped → new`: its media or flags changed.
 */
export const POST_TRANSITIONS: Readonly<Record<PostState, readonly PostState[]>> = {
  new: ['queued', 'skipped', 'failed'],
  queued: ['queued', 'tagged', 'new', 'failed', 'skipped'],
  tagged: ['new', 'skipped', 'failed'],
  skipped: ['new', 'skipped', 'failed'],
  failed: ['new', 'skipped', 'failed'],
};

/**
 * The moves a suggestion may make:
 * - `pending → approved | rejected`: a moderator decides; `→ superseded`: a newer diff no longer proposes it, or the
 *   post changed; `→ already_applied`: a human made the change on the booru.
 * - `approved → applied | failed | already_applied`: the write-back's outcome; `→ superseded`: the post changed before
 *   the write-back; `approved | rejected → pending`: the decision is undone.
 * - `applied`, `failed`, `superseded` and `already_applied` are final.
 */
export const SUGGESTION_TRANSITIONS: Readonly<Record<SuggestionStatus, readonly SuggestionStatus[]>> = {
  pending: ['approved', 'rejected', 'superseded', 'already_applied'],
  approved: ['applied', 'failed', 'already_applied', 'superseded', 'pending'],
  rejected: ['pending'],
  applied: [],
  failed: [],
  superseded: [],
  already_applied: [],
};

/** Whether a post may move from `from` to `to`. */
export function canPostMove(from: PostState, to: PostState): boolean {
  return POST_TRANSITIONS[from].includes(to);
}

/** Whether a suggestion may move from `from` to `to`. */
export function canTransition(from: SuggestionStatus, to: SuggestionStatus): boolean {
  return SUGGESTION_TRANSITIONS[from].includes(to);
}

/** Throws a RangeError naming the move when a suggestion may not move from `from` to `to`. */
export function assertTransition(from: SuggestionStatus, to: SuggestionStatus): void {
  if (!canTransition(from, to)) throw new RangeError(`a suggestion cannot move from ${from} to ${to}`);
}

/** Throws a RangeError naming the move when a post may not move from `from` to `to`. */
export function assertPostMove(from: PostState, to: PostState): void {
  if (!canPostMove(from, to)) throw new RangeError(`a post cannot move from ${from} to ${to}`);
}

/** The states a move to `to` may start from, by the table: what a status guard in SQL must allow at most. */
export function statesLeadingTo<S extends string>(table: Readonly<Record<S, readonly S[]>>, to: S): S[] {
  return (Object.keys(table) as S[]).filter((from) => table[from].includes(to));
}
