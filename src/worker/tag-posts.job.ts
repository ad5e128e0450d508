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
 * Every queue has a capacity, so memory stays bounded whatever the backlog. Leases are extended by a heartbeat while
 * posts are in flight. Every step is idempotent: scores are upserted per (post, model) and a post's pending
 * suggestions are replaced, so a post whose lease expires after a crash is simply done again; a result whose lease
 * was lost meanwhile is dropped by the writer. On abort, claiming stops, what is in flight finishes within
 * `drainTimeoutMs`, and whatever is left is released back to the pool untouched.
 */
import type { BooruClient } from '../booru/booru-client.js';
import type { PostRepository } from '../db/post.repository.js';
import { type RatingClassPolicy, suggestRatingFromClasses } from '../core/rating-classes.js';
import type { ModelDraft, TaggingRepository, TaggingResult } from '../db/tagging.repository.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Tagger } from '../tagger/tagger.js';
import { BoundedQueue, runConcurrently } from './bounded-queue.js';
import { compactScores, type DiffContext, diffPost } from './diff-context.js';
import { type EnsembleMembers, memberPredictions, withVotes } from './ensemble-votes.js';
import type { PipelineObserver, PipelineStage } from './pipeline-observer.js';
import { recordTagged, type StageTimings } from './stage-timings.js';

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

export interface RatingModel {
  tagger: Tagger;
  modelId: number;
  policy: RatingClassPolicy;
}

export interface TagOptions {
  booruId: number;
  modelId: number;
  context: DiffContext;
  /** Several models voting (the tagger is an EnsembleTagger): each model's scores are stored and each suggestion
   * records the vote. (Default: none.) */
  ensemble?: EnsembleMembers | null;
  /** Identifies this worker in leases. */
  owner: string;
  batchSize: number;
  /** Most posts written in one transaction; waiting inference batches are merged up to this. (Default: 256.) */
  writeBatchSize?: number;
  leaseMs: number;
  maxAttempts: number;
  maxMediaBytes: number;
  timeoutMs: number;
  scoreFloor: number;
  topK: number;
  /** Parallel downloads. (Default: 8.) */
  downloadConcurrency?: number;
  /** Parallel decodes. (Default: 2.) */
  decodeConcurrency?: number;
  /** Longest wait for a full batch before inferring a partial one, in ms. (Default: 100.) */
  maxBatchWaitMs?: number;
  /** Keep polling for new work instead of returning when none is left (the long-running worker). */
  follow?: boolean;
  /** Poll interval when following and idle, in ms. (Default: 2000.) */
  pollMs?: number;
  /**
   * When following, stop claiming after this long and return once what is in flight is written, so the caller can
   * start again with a fresh diff context (synced aliases and implications, switched thresholds). (Default: never.)
   */
  maxRunMs?: number;
  /** Stops claiming; in-flight work finishes or is released. */
  signal?: AbortSignal;
  /** After an abort, how long in-flight work may take before it is released, in ms. (Default: 30000.) */
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

type ClaimedPost = Awaited<ReturnType<PostRepository['claimBatch']>>[number];
interface Downloaded {
  post: ClaimedPost;
  bytes: Buffer;
}
interface Decoded {
  post: ClaimedPost;
  tensor: Float32Array;
  ratingTensor: Float32Array | null;
}
interface Scored {
  posts: ClaimedPost[];
  scores: Float32Array[];
  ratingScores: Float32Array[] | null;
}
interface Diffed {
  posts: ClaimedPost[];
  results: TaggingResult[];
}

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
  // Enough posts in flight to keep every stage busy and let the writer merge batches when the database lags; few
  // enough that one worker does not hoard a small backlog that others could share.
  const maxInFlight = Math.max(batchSize * 4, 64);
  const claimSize = Math.max(batchSize, 32);
  const inFlight = new Map<number, ClaimedPost>();
  const toDownload = new BoundedQueue<ClaimedPost>(batchSize * 2);
  const toDecode = new BoundedQueue<Downloaded>(batchSize * 2);
  const toInfer = new BoundedQueue<Decoded>(batchSize * 2);
  const toDiff = new BoundedQueue<Scored>(2);
  const toWrite = new BoundedQueue<Diffed>(Math.max(2, Math.ceil(writeBatchSize / batchSize)));
  let draining = false;
  let broken = false;

