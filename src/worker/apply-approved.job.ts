/**
 * Apply: write approved suggestions back to the booru, one post at a time, in the snapshot form that merges with
 * concurrent human edits (BOORU-API §1.5), then record what the booru really kept. A change a human already made is
 * closed as `already_applied`; a transient failure leaves the suggestions approved for the next run.
 */
import type { BooruClient } from '../booru/booru-client.js';
import type { ApplyOutcome } from '../core/types.js';
import type { PostRepository } from '../db/post.repository.js';
import type { SuggestionRepository } from '../db/suggestion.repository.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

export interface ApplyDeps {
  booru: BooruClient;
  posts: PostRepository;
  suggestions: SuggestionRepository;
  logger: Logger;
}

export interface ApplySummary {
  posts: number;
  applied: number;
  alreadyApplied: number;
  refused: number;
  failed: number;
  deferred: number;
}

type Group = Awaited<ReturnType<SuggestionRepository['listApprovedGrouped']>>[number];
type OutcomeRow = Parameters<SuggestionRepository['recordApplyOutcomes']>[0]['outcomes'][number];

export async function applyApproved(deps: ApplyDeps, options: { booruId: number }): Promise<ApplySummary> {
  const logger = deps.logger.child({ stage: 'apply', booruId: options.booruId });
  const summary: ApplySummary = { posts: 0, applied: 0, alreadyApplied: 0, refused: 0, failed: 0, deferred: 0 };
  for (const group of await deps.suggestions.listApprovedGrouped(options.booruId)) {
    summary.posts++;
    try {
      await applyToPost(deps, group, summary);
    } catch (thrown) {
      const error = coerceError(thrown);
      const ids = group.suggestions.map((s) => s.id);
      if (error instanceof AppError && error.retryable) {
        summary.deferred += ids.length;
        logger.warn({ postId: group.post.remoteId, err: error.message }, 'apply deferred; will retry');
        continue;
      }
      summary.failed += ids.length;
      logger.error({ postId: group.post.remoteId, err: error.message }, 'apply failed');
      await deps.suggestions.recordApplyOutcomes({
        postId: group.post.id,
        edit: { oldTagString: '', newTagString: '', resultTags: [], outcome: 'failed', error: error.message },
        outcomes: ids.map((suggestionId) => ({
          suggestionId,
          status: 'failed',
          outcome: 'failed',
          error: error.message,
        })),
      });
    }
  }
  logger.info(summary, 'apply finished');
  return summary;
}

async function applyToPost(deps: ApplyDeps, group: Group, summary: ApplySummary): Promise<void> {
  const { post } = group;
  const current = await deps.booru.getPost(post.remoteId);
  if (current === null) throw new AppError('BOORU_NOT_FOUND', `post ${post.remoteId} no longer exists`);
  const now = new Set(current.tags);
  const outcomes: OutcomeRow[] = [];
  const add: string[] = [];
  const remove: string[] = [];
  const pending = new Map<string, number>();
  for (const suggestion of group.suggestions) {
    if (suggestion.action === 'rating') {
      // Rating write-back is not part of the tag edit yet: leave the suggestion approved, untouched.
      summary.deferred++;
      continue;
    }
    const done = suggestion.action === 'add' ? now.has(suggestion.tag) : !now.has(suggestion.tag);
    if (done) {
      outcomes.push({ suggestionId: suggestion.id, status: 'already_applied', outcome: 'already_applied' });
      summary.alreadyApplied++;
      continue;
    }
    (suggestion.action === 'add' ? add : remove).push(suggestion.tag);
    pending.set(`${suggestion.action} ${suggestion.tag}`, suggestion.id);
  }
  if (add.length === 0 && remove.length === 0) {
    if (outcomes.length > 0) {
      await deps.suggestions.recordApplyOutcomes({
        postId: post.id,
        edit: {
          oldTagString: current.tags.join(' '),
          newTagString: current.tags.join(' '),
          resultTags: current.tags,
          outcome: 'already_applied',
        },
        outcomes,
      });
    }
    await deps.posts.refreshFromBooru(post.id, current);
    return;
  }
  // The snapshot is what the diff saw (the tags stored at the last crawl): the booru merges our delta against it,
  // so a human's edit made since then survives.
  const result = await deps.booru.updateTags(post.remoteId, { snapshot: post.tags, add, remove });
  for (const item of result.outcomes) {
    const suggestionId = pending.get(`${item.action} ${item.tag}`);
    if (suggestionId === undefined) continue;
    const status = outcomeStatus(item.outcome);
    outcomes.push({
      suggestionId,
      status,
      outcome: item.outcome,
      ...(status === 'failed' ? { error: item.reason } : {}),
    });
    if (item.outcome === 'applied') summary.applied++;
    else if (item.outcome === 'already_applied') summary.alreadyApplied++;
    else summary.refused++;
  }
  const refused = outcomes.filter((o) => o.status === 'failed').length;
  await deps.suggestions.recordApplyOutcomes({
    postId: post.id,
    edit: {
      oldTagString: result.oldTagString,
      newTagString: result.newTagString,
      resultTags: result.after.tags,
      outcome: refused === 0 ? 'applied' : 'partial',
    },
    outcomes,
  });
  await deps.posts.refreshFromBooru(post.id, result.after);
}

function outcomeStatus(outcome: ApplyOutcome): 'applied' | 'already_applied' | 'failed' {
  if (outcome === 'applied') return 'applied';
  if (outcome === 'already_applied') return 'already_applied';
  return 'failed';
}
