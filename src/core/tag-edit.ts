/**
 * Pure rules for writing a tag change back to a booru that merges edits the way Danbooru does (BOORU-API §1.5), and
 * for judging afterwards what became of each requested tag. No I/O here: the booru client sends and re-reads.
 */
import { AUTOMATIC_TAGS } from './tag-diff.js';
import { ImplicationGraph } from './implications.js';
import type { ApplyOutcome, Rating, SuggestionAction, TagChange } from './types.js';

/** The two strings of a Danbooru "snapshot form" edit: `post[old_tag_string]` and `post[tag_string]`. */
export interface SnapshotEdit {
  oldTagString: string;
  newTagString: string;
}

/** What became of one requested tag after an edit. */
export interface TagEditOutcome {
  tag: string;
  /** For a rating change, `tag` is `rating:<x>`. */
  action: 'add' | 'remove' | 'rating';
  outcome: ApplyOutcome;
  /** Human-readable, for the audit log and the dashboard. */
  reason: string;
  /** For `refused`: why, when it can be told (see {@link explainRefusals}). */
  refusal?: RefusalKind;
}

/**
 * Why the booru did not keep a requested change (BOORU-API §1.5): the name was rewritten by an alias, the tag is
 * deprecated, another tag on the post implies it (removals), the booru computes it itself, or nothing was saved at
 * all (the per-minute tag limit or another validation error answered with HTTP 200). `unknown` otherwise.
 */
type RefusalKind = 'alias' | 'deprecated' | 'implied' | 'automatic' | 'limit' | 'unknown';

/** The booru's tag facts the refusal explanation uses; every part is optional (unknown ⇒ not used). */
export interface RefusalFacts {
  aliases?: ReadonlyMap<string, string>;
  deprecated?: ReadonlySet<string>;
  /** Active implications [antecedent, consequent]. */
  implications?: Iterable<readonly [string, string]>;
}

/** Facts besides the final tags that sharpen the classification. */
export interface ClassifyEditContext {
  /** The post's tags just before our edit (a fresh read), to tell `already_applied` from `applied`. */
  before?: readonly string[] | null;
  /**
   * Whether the booru saved anything (its `updated_at` advanced or its tags changed). Danbooru answers HTTP 200 with
   * the unsaved post when validation fails, so `false` here explains refusals. Unknown ⇒ leave undefined.
   */
  saved?: boolean;
}

function normalizeTags(tags: Iterable<string>): string[] {
  const set = new Set<string>();
  for (const tag of tags) {
    const name = tag.trim();
    if (name !== '') set.add(name);
  }
  return [...set].sort();
}

/**
 * Builds the snapshot-form strings for a change, never a bare `tag_string` (which would wipe every tag added since the
 * snapshot). `old = (snapshot − add) ∪ remove` and `new = (snapshot ∪ add) − remove`, so that on Danbooru
 * `old − new = remove` and `new − old = add` exactly: the edit carries our delta and nothing else, whatever humans
 * changed on the post meanwhile, and re-sending it is idempotent. (Writing `old` as the plain snapshot would silently
 * drop a removal of a tag that was not in the snapshot and an addition of a tag that was.)
 *
 * @throws Error when a tag is both added and removed: the caller's change is contradictory.
 */
export function buildSnapshotEdit(change: TagChange): SnapshotEdit {
  const add = normalizeTags(change.add);
  const remove = normalizeTags(change.remove);
  const removeSet = new Set(remove);
  const both = add.filter((tag) => removeSet.has(tag));
  if (both.length > 0) {
    throw new Error(`tag change both adds and removes: ${both.join(', ')}`);
  }
  const addSet = new Set(add);
  const snapshot = normalizeTags(change.snapshot);
  const oldTags = normalizeTags([...snapshot.filter((tag) => !addSet.has(tag)), ...remove]);
  const newTags = normalizeTags([...snapshot, ...add].filter((tag) => !removeSet.has(tag)));
  return { oldTagString: oldTags.join(' '), newTagString: newTags.join(' ') };
}

