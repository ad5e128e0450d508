/**
 * `npm run bench`, the database stage alone: what the worker does around inference, on posts already crawled: claim
 * (leases), compact the scores, diff each post, and write scores + suggestions + state with `tagging.storeResults`.
 * No model runs: the score vectors are synthetic, shaped like a real tagger's (a few dozen labels high, about 1% above
 * the storage floor), over the given vocabulary.
 *
 * Two measurements per batch size:
 * - `postsPerSecond`: the worker's own pipeline (`tagPendingPosts`: claimer, diff stage, merging writer, heartbeat),
 *   with the network and the model replaced by instant stand-ins, so only the database stage is left. This is the
 *   rate the database stage can sustain behind inference.
 * - `sequential`: the same steps one after the other per batch, without overlap, with the time of each step.
 */
import { UNRECORDED_VOCABULARY } from '../src/core/vocabulary-freshness.js';
import { pino } from 'pino';
import { openRepositories, policyOf } from '../src/bin/context.js';
import { loadConfig } from '../src/config/config.js';
import { NO_TAG_FACTS } from '../src/core/tag-vocabulary.js';
import type { ModelLabel } from '../src/core/types.js';
import type { BooruClient } from '../src/booru/booru-client.js';
import type { TaggingResult } from '../src/db/tagging.repository.js';
import type { ModelFamily } from '../src/tagger/recipe.js';
import type { Tagger } from '../src/tagger/tagger.js';
import { buildDiffContext, compactScores, type DiffContext, diffPost } from '../src/worker/diff-context.js';
import { tagPendingPosts } from '../src/worker/tag-posts.job.js';
import { log, round, withFreshDatabase } from './bench-support.js';
import { HEAD_SPREAD } from './make-bench-model.js';

const logger = pino({ level: 'silent' });
const VECTORS = 16;

/** mulberry32, so every run writes the same posts and scores. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PRESENT_PER_IMAGE = 30;

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * Score vectors shaped like the bench model's (make-bench-model.ts headBias, HEAD_SPREAD): per image, 30 labels
 * "present" (logit +2), the general rating +1, other ratings -3, everything else -8, plus N(0, 1.5²) each. The
 * present labels differ between vectors. Returns each vector with its present labels.
 */
function scoreVectors(
  labels: readonly ModelLabel[],
  count: number,
  random: () => number,
): Array<{ scores: Float32Array; present: number[] }> {
  const taggable = [...labels.keys()].filter((i) => labels[i]!.category !== 9);
  return Array.from({ length: count }, () => {
    const present = new Set<number>();
    while (present.size < PRESENT_PER_IMAGE) present.add(taggable[Math.floor(random() * taggable.length)]!);
    let ratings = 0;
    const bias = labels.map((label, i) =>
      label.category === 9 ? (ratings++ === 0 ? 1 : -3) : present.has(i) ? 2 : -8,
    );
    const scores = new Float32Array(labels.length);
    for (let i = 0; i < labels.length; i++) {
      scores[i] = 1 / (1 + Math.exp(-(bias[i]! + HEAD_SPREAD * normal(random))));
    }
    return { scores, present: [...present] };
  });
}

/**
 * A post's tags: most of what its image shows (80% of the present labels, so the rest become additions) plus three
 * labels it does not show (removal candidates), as on a real booru.
 */
function postTags(labels: readonly ModelLabel[], present: readonly number[], random: () => number): string[] {
  const tags = new Set(present.filter(() => random() < 0.8).map((i) => labels[i]!.name));
  for (let extra = 0; extra < 3; ) {
    const label = labels[Math.floor(random() * labels.length)]!;
    if (label.category === 9 || tags.has(label.name)) continue;
    tags.add(label.name);
    extra++;
  }
  return [...tags].sort();
}

export interface DbStageResult {
  posts: number;
  batchSize: number;
  labels: number;
  /** Through the worker's pipeline (stages overlapping, batches merged by the writer). */
  postsPerSecond: number;
  /** Posts per write transaction in the pipeline: inference batches merged by the writer. */
  postsPerWrite: number;
  suggestionsPerPost: number;
  /** Claim, diff, write one after the other, a batch at a time: the cost of each step. */
  sequential: { postsPerSecond: number; msPerBatch: { claim: number; diff: number; store: number } };
}

/**
 * Stand-ins for the network and the model: the "image" of a post is its remote id, and "inference" hands back that
 * post's synthetic score vector at once.
 */
function instantBooru(): BooruClient {
  return {
    downloadMedia: async (url: string) => Buffer.from(url.slice(url.lastIndexOf('/') + 1).replace('.webp', '')),
  } as unknown as BooruClient;
}

function instantTagger(labels: readonly ModelLabel[], vectors: readonly { scores: Float32Array }[]): Tagger {
  return {
    labels,
    inputSize: 448,
    provider: 'cpu',
    preprocess: async (image: Buffer) => Float32Array.of(Number(image.toString())),
    predictBatch: async (tensors: readonly Float32Array[]) =>
      tensors.map((t) => vectors[t[0]! % vectors.length]!.scores),
  } as unknown as Tagger;
}

/**
 * Inserts `posts` posts per batch size (a booru each), then runs claim → diff → storeResults over them until none is
 * left. Null when PostgreSQL is unreachable.
 */
