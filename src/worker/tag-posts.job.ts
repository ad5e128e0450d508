/**
 * Tag: the worker's pipeline. Posts are claimed in leases, then flow through bounded queues so that downloading,
 * decoding and inference overlap:
 *
 *   claim ──▶ download (×D) ──▶ decode (×P) ──▶ batch (≤ device batch, ≤ maxBatchWaitMs) ──▶ infer ──▶ diff ──▶ write
 *
 * The diff runs in its own stage so that it overlaps the previous batch's database write, and the writer takes
 * every diffed batch that is waiting (up to `writeBatchSize` posts) into one transaction: when the database falls
 * behind, its batches grow and the per-transaction cost is shared by more posts.
 *
 * Every queue has a capacity, so memory stays bounded whatever the backlog. Every step is idempotent: scores are
 * upserted per (post, model) and a post's pending suggestions are replaced, so a post whose lease expires after a
 * crash is simply done again; a result whose lease was lost meanwhile is dropped by the writer. The leases (claims,
 * heartbeat, release on abort after `drainTimeoutMs`) are `lease-pipeline.ts`'s.
 */
import { defaultOf } from '../config/config.js';
import type { BooruClient } from '../booru/booru-client.js';
import type { PostRepository } from '../db/post.repository.js';
import type { TaggingRepository, TaggingResult } from '../db/tagging.repository.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Tagger } from '../tagger/tagger.js';
import { BoundedQueue, runConcurrently } from './bounded-queue.js';
import type { DiffContext } from './diff-context.js';
import { type ClaimedPost, diffBatch, type RatingModel, type Scored } from './diff-batch.js';
import type { EnsembleMembers } from './ensemble-votes.js';
import { LeasePipeline, leaseWindowOf } from './lease-pipeline.js';
import type { PipelineObserver, PipelineStage } from './pipeline-observer.js';
import { inOrderRunTime, recordTagged, type StageTimings } from './stage-timings.js';

export type { RatingModel } from './diff-batch.js';

export interface TagDeps {
  booru: BooruClient;
  posts: PostRepository;
  tagging: TaggingRepository;
  tagger: Tagger;
  /** A content classifier run beside the tagger; its rating suggestion replaces the tagger's. */
  ratingModel?: RatingModel | null;
  logger: Logger;
  /** Told each stage's latency and each post's outcome (metrics). */
  observer?: PipelineObserver;
}

export interface TagOptions {
  booruId: number;
  modelId: number;
  context: DiffContext;
  /** Several models voting (an EnsembleTagger): each model's scores are stored, each suggestion records the vote. */
  ensemble?: EnsembleMembers | null;
  /** Identifies this worker in leases. */
  owner: string;
  batchSize: number;
  /** Most posts written in one transaction; waiting inference batches are merged up to this. (Default: 256.) */
  writeBatchSize?: number;
  /**
   * Least time between two transactions of results, in ms: a write waits for what the model finishes meanwhile, so a
   * slow model's posts share a transaction instead of one each. (Default: {@link DEFAULT_COMMIT_INTERVAL_MS}.)
   */
  commitIntervalMs?: number;
  leaseMs: number;
  maxAttempts: number;
  maxMediaBytes: number;
  timeoutMs: number;
  scoreFloor: number;
  topK: number;
  /** Parallel downloads. (Default: TAGGER_DOWNLOAD_CONCURRENCY's.) */
  downloadConcurrency?: number;
  /** Parallel decodes. (Default: 2.) */
  decodeConcurrency?: number;
  /** Longest wait for a full batch before inferring a partial one, in ms. (Default: TAGGER_MAX_BATCH_WAIT_MS's.) */
  maxBatchWaitMs?: number;
  /** Keep polling for new work instead of returning when none is left (the long-running worker). */
  follow?: boolean;
  /** Poll interval when following and idle, in ms. (Default: TAGGER_POLL_MS's.) */
  pollMs?: number;
  /**
   * When following, stop claiming after this long and return once what is in flight is written, so the caller can
   * start again with a fresh diff context (synced aliases and implications, switched thresholds). (Default: never.)
   */
  maxRunMs?: number;
  /** Stops claiming; in-flight work finishes or is released. */
  signal?: AbortSignal;
  /** After an abort, how long in-flight work may take before it is released, in ms. (Default: TAGGER_DRAIN_TIMEOUT_MS's.) */
  drainTimeoutMs?: number;
  /** Called after each written batch (progress output). */
  onBatch?: (summary: TagSummary) => void;
  /** Filled with where the time went per stage and when posts were tagged (`run --once --json`, the bench). */
  timings?: StageTimings;
}

export interface TagSummary {
  tagged: number;
  failed: number;
  retried: number;
  released: number;
  suggestions: number;
  superseded: number;
}

type Downloaded = { post: ClaimedPost; bytes: Buffer };
interface Decoded {
  post: ClaimedPost;
  tensor: Float32Array;
  ratingTensor: Float32Array | null;
}
type Diffed = { posts: ClaimedPost[]; results: TaggingResult[] };

