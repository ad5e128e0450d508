/**
 * Wiring for /evaluate and the upload page: the model (the worker's own batching tagger when this process runs one,
 * else one loaded on the first request and shared by every later one), the limits from the config, URL fetches
 * through the booru client's media path (its host allowlist), the md5 lookup of known posts, and their diff: what the
 * review queue would suggest, through the same diff context (`resolveDiffContext`) and policy (`policyOf`).
 */
import type { BooruClient } from '../booru/booru-client.js';
import type { BooruHttp } from '../booru/http.js';
import type { Config } from '../config/config.js';
import type { DiffPolicy } from '../core/tag-diff.js';
import { TagCategory, type ModelLabel, type ScoreVector } from '../core/types.js';
import { judgeVocabulary } from '../core/vocabulary-freshness.js';
import type { EvaluateDeps, KnownPost, KnownPostDiff } from '../dashboard/evaluate.service.js';
import { PostRepository } from '../db/post.repository.js';
import type { PrismaClient } from '../db/generated/client.js';
import { TagRepository } from '../db/tag.repository.js';
import { ThresholdRepository } from '../db/threshold.repository.js';
import type { Logger } from '../shared/logger.js';
import { InferenceBatcher } from '../tagger/inference-batcher.js';
import type { Tagger } from '../tagger/tagger.js';
import { diffPost, type LearnedThresholdSource, resolveDiffContext } from '../worker/diff-context.js';
import { createBooruClient, loadTagger, policyOf } from './context.js';
import { EVALUATE_BATCH_WINDOW_MS, type Service } from './service.js';

export interface EvaluateWiring {
  deps: EvaluateDeps;
  /** Frees what the wiring opened itself (a model loaded on demand, an HTTP pool); the service's tagger is its own. */
  close(): Promise<void>;
}

export function evaluateDepsOf(
  config: Config,
  logger: Logger,
  prisma: PrismaClient,
  service: Service | null,
): EvaluateWiring {
  let loading: Promise<Tagger> | null = null;
  let http: BooruHttp | null = null;
  const model = (): Promise<Tagger> => {
    if (service) return Promise.resolve(service.tagger);
    loading ??= loadTagger(config, logger).then(
      (tagger) => new InferenceBatcher(tagger, { maxBatch: config.batchSize, windowMs: EVALUATE_BATCH_WINDOW_MS }),
    );
    // A failed load is retried by the next request rather than cached.
    loading.catch(() => {
      loading = null;
    });
    return loading;
  };
  let booru: BooruClient | null = service?.booru ?? null;
  if (!booru && config.booruUrl) {
    const created = createBooruClient(config, logger);
    booru = created.client;
    http = created.http;
  }
  const posts = new PostRepository(prisma);
  const fetchFrom = booru;
  const diffKnownPost = knownPostDiffer(
    {
      tags: new TagRepository(prisma),
      thresholds: new ThresholdRepository(prisma, {
        enabledByDefault: config.learnedThresholds,
        target: config.learnedTarget,
        minSamples: config.learnedMinSamples,
      }),
    },
    {
      labels: async () => (await model()).labels,
      policy: async () => policyOf(config, (await model()).model, fetchFrom ?? undefined),
      syncMaxAgeMs: config.syncMaxAgeHours * 3_600_000,
      ratingByModel: service ? service.ratingModel !== null : config.ratingModelDir !== undefined,
    },
  );
  return {
    deps: {
      model,
      open: config.evaluateOpen,
      maxFileBytes: config.evaluateMaxFileBytes,
      maxFiles: config.evaluateMaxFiles,
      ratePerMinute: config.evaluateRate,
      bodyTimeoutMs: config.evaluateBodyTimeoutMs,
      queueTimeoutMs: config.evaluateQueueTimeoutMs,
      defaultThreshold: config.evaluateThreshold,
      ...(fetchFrom
        ? {
            fetchImage: (url: string) =>
              fetchFrom.downloadMedia(url, {
                maxBytes: config.evaluateMaxFileBytes,
                timeoutMs: config.httpTimeoutMs,
                untrusted: true,
              }),
          }
        : {}),
      findPostByMd5: (md5: string) => posts.findByMd5(md5),
      diffKnownPost,
    },
    async close() {
      const loaded = loading;
      loading = null;
      if (loaded) await (await loaded.catch(() => null))?.close();
      await http?.close();
    },
  };
}

/**
 * The upload page's diff of a known post: the review queue's own suggestions for these scores (the tag pipeline
 * diffs with floor 0, as here), with the booru's aliases, implications and deprecations, the policy with learned
 * thresholds laid over it, and the tag sync's freshness (a stale one holds the queue's suggestions back).
 */
export function knownPostDiffer(
  sources: { tags: Pick<TagRepository, 'loadFacts' | 'latestSync'>; thresholds?: LearnedThresholdSource },
  options: {
    labels: () => Promise<readonly ModelLabel[]>;
    policy: () => Promise<DiffPolicy>;
    syncMaxAgeMs: number;
    /** A rating model speaks for the rating in the queue: the tagger's rating suggestion is left out. */
    ratingByModel: boolean;
  },
): (post: KnownPost, scores: ScoreVector) => Promise<KnownPostDiff> {
  return async (post, scores) => {
    const vocabulary = judgeVocabulary(await sources.tags.latestSync(post.booruId), new Date(), options.syncMaxAgeMs);
    const context = await resolveDiffContext(sources, {
      booruId: post.booruId,
      labels: await options.labels(),
      policy: await options.policy(),
      vocabulary,
    });
    const drafts = diffPost(context, post, scores, 0).filter((d) => !(options.ratingByModel && d.action === 'rating'));
    // The post's tags the model agrees with: those it would add to a post without them, by the same thresholds.
    const current = new Set(post.tags);
    const agree = diffPost(context, { tags: [], rating: null }, scores, 0).filter(
      (d) => d.action === 'add' && current.has(d.tag),
    );
    const { policy } = context;
    return {
      drafts,
      agree,
      waitReason: context.waitReason,
      thresholds: {
        general: policy.addThresholds.get(TagCategory.general) ?? null,
        character: policy.addThresholds.get(TagCategory.character) ?? null,
        remove: policy.removeThreshold,
      },
      ratingByModel: options.ratingByModel,
    };
  };
}