  // The claimer waits for room in the pipeline; the writer and failures wake it as soon as posts leave.
  let wakeClaimer: (() => void) | null = null;
  const roomMade = () => {
    wakeClaimer?.();
    wakeClaimer = null;
  };
  const roomOrTimeout = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', done);
        wakeClaimer = null;
        resolve();
      }
      wakeClaimer = done;
      options.signal?.addEventListener('abort', done, { once: true });
    });

  // Failures being recorded, and recorded so far: a one-shot run must not end while a failure may still put its post
  // back for a retry, nor on an empty claim that started before such a post was back.
  let recording = 0;
  let recorded = 0;
  const fail = async (post: ClaimedPost, thrown: unknown) => {
    inFlight.delete(post.id);
    roomMade();
    recording++;
    try {
      await recordFailure(deps, options, post, coerceError(thrown), summary, logger);
    } finally {
      recording--;
      recorded++;
    }
  };

  const claimer = async () => {
    try {
      const deadline = options.maxRunMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.maxRunMs;
      while (!options.signal?.aborted && !broken && Date.now() < deadline) {
        // Claim only what the pipeline has room for: claimed posts hold leases.
        const room = maxInFlight - inFlight.size;
        if (room < batchSize) {
          await roomOrTimeout(1000);
          continue;
        }
        const recordedBefore = recorded;
        const batch = await deps.posts.claimBatch({
          booruId: options.booruId,
          owner: options.owner,
          limit: Math.min(room, claimSize),
          leaseMs: options.leaseMs,
          maxAttempts: options.maxAttempts,
        });
        if (batch.length === 0) {
          if (!options.follow) {
            // Nothing to claim; wait for work in flight that might fail and come back for a retry.
            if (inFlight.size === 0 && recording === 0 && recorded === recordedBefore) break;
            await sleep(50, options.signal);
            continue;
          }
          await sleep(options.pollMs ?? 2000, options.signal);
          continue;
        }
        for (const post of batch) {
          // A post whose lease ran out while it was still in our pipeline (a stalled event loop outlived the
          // heartbeat) comes back to us: the claim renewed the lease, and the copy in flight will write it.
          if (inFlight.has(post.id)) continue;
          inFlight.set(post.id, post);
          await toDownload.push(post);
        }
      }
    } finally {
      toDownload.close();
    }
  };

  const downloader = async () => {
    for (let post = await toDownload.pull(); post; post = await toDownload.pull()) {
      if (draining) continue;
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
      if (draining) continue;
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

  const batcher = async () => {
    const waitMs = options.maxBatchWaitMs ?? 100;
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
      if (draining) continue;
      try {
        const started = performance.now();
        const scores = await deps.tagger.predictBatch(batch.map((item) => item.tensor));
        observe('inference', performance.now() - started, batch.length);
        const ratingScores = deps.ratingModel
          ? await deps.ratingModel.tagger.predictBatch(batch.map((item) => item.ratingTensor!))
          : null;
        if (timings) {
          timings.modelMs += performance.now() - started;
          timings.inferred += batch.length;
        }
        await toDiff.push({ posts: batch.map((item) => item.post), scores, ratingScores });
      } catch (thrown) {
        for (const item of batch) await fail(item.post, thrown);
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

  const writer = async () => {
    for (let first = await toWrite.pull(); first; first = await toWrite.pull()) {
      const posts = [...first.posts];
      const results = [...first.results];
      for (let next = toWrite.tryPull(); next; next = posts.length < writeBatchSize ? toWrite.tryPull() : undefined) {
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
      }
      for (const post of posts) inFlight.delete(post.id);
      roomMade();
      options.onBatch?.(summary);
    }
  };

  const heartbeat = setInterval(
    () => {
      deps.posts.heartbeat([...inFlight.keys()], options.owner, options.leaseMs).catch((error) => {
        logger.warn({ err: coerceError(error) }, 'lease heartbeat failed');
      });
    },
    Math.max(250, Math.floor(options.leaseMs / 3)),
  );
  heartbeat.unref();

  // A stage that fails (the database went away while recording a failure) stops the whole pipeline: the claimer
  // must not go on leasing posts into stages nobody drains, and every queue is closed so the others wind down.
  const stopOnFailure = (stage: Promise<void>) =>
    stage.catch((thrown: unknown) => {
      broken = true;
      draining = true;
      roomMade();
      for (const queue of [toDownload, toDecode, toInfer, toDiff, toWrite]) queue.close();
      throw thrown;
    });
  const stages = Promise.all(
    [
      claimer(),
      runConcurrently(options.downloadConcurrency ?? 8, downloader).finally(() => toDecode.close()),
      runConcurrently(options.decodeConcurrency ?? 2, decoder).finally(() => toInfer.close()),
      batcher().finally(() => toDiff.close()),
      differ().finally(() => toWrite.close()),
      writer(),
    ].map(stopOnFailure),
  );
  try {
    if (options.signal)
      await drainOrTimeout(stages, options.signal, options.drainTimeoutMs ?? 30_000, () => {
        draining = true;
      });
    else await stages;
  } finally {
    clearInterval(heartbeat);
    if (inFlight.size > 0) {
      // Whatever is still leased to us (abort, drain timeout) goes back to the pool untouched.
      summary.released += await deps.posts.release([...inFlight.keys()], options.owner);
      logger.info({ released: inFlight.size }, 'released in-flight posts');
    }
  }
  logger.info(summary, 'tagging finished');
  return summary;
}

/** Waits for the stages; after an abort, gives them `timeoutMs` to drain, then stops feeding them. */
async function drainOrTimeout(
  stages: Promise<unknown>,
  signal: AbortSignal,
  timeoutMs: number,
  stopWork: () => void,
): Promise<void> {
  const aborted = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.race([stages, aborted]);
  if (!signal.aborted) return;
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
  if ((await Promise.race([stages, timer])) === 'timeout') {
    stopWork();
    await stages;
  }
}

/** Compacts and diffs one inference batch (pure CPU work, no I/O). */
function diffBatch(deps: TagDeps, options: TagOptions, item: Scored): TaggingResult[] {
  const rating = deps.ratingModel ?? null;
  return item.posts.map((post, i) => {
    const scores = item.scores[i]!;
    const compact = compactScores(scores, options.context, post.tags, options.scoreFloor, options.topK);
    // The diff runs on the full vector; the stored compact form gives the same answer for every threshold above
    // the floor, so re-diffing later needs no re-inference. A stale vocabulary diffs nothing: the scores wait.
    const generation = options.context.generation;
    let drafts: ModelDraft[] = generation === null ? [] : diffPost(options.context, post, scores, 0);
    const members = options.ensemble?.memberScoresOf(scores) ?? null;
    if (options.ensemble && !members) throw new Error('ensemble scores without the member scores behind them');
    if (options.ensemble && members) drafts = withVotes(drafts, options.ensemble, options.context, scores, members);
    const ratingScores = item.ratingScores?.[i];
    if (rating && ratingScores && generation !== null) {
      // The rating model speaks for the rating: the tagger's own rating suggestion gives way.
      const suggestion = suggestRatingFromClasses(
        rating.tagger.labels,
        ratingScores,
        post.rating,
        rating.policy,
        rating.tagger.model.name,
      );
      drafts = [
        ...drafts.filter((d) => d.action !== 'rating'),
        ...(suggestion ? [{ ...suggestion, modelId: rating.modelId }] : []),
      ];
    }
    return {
      extraPredictions: [
        ...(rating && ratingScores
          ? [{ modelId: rating.modelId, labelIdx: [...ratingScores.keys()], scores: [...ratingScores], floor: 0 }]
          : []),
        ...(options.ensemble && members
          ? memberPredictions(options.ensemble, members, compact.labelIdx, options.scoreFloor)
          : []),
      ],
      postId: post.id,
      tagsVersion: post.tagsVersion,
      labelIdx: compact.labelIdx,
      scores: compact.scores,
      floor: options.scoreFloor,
      drafts,
      syncGeneration: generation,
    };
  });
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
    rejectMargin: 0.1, // TODO(lead): TAGGER_REJECT_MARGIN
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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
