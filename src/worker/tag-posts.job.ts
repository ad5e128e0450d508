/**
 * Tag: claim a batch of posts (a lease), download their images, run the tagger on the batch, store the scores, diff
 * them against the post's tags and store the suggestions. Every step is idempotent, so a post whose lease expires
 * after a crash is simply done again: scores are upserted per (post, model) and pending suggestions are replaced.
 */
import type { BooruClient } from '../booru/booru-client.js';
import type { PostRepository } from '../db/post.repository.js';
import type { PredictionRepository } from '../db/prediction.repository.js';
import type { SuggestionRepository } from '../db/suggestion.repository.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Tagger } from '../tagger/tagger.js';
import { compactScores, type DiffContext, diffPost } from './diff-context.js';

export interface TagDeps {
  booru: BooruClient;
  posts: PostRepository;
  predictions: PredictionRepository;
  suggestions: SuggestionRepository;
  tagger: Tagger;
  logger: Logger;
}

export interface TagOptions {
  booruId: number;
  modelId: number;
  context: DiffContext;
  /** Identifies this worker in leases. */
  owner: string;
  batchSize: number;
  leaseMs: number;
  maxAttempts: number;
  maxMediaBytes: number;
  timeoutMs: number;
  scoreFloor: number;
  topK: number;
  /** Parallel downloads within a batch. */
  downloadConcurrency?: number;
  /** Called after each batch (progress output). */
  onBatch?: (summary: TagSummary) => void;
}

export interface TagSummary {
  tagged: number;
  failed: number;
  retried: number;
  suggestions: number;
  superseded: number;
}

type Loaded = { post: ClaimedPost; bytes: Buffer } | { post: ClaimedPost; error: Error };
type ClaimedPost = Awaited<ReturnType<PostRepository['claimBatch']>>[number];

export async function tagPendingPosts(deps: TagDeps, options: TagOptions): Promise<TagSummary> {
  const logger = deps.logger.child({ stage: 'tag', booruId: options.booruId });
  const summary: TagSummary = { tagged: 0, failed: 0, retried: 0, suggestions: 0, superseded: 0 };
  for (;;) {
    const batch = await deps.posts.claimBatch({
      booruId: options.booruId,
      owner: options.owner,
      limit: options.batchSize,
      leaseMs: options.leaseMs,
    });
    if (batch.length === 0) break;
    const loaded = await downloadAll(deps.booru, batch, options);
    const ready = loaded.filter((item): item is { post: ClaimedPost; bytes: Buffer } => 'bytes' in item);
    const results = await deps.tagger.predictImages(ready.map((item) => item.bytes));
    for (const item of loaded) {
      if ('error' in item) await recordFailure(deps, options, item.post, item.error, summary, logger);
    }
    for (const [i, item] of ready.entries()) {
      const result = results[i];
      if (result === undefined || result instanceof Error) {
        await recordFailure(deps, options, item.post, result ?? new Error('no result'), summary, logger);
        continue;
      }
      await storeResult(deps, options, item.post, result, summary);
    }
    options.onBatch?.(summary);
  }
  logger.info(summary, 'tagging finished');
  return summary;
}

async function downloadAll(booru: BooruClient, batch: ClaimedPost[], options: TagOptions): Promise<Loaded[]> {
  const out: Loaded[] = new Array(batch.length);
  let next = 0;
  const worker = async () => {
    while (next < batch.length) {
      const index = next++;
      const post = batch[index]!;
      try {
        if (post.mediaUrl === null) throw new AppError('MEDIA_UNSUPPORTED', 'post has no media URL');
        const bytes = await booru.downloadMedia(post.mediaUrl, {
          maxBytes: options.maxMediaBytes,
          timeoutMs: options.timeoutMs,
        });
        out[index] = { post, bytes };
      } catch (thrown) {
        out[index] = { post, error: coerceError(thrown) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.downloadConcurrency ?? 8, batch.length) }, worker));
  return out;
}

async function storeResult(
  deps: TagDeps,
  options: TagOptions,
  post: ClaimedPost,
  scores: Float32Array,
  summary: TagSummary,
): Promise<void> {
  const compact = compactScores(scores, options.context, post.tags, options.scoreFloor, options.topK);
  await deps.predictions.upsert({
    postId: post.id,
    modelId: options.modelId,
    labelIdx: compact.labelIdx,
    scores: compact.scores,
    floor: options.scoreFloor,
    tagsVersion: post.tagsVersion,
  });
  // The diff runs on the full vector: the stored compact form gives the same answer (it keeps every score above
  // the floor that could cross a threshold, and every score of a tag on the post).
  const drafts = diffPost(options.context, post, scores, 0);
  const result = await deps.suggestions.replacePending({
    postId: post.id,
    modelId: options.modelId,
    tagsVersion: post.tagsVersion,
    drafts,
  });
  await deps.posts.markTagged(post.id, options.owner);
  summary.tagged++;
  summary.suggestions += result.created;
  summary.superseded += result.superseded;
}

async function recordFailure(
  deps: TagDeps,
  options: TagOptions,
  post: ClaimedPost,
  error: Error,
  summary: TagSummary,
  logger: Logger,
): Promise<void> {
  // Network trouble is worth retrying; a file that is corrupt, too large or unsupported will not get better.
  const retry = error instanceof AppError ? error.retryable : true;
  const message = error instanceof AppError ? `${error.code}: ${error.message}` : error.message;
  await deps.posts.markFailed(post.id, message, { retry, maxAttempts: options.maxAttempts });
  const willRetry = retry && post.attempts < options.maxAttempts;
  if (willRetry) summary.retried++;
  else summary.failed++;
  logger.warn(
    { postId: post.remoteId, attempt: `${post.attempts}/${options.maxAttempts}`, willRetry, err: message },
    'post failed',
  );
}