export async function benchDbStage(
  model: { name: string; version: string; sha256: string; family: ModelFamily; labels: readonly ModelLabel[] },
  posts: number,
  batchSizes: readonly number[],
): Promise<DbStageResult[] | null> {
  return withFreshDatabase(async (databaseUrl) => {
    const config = loadConfig({ DATABASE_URL: databaseUrl, DEVICE: 'cpu' });
    const { db, repos } = await openRepositories(config, logger);
    const random = prng(7);
    const labels = model.labels;
    const vectors = scoreVectors(labels, VECTORS, random);
    const context = buildDiffContext(labels, NO_TAG_FACTS, [], policyOf(config), UNRECORDED_VOCABULARY);
    const results: DbStageResult[] = [];
    try {
      const modelId = await repos.models.ensure({
        ...model,
        purpose: 'tags',
        labels: [...labels],
        manifest: {},
      });
      for (const batchSize of batchSizes) {
        // The same posts twice, on two boorus: one for each measurement.
        const seed = async (mode: string) => {
          const booru = await repos.boorus.ensure({
            name: `db-stage-${mode}-${batchSize}`,
            kind: 'danbooru',
            baseUrl: `http://db-stage-${mode}-${batchSize}.invalid`,
          });
          for (let start = 0; start < posts; start += 1000) {
            const rows = Array.from({ length: Math.min(1000, posts - start) }, (_, i) => {
              const remoteId = start + i + 1;
              return {
                remoteId,
                md5: `md5-${remoteId}`,
                rating: 'g' as const,
                tags: tagsOf[remoteId]!,
                fileUrl: null,
                previewUrl: null,
                variants: [],
                width: 720,
                height: 540,
                fileExt: 'webp',
                fileSize: 100_000,
                isDeleted: false,
                isBanned: false,
                isPending: false,
                updatedAt: null,
                mediaUrl: `http://db-stage.invalid/${remoteId}.webp`,
                skipReason: null,
              };
            });
            await repos.posts.upsertMany(booru.id, rows);
          }
          return booru.id;
        };
        const tagsOf = Array.from({ length: posts + 1 }, (_, remoteId) =>
          postTags(labels, vectors[remoteId % VECTORS]!.present, random),
        );
        const pipelineBooru = await seed('pipeline');
        const sequentialBooru = await seed('sequential');
        // Counts the writer's transactions, to show how far it merged inference batches.
        let writes = 0;
        const tagging = Object.create(repos.tagging) as typeof repos.tagging;
        tagging.storeResults = (input) => {
          writes++;
          return repos.tagging.storeResults(input);
        };
        const t0 = performance.now();
        const piped = await tagPendingPosts(
          {
            booru: instantBooru(),
            posts: repos.posts,
            tagging,
            tagger: instantTagger(labels, vectors),
            logger,
          },
          {
            booruId: pipelineBooru,
            modelId,
            context,
            owner: 'bench-pipeline',
            batchSize,
            leaseMs: 300_000,
            maxAttempts: 5,
            maxMediaBytes: 1 << 20,
            timeoutMs: 10_000,
            scoreFloor: config.scoreFloor,
            topK: config.topK,
            maxBatchWaitMs: 5,
          },
        );
        const pipelineMs = performance.now() - t0;
        if (piped.tagged !== posts) throw new Error(`db stage: pipeline tagged ${piped.tagged} of ${posts} posts`);
        const sequential = await sequentialPass(repos, modelId, context, vectors, config, sequentialBooru, batchSize);
        const result: DbStageResult = {
          posts: piped.tagged,
          batchSize,
          labels: labels.length,
          postsPerSecond: round((piped.tagged * 1000) / pipelineMs),
          postsPerWrite: round(piped.tagged / Math.max(writes, 1)),
          suggestionsPerPost: round(piped.suggestions / Math.max(piped.tagged, 1)),
          sequential,
        };
        log(
          `db stage, batch ${batchSize}: ${result.postsPerSecond} posts/s through the pipeline ` +
            `(${result.postsPerWrite} posts/write), ` +
            `${sequential.postsPerSecond} one step at a time (${result.suggestionsPerPost} suggestions/post)`,
        );
        results.push(result);
      }
      return results;
    } finally {
      await db.close();
    }
  });
}

type Repositories = Awaited<ReturnType<typeof openRepositories>>['repos'];

/** Claims, diffs and writes the booru's posts one batch at a time, timing each step. */
async function sequentialPass(
  repos: Repositories,
  modelId: number,
  context: DiffContext,
  vectors: readonly { scores: Float32Array }[],
  config: ReturnType<typeof loadConfig>,
  booruId: number,
  batchSize: number,
): Promise<DbStageResult['sequential']> {
  const time = { claim: 0, diff: 0, store: 0 };
  let done = 0;
  let batches = 0;
  const t0 = performance.now();
  for (;;) {
    let t = performance.now();
    const claimed = await repos.posts.claimBatch({
      booruId,
      owner: 'bench',
      limit: batchSize,
      leaseMs: 300_000,
      maxAttempts: 1_000,
    });
    time.claim += performance.now() - t;
    if (claimed.length === 0) break;
    t = performance.now();
    const batch: TaggingResult[] = claimed.map((post) => {
      const { scores } = vectors[post.remoteId % vectors.length]!;
      const compact = compactScores(scores, context, post.tags, config.scoreFloor, config.topK);
      return {
        syncGeneration: 0,
        postId: post.id,
        tagsVersion: post.tagsVersion,
        labelIdx: compact.labelIdx,
        scores: compact.scores,
        floor: config.scoreFloor,
        drafts: diffPost(context, post, scores, 0),
      };
    });
    time.diff += performance.now() - t;
    t = performance.now();
    const stored = await repos.tagging.storeResults({
      modelId,
      owner: 'bench',
      results: batch,
      rejectMargin: context.policy.rejectMargin,
    });
    time.store += performance.now() - t;
    done += stored.tagged;
    batches++;
  }
  const ms = performance.now() - t0;
  return {
    postsPerSecond: round((done * 1000) / ms),
    msPerBatch: {
      claim: round(time.claim / batches),
      diff: round(time.diff / batches),
      store: round(time.store / batches),
    },
  };
}
