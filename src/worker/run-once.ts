/**
 * One full cycle over everything new: crawl → tag → suggest. Used by `run --once`, `demo` and the schedule.
 */
import type { DiffPolicy } from '../core/tag-diff.js';
import type { CursorRepository } from '../db/cursor.repository.js';
import type { PostRepository } from '../db/post.repository.js';
import type { TagRepository } from '../db/tag.repository.js';
import type { TaggingRepository } from '../db/tagging.repository.js';
import type { BooruClient } from '../booru/booru-client.js';
import type { Logger } from '../shared/logger.js';
import type { Tagger } from '../tagger/tagger.js';
import { type CrawlSummary, crawlNewPosts } from './crawl-posts.job.js';
import { buildDiffContext } from './diff-context.js';
import type { EnsembleMembers } from './ensemble-votes.js';
import { rediffChangedPosts } from './rediff-posts.job.js';
import { newStageTimings, reportTimings, type TimingReport } from './stage-timings.js';
import { type RatingModel, type TagSummary, tagPendingPosts } from './tag-posts.job.js';

export interface RunOnceDeps {
  booru: BooruClient;
  posts: PostRepository;
  cursors: CursorRepository;
  tagging: TaggingRepository;
  tags: TagRepository;
  tagger: Tagger;
  ratingModel?: RatingModel | null;
  logger: Logger;
}

export interface RunOnceOptions {
  booruId: number;
  modelId: number;
  /** Several models voting (see TagOptions.ensemble). */
  ensemble?: EnsembleMembers | null;
  owner: string;
  policy: DiffPolicy;
  batchSize: number;
  leaseMs: number;
  maxAttempts: number;
  maxMediaBytes: number;
  timeoutMs: number;
  scoreFloor: number;
  topK: number;
  maxPosts: number;
  downloadConcurrency?: number;
  decodeConcurrency?: number;
  maxBatchWaitMs?: number;
  signal?: AbortSignal;
  drainTimeoutMs?: number;
  /** Called after the crawl with the number of posts waiting to be tagged. */
  onTagStart?: (total: number) => void;
  onBatch?: (summary: TagSummary) => void;
}

export interface RunOnceSummary {
  crawl: CrawlSummary;
  tag: TagSummary;
  seconds: number;
  /** Busy ms per image per stage, process start → first post tagged, and the steady posts/s. */
  timings: TimingReport;
}

export async function runOnce(deps: RunOnceDeps, options: RunOnceOptions): Promise<RunOnceSummary> {
  const started = performance.now();
  const crawl = await crawlNewPosts(deps, {
    booruId: options.booruId,
    minMediaSize: deps.tagger.inputSize,
    maxPosts: options.maxPosts,
  });
  const counts = await deps.posts.countByState(options.booruId);
  options.onTagStart?.(counts.new + counts.queued);
  const { facts, implications } = await deps.tags.loadFacts(options.booruId);
  const context = buildDiffContext(deps.tagger.labels, facts, implications, options.policy);
  const timings = newStageTimings();
  const tag = await tagPendingPosts(deps, { ...options, context, timings });
  // Posts whose tags changed since they were scored (re-scan, write-back) get their suggestions re-diffed.
  await rediffChangedPosts(deps, {
    booruId: options.booruId,
    modelId: options.modelId,
    context,
    keepRatings: (deps.ratingModel ?? null) !== null,
    ensemble: options.ensemble ?? null,
  });
  return { crawl, tag, seconds: (performance.now() - started) / 1000, timings: reportTimings(timings) };
}
