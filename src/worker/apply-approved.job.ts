/**
 * Apply: write approved suggestions back to the booru, one post at a time, in the snapshot form that merges with
 * concurrent human edits (BOORU-API §1.5), then record what the booru really kept. A change a human already made is
 * closed as `already_applied`; a transient failure leaves the suggestions approved for the next run.
 */
import type { BooruClient } from '../booru/booru-client.js';
import type { ApplyOutcome, Rating, TagChange } from '../core/types.js';
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
  /** Someone changed the same thing differently since the suggestion (a rating): left alone. */
  conflicted: number;
  failed: number;
  deferred: number;
}

type Group = Awaited<ReturnType<SuggestionRepository['listApprovedGrouped']>>[number];
type OutcomeRow = Parameters<SuggestionRepository['recordApplyOutcomes']>[0]['outcomes'][number];

export async function applyApproved(deps: ApplyDeps, options: { booruId: number }): Promise<ApplySummary> {
  const logger = deps.logger.child({ stage: 'apply', booruId: options.booruId });
  const summary: ApplySummary = {
    posts: 0,
    applied: 0,
    alreadyApplied: 0,
    refused: 0,
    conflicted: 0,
    failed: 0,
    deferred: 0,
  };
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
  const add: string[] = [];
  const remove: string[] = [];
  let rating: TagChange['rating'];
  const byKey = new Map<string, number>();
  for (const suggestion of group.suggestions) {
    byKey.set(`${suggestion.action} ${suggestion.tag}`, suggestion.id);
    if (suggestion.action === 'add') add.push(suggestion.tag);
    else if (suggestion.action === 'remove') remove.push(suggestion.tag);
    else
      rating = { from: (post.rating as Rating | null) ?? null, to: suggestion.tag.replace(/^rating:/, '') as Rating };
  }
  // The snapshot is what the diff saw (the tags stored at the last crawl): the booru merges our delta against it, so
  // a human's edit made since then survives. The client reads the post first and skips what a human already did.
  const result = await deps.booru.updateTags(post.remoteId, { snapshot: post.tags, add, remove, rating });
  const outcomes: OutcomeRow[] = [];
  for (const item of result.outcomes) {
    const suggestionId = byKey.get(`${item.action} ${item.tag}`);
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
    else if (item.outcome === 'conflicted') summary.conflicted++;
    else summary.refused++;
  }
  const failed = outcomes.filter((o) => o.status === 'failed').length;
  await deps.suggestions.recordApplyOutcomes({
    postId: post.id,
    edit: {
      oldTagString: result.oldTagString,
      newTagString: result.newTagString,
      resultTags: result.after.tags,
      outcome: !result.sent ? 'not_sent' : failed === 0 ? 'applied' : 'partial',
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
