/**
 * One full cycle over everything new: sync tags → crawl → tag → suggest. Used by `run --once` and `demo`, which
 * start the sync and the crawl ({@link syncAndCrawl}) while the model's batch is measured.
 *
 * The tag sync comes first because the diff needs current aliases, implications and deprecations: when the sync
 * fails, or the last good one is older than the allowed age, posts are still crawled and scored, but nothing is
 * diffed (`vocabulary.fresh` is false, and the caller exits non-zero); the next good sync lets the re-diff make
 * their suggestions from the stored scores.
 */
import type { DiffPolicy } from '../core/tag-diff.js';
import type { CursorRepository } from '../db/cursor.repository.js';
import type { PostRepository } from '../db/post.repository.js';
import type { TagRepository } from '../db/tag.repository.js';
import type { TaggingRepository } from '../db/tagging.repository.js';
import type { BooruClient } from '../booru/booru-client.js';
import { judgeVocabulary, type VocabularyFreshness } from '../core/vocabulary-freshness.js';
import { type Clock, systemClock } from '../shared/clock.js';
import { coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Tagger } from '../tagger/tagger.js';
import { type CrawlSummary, crawlNewPosts } from './crawl-posts.job.js';
import { type LearnedThresholdSource, resolveDiffContext } from './diff-context.js';
import type { EnsembleMembers } from './ensemble-votes.js';
import { type RediffSummary, rediffChangedPosts } from './rediff-posts.job.js';
import { newStageTimings, reportTimings, type TimingReport } from './stage-timings.js';
import { type SyncTagsSummary, syncTags } from './sync-tags.job.js';
import { type RatingModel, type TagSummary, tagPendingPosts } from './tag-posts.job.js';

export interface RunOnceDeps {
  booru: BooruClient;
  posts: PostRepository;
  cursors: CursorRepository;
  tagging: TaggingRepository;
  tags: TagRepository;
  tagger: Tagger;
  ratingModel?: RatingModel | null;
  /** Learned per-tag thresholds, laid over `policy` when switched on. (Default: none.) */
  thresholds?: LearnedThresholdSource;
  logger: Logger;
  clock?: Clock;
}

export interface RunOnceOptions {
  booruId: number;
  modelId: number;
  /** Several models voting (see TagOptions.ensemble). */
  ensemble?: EnsembleMembers | null;
  owner: string;
  /** The diff policy before learned thresholds (src/core/diff-policy.ts); the context is built once, after the sync. */
  policy: DiffPolicy;
  batchSize: number;
  leaseMs: number;
  maxAttempts: number;
  maxMediaBytes: number;
  timeoutMs: number;
  scoreFloor: number;
  topK: number;
  maxPosts: number;
  /** Oldest acceptable tag sync, in ms; 0 accepts any age (TAGGER_SYNC_MAX_AGE_HOURS). */
  syncMaxAgeMs: number;
  downloadConcurrency?: number;
  decodeConcurrency?: number;
  maxBatchWaitMs?: number;
  /** Least time between two transactions of results (TagOptions.commitIntervalMs). */
  commitIntervalMs?: number;
  signal?: AbortSignal;
  drainTimeoutMs?: number;
  /** Called after the crawl with the number of posts waiting to be tagged. */
  onTagStart?: (total: number) => void;
  onBatch?: (summary: TagSummary) => void;
}

export interface RunOnceSummary {
  /** This cycle's tag sync, or the error that stopped it. */
  sync: SyncTagsSummary | { error: string };
  /** Whether the diff ran, and against which tag-sync generation (or why it waited). */
  vocabulary: VocabularyFreshness;
  crawl: CrawlSummary;
  tag: TagSummary;
  rediff: RediffSummary;
  seconds: number;
  /** Busy ms per image per stage, process start → first post tagged, and the steady posts/s. */
  timings: TimingReport;
}

/** What a cycle knows before it tags: its tag sync, the vocabulary freshness judged after it, and its crawl. */
export interface CyclePrelude {
  /** `performance.now()` when the sync started: the cycle's `seconds` count from here. */
  startedAt: number;
  sync: RunOnceSummary['sync'];
  vocabulary: VocabularyFreshness;
  crawl: CrawlSummary;
}

/**
 * The first half of a cycle: the tag sync, then the crawl. It needs nothing of the model but its input size (which
 * media variant to fetch), so `run --once` starts it while the model's batch is measured (`openService`'s
 * `onModelOpen`), and passes the promise to {@link runOnce}.
 */
export async function syncAndCrawl(
  deps: Pick<RunOnceDeps, 'booru' | 'posts' | 'cursors' | 'tags' | 'logger' | 'clock'>,
  options: { booruId: number; maxPosts: number; syncMaxAgeMs: number; minMediaSize: number },
): Promise<CyclePrelude> {
  const startedAt = performance.now();
  const clock = deps.clock ?? systemClock;
  let sync: RunOnceSummary['sync'];
  try {
    sync = await syncTags(deps, { booruId: options.booruId });
  } catch (thrown) {
    // Recorded as a failed generation by syncTags; the cycle still crawls and scores.
    const error = coerceError(thrown);
    deps.logger.error({ err: error }, 'tag sync failed');
    sync = { error: error.message };
  }
  const vocabulary = judgeVocabulary(await deps.tags.latestSync(options.booruId), clock.now(), options.syncMaxAgeMs);
  if (!vocabulary.fresh) {
    deps.logger.warn(
      { booruId: options.booruId, reason: vocabulary.reason },
      'tag vocabulary stale: posts are scored, their suggestions wait',
    );
  }
  const crawl = await crawlNewPosts(deps, {
    booruId: options.booruId,
    minMediaSize: options.minMediaSize,
    maxPosts: options.maxPosts,
  });
  return { startedAt, sync, vocabulary, crawl };
}

/**
 * One cycle. `prelude` is its {@link syncAndCrawl} when the caller started it already (while the model loaded);
 * without one, the cycle syncs and crawls first itself.
 */
export async function runOnce(
  deps: RunOnceDeps,
  options: RunOnceOptions,
  prelude?: Promise<CyclePrelude>,
): Promise<RunOnceSummary> {
  const { startedAt, sync, vocabulary, crawl } = await (prelude ??
    syncAndCrawl(deps, {
      booruId: options.booruId,
      maxPosts: options.maxPosts,
      syncMaxAgeMs: options.syncMaxAgeMs,
      minMediaSize: deps.tagger.inputSize,
    }));
  const counts = await deps.posts.countByState(options.booruId);
  options.onTagStart?.(counts.new + counts.queued);
  const context = await resolveDiffContext(deps, {
    booruId: options.booruId,
    labels: deps.tagger.labels,
    policy: options.policy,
    vocabulary,
  });
  const timings = newStageTimings();
  const tag = await tagPendingPosts(deps, { ...options, context, timings });
  // Posts whose tags changed since they were scored (re-scan, write-back), or whose diff waited for a good sync,
  // get their suggestions (re-)diffed from the stored scores.
  const rediff = await rediffChangedPosts(deps, {
    booruId: options.booruId,
    modelId: options.modelId,
    context,
    keepRatings: (deps.ratingModel ?? null) !== null,
    ensemble: options.ensemble ?? null,
  });
  return {
    sync,
    vocabulary,
    crawl,
    tag,
    rediff,
    seconds: (performance.now() - startedAt) / 1000,
    timings: reportTimings(timings),
  };
}