/**
 * One transaction of results a second at most: at a CPU model's 2–10 posts/s a transaction per post cost ~2.6 ms of
 * CPU each (client and PostgreSQL, out of ~25 ms of non-inference work per post, all taken from the inference cores on
 * a 2-core machine); a post is tagged at most this much later, and a crash repeats at most this much inference.
 */
const DEFAULT_COMMIT_INTERVAL_MS = 1000;

export async function tagPendingPosts(deps: TagDeps, options: TagOptions): Promise<TagSummary> {
  const logger = deps.logger.child({ stage: 'tag', booruId: options.booruId });
  const summary: TagSummary = { tagged: 0, failed: 0, retried: 0, released: 0, suggestions: 0, superseded: 0 };
  // Model runs follow the tagger's device batch (measured or configured) when it has one: a post leaves for the diff
  // and the write as soon as its own run is done, not after a whole pipeline batch of runs. Claims and queues are
  // sized by the larger of the two.
  const runSize = deps.tagger.batchLimit ?? options.batchSize;
  const batchSize = Math.max(options.batchSize, runSize);
  const timings = options.timings;
  /** Reports `ms` spent in `stage` on `items` posts to the metrics observer, when there is one. */
  const observe = (stage: PipelineStage, ms: number, items = 1): void => {
    if (!deps.observer) return;
    for (let i = 0; i < items; i++) deps.observer.stage(stage, ms / 1000 / items);
  };
  const writeBatchSize = Math.max(batchSize, options.writeBatchSize ?? 256);
  const leases = new LeasePipeline<ClaimedPost>(
    {
      claim: (limit) =>
        deps.posts.claimBatch({
          booruId: options.booruId,
          owner: options.owner,
          limit,
          leaseMs: options.leaseMs,
          maxAttempts: options.maxAttempts,
        }),
      heartbeat: (ids) => deps.posts.heartbeat(ids, options.owner, options.leaseMs),
      release: (ids) => deps.posts.release(ids, options.owner),
      recordFailure: (post, error) => recordFailure(deps, options, post, error, summary, logger),
    },
    // The lease settings (leaseMs, follow, pollMs, maxRunMs, signal, drainTimeoutMs) are the caller's. In flight:
    // enough to keep every stage busy and, as the pace allows, about 2 s of work so the writer merges batches while
    // the database lags; a slow worker does not hoard a small backlog that others could share.
    { ...options, batchSize, inFlight: leaseWindowOf(batchSize), claimSize: Math.max(batchSize, 32) },
    logger,
  );
  const fail = (post: ClaimedPost, thrown: unknown) => leases.fail(post, thrown);
  const toDownload = new BoundedQueue<ClaimedPost>(batchSize * 2);
  const toDecode = new BoundedQueue<Downloaded>(batchSize * 2);
  const toInfer = new BoundedQueue<Decoded>(batchSize * 2);
  const toDiff = new BoundedQueue<Scored>(2);
  const toWrite = new BoundedQueue<Diffed>(Math.max(2, Math.ceil(writeBatchSize / batchSize)));

  const downloader = async () => {
    for (let post = await toDownload.pull(); post; post = await toDownload.pull()) {
      if (leases.draining) continue;
      try {
        if (post.mediaUrl === null) throw new AppError('MEDIA_UNSUPPORTED', 'post has no media URL');
        const started = performance.now();
        const bytes = await deps.booru.downloadMedia(post.mediaUrl, {
          maxBytes: options.maxMediaBytes,
          timeoutMs: options.timeoutMs,
        });
        const downloadMs = performance.now() - started;
        observe('download', downloadMs);
        if (timings) {
          timings.downloadMs += downloadMs;
          timings.downloaded++;
        }
        await toDecode.push({ post, bytes });
      } catch (thrown) {
        await fail(post, thrown);
      }
    }
  };

  const decoder = async () => {
    for (let item = await toDecode.pull(); item; item = await toDecode.pull()) {
      if (leases.draining) continue;
      try {
        const started = performance.now();
        const tensor = await deps.tagger.preprocess(item.bytes, timings);
        observe('decode', performance.now() - started);
        const ratingTensor = deps.ratingModel ? await deps.ratingModel.tagger.preprocess(item.bytes, timings) : null;
        if (timings) timings.decoded++;
        await toInfer.push({ post: item.post, tensor, ratingTensor });
      } catch (thrown) {
        await fail(item.post, thrown);
      }
    }
  };

  // Two batchers keep two runs in flight (see below); a run's own time excludes its wait behind the other.
  const tagRunMs = inOrderRunTime();
  const modelRunMs = inOrderRunTime();
  const batcher = async () => {
    const waitMs = options.maxBatchWaitMs ?? defaultOf('maxBatchWaitMs');
    for (;;) {
      const first = await toInfer.pull();
      if (!first) break;
      const batch = [first];
      const deadline = performance.now() + waitMs;
      while (batch.length < runSize) {
        const next = await toInfer.pullWithin(Math.max(0, deadline - performance.now()));
        if (!next) break;
        batch.push(next);
      }
      if (leases.draining) continue;
      try {
        const started = performance.now();
        const scores = await deps.tagger.predictBatch(batch.map((item) => item.tensor));
        observe('inference', tagRunMs(started), batch.length);
        const ratingScores = deps.ratingModel
          ? await deps.ratingModel.tagger.predictBatch(batch.map((item) => item.ratingTensor!))
          : null;
        const modelMs = modelRunMs(started);
        if (timings) {
          timings.modelMs += modelMs;
          timings.inferred += batch.length;
        }
        await toDiff.push({ posts: batch.map((item) => item.post), scores, ratingScores });
      } catch (thrown) {
        for (const item of batch) await fail(item.post, thrown);
      } finally {
        // Both runs settled: the tensors' memory goes to the next images' preprocessing.
        deps.tagger.recycle?.(batch.map((item) => item.tensor));
        if (deps.ratingModel) deps.ratingModel.tagger.recycle?.(batch.map((item) => item.ratingTensor!));
      }
    }
  };

  const differ = async () => {
    for (let item = await toDiff.pull(); item; item = await toDiff.pull()) {
      try {
        const started = performance.now();
        const results = diffBatch(deps, options, item);
        const diffMs = performance.now() - started;
        observe('diff', diffMs);
        if (timings) {
          timings.diffMs += diffMs;
          timings.diffed += item.posts.length;
        }
        await toWrite.push({ posts: item.posts, results });
      } catch (thrown) {
        for (const post of item.posts) await fail(post, thrown);
      }
    }
  };

  // Group commit: at most one transaction per `commitIntervalMs`. The first write goes at once; later ones also take
  // what arrives until the interval since the last one has passed. Nothing waits when no other post is in flight
  // (the end of a run), on a drain, once the queue closes, or while the writer holds half the lease window: the
  // claimer keeps room to feed the stages, so a fast model's pipeline never empties into the writer.
  const commitIntervalMs = options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
  let lastWriteEnd = Number.NEGATIVE_INFINITY;
  const writer = async () => {
    for (let first = await toWrite.pull(); first; first = await toWrite.pull()) {
      const posts = [...first.posts];
      const results = [...first.results];
      while (posts.length < writeBatchSize) {
        const wait = lastWriteEnd + commitIntervalMs - performance.now();
        const more =
          wait > 0 && !leases.draining && leases.inFlightCount > posts.length && posts.length * 2 < leases.window();
        const next = more ? await toWrite.pullWithin(wait) : toWrite.tryPull();
        if (!next) break;
        posts.push(...next.posts);
        results.push(...next.results);
      }
      try {
        const started = performance.now();
        const taggedBefore = summary.tagged;
        await writeResults(deps, options, results, summary, logger);
        const now = performance.now();
        observe('store', now - started);
        if (timings) {
          timings.storeMs += now - started;
          timings.stored += results.length;
          recordTagged(timings, summary.tagged - taggedBefore, now);
        }
      } catch (thrown) {
        // The transaction rolled back: nothing of it is visible. Retry the posts later.
        for (const post of posts) await fail(post, thrown);
        continue;
      } finally {
        lastWriteEnd = performance.now();
      }
      leases.finished(posts);
      options.onBatch?.(summary);
    }
  };

  // The claimer (in the lease engine) feeds the downloads; each stage closes the queue after it when it ends.
  summary.released += await leases.run(
    toDownload,
    [
      () =>
        runConcurrently(options.downloadConcurrency ?? defaultOf('downloadConcurrency'), downloader).finally(() =>
          toDecode.close(),
        ),
      () => runConcurrently(options.decodeConcurrency ?? 2, decoder).finally(() => toInfer.close()),
      // Two batchers: while one batch runs, the next waits queued in the session's thread, never for this thread.
      () => runConcurrently(2, batcher).finally(() => toDiff.close()),
      () => differ().finally(() => toWrite.close()),
      writer,
    ],
    [toDecode, toInfer, toDiff, toWrite],
  );
  logger.info(summary, 'tagging finished');
  return summary;
}

async function writeResults(
  deps: TagDeps,
  options: TagOptions,
  results: TaggingResult[],
  summary: TagSummary,
  logger: Logger,
): Promise<void> {
  const stored = await deps.tagging.storeResults({
    modelId: options.modelId,
    owner: options.owner,
    results,
    rejectMargin: options.context.policy.rejectMargin,
  });
  summary.tagged += stored.tagged;
  deps.observer?.tagged(stored.tagged);
  summary.suggestions += stored.created;
  summary.superseded += stored.superseded;
  if (stored.lostLease.length > 0) {
    logger.warn({ posts: stored.lostLease }, 'lease lost before the write; results dropped (another worker has them)');
  }
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
  const state = await deps.posts.markFailed(post.id, message, {
    retry,
    maxAttempts: options.maxAttempts,
    owner: options.owner,
  });
  if (state === 'new') summary.retried++;
  else if (state === 'failed') summary.failed++;
  deps.observer?.failed(error instanceof AppError ? error.code : 'UNKNOWN', state === 'new');
  logger.warn(
    {
      postId: post.remoteId,
      attempt: `${post.attempts}/${options.maxAttempts}`,
      willRetry: state === 'new',
      err: message,
    },
    'post failed',
  );
}