/**
 * Classifies each requested tag against the post's tags after the edit (re-read from the booru, never the PUT reply).
 * - add: present afterwards ⇒ `applied` (`already_applied` when it was already there before our edit); absent ⇒
 *   `refused` with a guess (nothing saved, or alias / deprecated / invalid name).
 * - remove: absent afterwards ⇒ `applied` (`already_applied` when it was already gone); still present ⇒ `refused`
 *   (implied by another tag, an automatic tag, or the booru saved nothing).
 * `conflicted` is never produced here: the snapshot merge cannot lose to a concurrent edit; callers that detect a
 * conflict otherwise (the post changed under a stale suggestion) decide that themselves.
 */
export function classifyEditOutcome(
  change: TagChange,
  after: readonly string[],
  context: ClassifyEditContext = {},
): TagEditOutcome[] {
  const afterSet = new Set(after);
  const beforeSet = context.before ? new Set(context.before) : null;
  const notSaved = context.saved === false;
  const outcomes: TagEditOutcome[] = [];

  for (const tag of normalizeTags(change.add)) {
    if (beforeSet?.has(tag) && afterSet.has(tag)) {
      outcomes.push({ tag, action: 'add', outcome: 'already_applied', reason: 'already on the post before the edit' });
    } else if (afterSet.has(tag)) {
      outcomes.push({ tag, action: 'add', outcome: 'applied', reason: 'on the post after the edit' });
    } else {
      const guess = 'aliased to another name, deprecated, or an invalid name';
      const reason = notSaved
        ? `not on the post and nothing was saved: ${guess}, or the edit failed validation (edit limit, permissions)`
        : `not on the post after the edit: ${guess}`;
      outcomes.push({ tag, action: 'add', outcome: 'refused', reason });
    }
  }

  for (const tag of normalizeTags(change.remove)) {
    if (beforeSet && !beforeSet.has(tag) && !afterSet.has(tag)) {
      outcomes.push({ tag, action: 'remove', outcome: 'already_applied', reason: 'already gone before the edit' });
    } else if (!afterSet.has(tag)) {
      outcomes.push({ tag, action: 'remove', outcome: 'applied', reason: 'gone from the post after the edit' });
    } else {
      const guess = 'implied by another tag, an automatic tag, or refused by the booru';
      const reason = notSaved
        ? `still on the post and nothing was saved: ${guess}, or the edit failed validation (edit limit, permissions)`
        : `still on the post: ${guess}`;
      outcomes.push({ tag, action: 'remove', outcome: 'refused', reason });
    }
  }
  return outcomes;
}

/**
 * Whether a rating change should be sent, given the post's rating just before the edit: not when it is already the
 * target, and not when someone changed it since the diff (their verdict wins; the suggestion is `conflicted`).
 */
export function ratingToSend(change: TagChange, before: Rating | null): Rating | null {
  if (!change.rating || before === change.rating.to || before !== change.rating.from) return null;
  return change.rating.to;
}

/** What became of a rating change, from the ratings read before and after the edit. */
export function classifyRatingOutcome(
  change: TagChange,
  before: Rating | null,
  after: Rating | null,
): TagEditOutcome | null {
  const wanted = change.rating;
  if (!wanted) return null;
  const tag = `rating:${wanted.to}`;
  if (before === wanted.to) return { tag, action: 'rating', outcome: 'already_applied', reason: 'already rated so' };
  if (before !== wanted.from) {
    return {
      tag,
      action: 'rating',
      outcome: 'conflicted',
      reason: `rating changed from ${wanted.from ?? 'none'} to ${before ?? 'none'} since the suggestion; left alone`,
    };
  }
  if (after === wanted.to) return { tag, action: 'rating', outcome: 'applied', reason: 'rating set' };
  return { tag, action: 'rating', outcome: 'refused', reason: `rating still ${after ?? 'none'} after the edit` };
}

/**
 * Sharpens each `refused` outcome into a {@link RefusalKind} with a precise reason, from the post's tags after the
 * edit, whether anything was saved, and the booru's tag facts. Other outcomes pass through unchanged.
 */
