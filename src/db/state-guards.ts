/**
 * The status guards of the SQL, as data: each move a repository makes names the states it starts from and the states
 * it ends in. The SQL is written from these lists (`inList`), and test/unit/states.test.ts checks each against the
 * transition tables of src/core/states.ts.
 */
import type { PostState, SuggestionStatus } from '../core/states.js';
import { Prisma } from './generated/client.js';

export interface Move<S extends string> {
  from: readonly S[];
  to: readonly S[];
}

/** The suggestion moves of the repositories (decisions, write-back, re-scan, a new diff). */
export const SUGGESTION_MOVES = {
  decide: { from: ['pending'], to: ['approved', 'rejected'] },
  undo: { from: ['approved', 'rejected'], to: ['pending'] },
  apply: { from: ['approved'], to: ['applied', 'failed', 'already_applied'] },
  close: { from: ['pending', 'approved'], to: ['already_applied', 'superseded'] },
  supersede: { from: ['pending'], to: ['superseded'] },
} as const satisfies Record<string, Move<SuggestionStatus>>;

/** The post moves of the repositories (crawl, claim, lease, tagging, failure, re-score). */
export const POST_MOVES = {
  claim: { from: ['new', 'queued'], to: ['queued'] },
  expireLease: { from: ['queued'], to: ['failed'] },
  release: { from: ['queued'], to: ['new'] },
  tag: { from: ['queued'], to: ['tagged'] },
  skipOwned: { from: ['queued'], to: ['skipped'] },
  failOwned: { from: ['queued'], to: ['new', 'failed'] },
  rescore: { from: ['tagged'], to: ['new'] },
  mediaChanged: { from: ['tagged', 'failed', 'queued'], to: ['new'] },
  reopenSkipped: { from: ['skipped'], to: ['new'] },
  crawlSkip: { from: ['new'], to: ['skipped'] },
} as const satisfies Record<string, Move<PostState>>;

/** A guard's states as an SQL list of literals (`'a', 'b'`), for `state IN (…)`: the lists are constants above. */
export function inList(states: readonly string[]): Prisma.Sql {
  return Prisma.raw(states.map((s) => `'${s}'`).join(', '));
}
