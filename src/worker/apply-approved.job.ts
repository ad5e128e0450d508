/**
 * Apply: write approved suggestions back to the booru, one post at a time, in the snapshot form that merges with
 * concurrent human edits (BOORU-API §1.5), then record what the booru really kept. A change a human already made is
 * closed as `already_applied`; a refusal is recorded with its kind (`refused_alias`, `refused_deprecated`,
 * `refused_implied`, `refused_automatic`, `refused_limit`); a transient failure leaves the suggestions approved for
 * the next run. Edits are budgeted (Danbooru's ≤100 tag changes per minute for non-Builder accounts): when the
 * budget is spent the run waits for it up to `maxBudgetWaitMs`, else leaves the rest approved for the next run. A
 * booru without a tag-edit API (Gelbooru) gets nothing sent: its approved suggestions are closed as `report_only`.
 */
import type { BooruClient } from '../booru/booru-client.js';
import { readyBooru } from '../booru/booru-factory.js';
import type { TagBudget } from '../booru/rate-limiter.js';
import { explainRefusals, type TagEditOutcome } from '../core/tag-edit.js';
import type { ApplyOutcome, Rating, TagChange } from '../core/types.js';
import type { TagRepository } from '../db/tag.repository.js';
import type { PostRepository } from '../db/post.repository.js';
import type { SuggestionRepository } from '../db/suggestion.repository.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

export interface ApplyDeps {
  booru: BooruClient;
  posts: PostRepository;
  suggestions: SuggestionRepository;
  logger: Logger;
  /** Tag facts for precise refusal reasons (aliases, deprecations, implications); optional. */
  tags?: TagRepository;
  /** The per-minute tag-change budget (shared by every process writing to the account); absent ⇒ unlimited. */
  budget?: TagBudget;
  /** Injected for tests. (Default: setTimeout) */
  sleep?: (ms: number) => Promise<void>;
}

export interface ApplyOptions {
  booruId: number;
  /** Longest wait for the tag-change budget within one run; beyond it the rest waits for the next run. (Default: 60 000) */
  maxBudgetWaitMs?: number;
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
  /** Closed without a write: the booru has no tag-edit API. */
  reportOnly: number;
  /** Left approved because the tag-change budget was spent (they go out next run). */
  budgetDeferred: number;
}

type Group = Awaited<ReturnType<SuggestionRepository['listApprovedGrouped']>>[number];
type OutcomeRow = Parameters<SuggestionRepository['recordApplyOutcomes']>[0]['outcomes'][number];

export async function applyApproved(deps: ApplyDeps, options: ApplyOptions): Promise<ApplySummary> {
  const logger = deps.logger.child({ stage: 'apply', booruId: options.booruId });
  const summary: ApplySummary = {
    posts: 0,
    applied: 0,
    alreadyApplied: 0,
    refused: 0,
    conflicted: 0,
    failed: 0,
    deferred: 0,
    reportOnly: 0,
    budgetDeferred: 0,
  };
  const groups = await deps.suggestions.listApprovedGrouped(options.booruId);
  if (groups.length === 0) return summary;
  const booru = await readyBooru(deps.booru);
  if (!booru.capabilities.canEditTags) {
    await closeReportOnly(deps, booru.kind, groups, summary);
    logger.info(summary, 'apply finished (report-only booru)');
    return summary;
  }
  const facts = deps.tags ? await deps.tags.loadFacts(options.booruId) : null;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let waitedMs = 0;
  for (const [index, group] of groups.entries()) {
    // The budget counts what Danbooru counts: tags added plus tags removed (a rating change is not a tag).
    const cost = group.suggestions.filter((s) => s.action !== 'rating').length;
    if (deps.budget) {
      // Taken before the edit is sent (and atomically, when other processes share the budget); a wait is retried.
      const need = Math.min(cost, deps.budget.perMinute);
      let wait = await deps.budget.tryTake(need);
      while (wait > 0 && waitedMs + wait <= (options.maxBudgetWaitMs ?? 60_000)) {
        waitedMs += wait;
        await sleep(wait);
        wait = await deps.budget.tryTake(need);
      }
      if (wait > 0) {
        const rest = groups.slice(index).reduce((n, g) => n + g.suggestions.length, 0);
        summary.budgetDeferred += rest;
        logger.info({ left: rest, waitMs: wait }, 'tag-change budget spent; the rest goes out next run');
        break;
      }
    }
    summary.posts++;
    try {
      await applyToPost({ ...deps, booru }, group, summary, facts);
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

/** Closes approved suggestions of a booru that cannot be edited, with a recorded `report_only` outcome. */
async function closeReportOnly(deps: ApplyDeps, kind: string, groups: Group[], summary: ApplySummary): Promise<void> {
  const reason = `${kind} has no tag-edit API: the suggestion is report-only and was not sent`;
  for (const group of groups) {
    await deps.suggestions.recordApplyOutcomes({
      postId: group.post.id,
      edit: { oldTagString: '', newTagString: '', resultTags: group.post.tags, outcome: 'report_only', error: reason },
      outcomes: group.suggestions.map((s) => ({
        suggestionId: s.id,
        status: 'failed' as const,
        outcome: 'report_only',
        error: reason,
      })),
    });
    summary.reportOnly += group.suggestions.length;
  }
}

type Facts = Awaited<ReturnType<TagRepository['loadFacts']>> | null;

/** `refused` plus its kind when known: refused_alias, refused_implied… (stored as the suggestion's apply outcome). */
function outcomeName(item: TagEditOutcome): string {
  return item.outcome === 'refused' && item.refusal && item.refusal !== 'unknown'
    ? `refused_${item.refusal}`
    : item.outcome;
}

async function applyToPost(deps: ApplyDeps, group: Group, summary: ApplySummary, facts: Facts): Promise<void> {
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
  const explained = explainRefusals(result.outcomes, result.after.tags, result.saved, {
    aliases: facts?.facts.aliases,
    deprecated: facts?.facts.deprecated,
    implications: facts?.implications,
  });
  for (const item of explained) {
    const suggestionId = byKey.get(`${item.action} ${item.tag}`);
    if (suggestionId === undefined) continue;
    const status = outcomeStatus(item.outcome);
    outcomes.push({
      suggestionId,
      status,
      outcome: outcomeName(item),
      ...(status === 'failed' ? { error: item.reason } : {}),
    });
    if (item.outcome === 'applied') summary.applied++;
    else if (item.outcome === 'already_applied') summary.alreadyApplied++;
    else if (item.outcome === 'conflicted') summary.conflicted++;
    else summary.refused++;
  }
  const failed = outcomes.filter((o) => o.status === 'failed').length;
  try {
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
  } catch (thrown) {
    // The booru has the edit; only our record of it failed. It must not be recorded as a failed edit: left approved,
    // the next run reads the post, finds the change in place and records it (already_applied) without a second write.
    throw new AppError('DB_UNAVAILABLE', `edit sent but not recorded: ${coerceError(thrown).message}`, {
      retryable: true,
      cause: thrown,
    });
  }
}

function outcomeStatus(outcome: ApplyOutcome): 'applied' | 'already_applied' | 'failed' {
  if (outcome === 'applied') return 'applied';
  if (outcome === 'already_applied') return 'already_applied';
  return 'failed';
}