export function explainRefusals(
  outcomes: readonly TagEditOutcome[],
  after: readonly string[],
  saved: boolean,
  facts: RefusalFacts = {},
): TagEditOutcome[] {
  const afterSet = new Set(after);
  const graph = new ImplicationGraph(facts.implications ?? []);
  return outcomes.map((o) => {
    if (o.outcome !== 'refused') return o;
    if (o.action === 'add') {
      const consequent = facts.aliases?.get(o.tag);
      if (consequent && afterSet.has(consequent)) {
        return {
          ...o,
          refusal: 'alias',
          reason: `the booru aliases ${o.tag} to ${consequent}, which is on the post: close as done under the new name`,
        };
      }
      if (facts.deprecated?.has(o.tag)) {
        return { ...o, refusal: 'deprecated', reason: `${o.tag} is deprecated on the booru and cannot be added` };
      }
    } else if (o.action === 'remove') {
      const impliers = graph.impliersOf(o.tag, after);
      if (impliers.length > 0) {
        return {
          ...o,
          refusal: 'implied',
          reason: `${o.tag} is implied by ${impliers.sort().join(', ')} on the post; remove the implying tag too`,
        };
      }
      if (AUTOMATIC_TAGS.has(o.tag)) {
        return { ...o, refusal: 'automatic', reason: `${o.tag} is an automatic tag the booru recomputes itself` };
      }
    }
    if (!saved) {
      return {
        ...o,
        refusal: 'limit',
        reason: `nothing was saved (HTTP 200 without a change): the per-minute tag limit or another validation error`,
      };
    }
    return { ...o, refusal: 'unknown' };
  });
}

/** An open (pending or approved) suggestion, as re-checked against a post a human changed. */
export interface OpenSuggestion {
  tag: string;
  action: SuggestionAction;
}

/** What to do with an open suggestion after the post changed on the booru. */
export type Reconciliation = { verdict: 'keep' } | { verdict: 'already_applied' | 'superseded'; reason: string };

/**
 * Re-checks an open suggestion against the post as the booru has it now (after a human edit), without scores:
 * - the change is already made (added tag present, removed tag gone, rating set) ⇒ `already_applied`;
 * - the post was deleted or banned ⇒ `superseded`;
 * - an added tag is now implied by another tag on the post, or a removal now conflicts with an implying tag ⇒
 *   `superseded` (the diff would no longer propose it);
 * - otherwise ⇒ `keep`.
 */
export function reconcileSuggestion(
  suggestion: OpenSuggestion,
  post: { tags: readonly string[]; rating: Rating | null; isDeleted: boolean; isBanned: boolean },
  implications: Iterable<readonly [string, string]> = [],
): Reconciliation {
  const tags = new Set(post.tags);
  if (suggestion.action === 'add' && tags.has(suggestion.tag)) {
    return { verdict: 'already_applied', reason: `${suggestion.tag} is on the post now (added on the booru)` };
  }
  if (suggestion.action === 'remove' && !tags.has(suggestion.tag)) {
    return { verdict: 'already_applied', reason: `${suggestion.tag} is gone from the post now (removed on the booru)` };
  }
  if (suggestion.action === 'rating' && post.rating !== null && `rating:${post.rating}` === suggestion.tag) {
    return { verdict: 'already_applied', reason: `the post is rated ${post.rating} now (changed on the booru)` };
  }
  if (post.isDeleted || post.isBanned) {
    return { verdict: 'superseded', reason: `the post was ${post.isDeleted ? 'deleted' : 'banned'} on the booru` };
  }
  const graph = new ImplicationGraph(implications);
  const impliers = graph.impliersOf(suggestion.tag, tags);
  if (impliers.length > 0 && suggestion.action === 'add') {
    return { verdict: 'superseded', reason: `${suggestion.tag} is now implied by ${impliers.sort().join(', ')}` };
  }
  if (impliers.length > 0 && suggestion.action === 'remove') {
    return {
      verdict: 'superseded',
      reason: `${suggestion.tag} is now implied by ${impliers.sort().join(', ')}; removing it alone would be refused`,
    };
  }
  return { verdict: 'keep' };
}
