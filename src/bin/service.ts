/**
 * The pieces every long-running or one-shot command shares: the booru client, the tagger, the booru and model rows,
 * and the options of the tag pipeline, all from the config. `serve`, `worker`, `run --once` and `demo` use exactly
 * this code, so they behave alike.
 */
import type { BooruClient } from '../booru/booru-client.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../shared/logger.js';
import type { Tagger } from '../tagger/tagger.js';
import { buildDiffContext } from '../worker/diff-context.js';
import type { RatingModel, TagOptions } from '../worker/tag-posts.job.js';
import { isContentClassifier } from '../core/rating-classes.js';
import { ConfigError } from '../shared/errors.js';
import { resolve } from 'node:path';
import { readyBooru } from '../booru/booru-factory.js';
import type { BatchDecision } from '../tagger/batch-choice.js';
import {
  createBooruClient,
  decodeConcurrencyOf,
  loadTagger,
  policyOf,
  type Repositories,
  workerId,
} from './context.js';
import { InferenceBatcher } from '../tagger/inference-batcher.js';
import { EVALUATE_BATCH_WINDOW_MS } from './evaluate-deps.js';

export interface Service {
  booru: BooruClient;
  tagger: Tagger;
  /** The rating model run beside the tagger, when one is configured. */
  ratingModel: RatingModel | null;
  booruId: number;
  modelId: number;
  baseUrl: string;
  /** This process's lease owner id (host:pid). */
  owner: string;
  /** How the device batch was decided (measured, cached, configured, graph). */
  batch: BatchDecision | null;
  /** onnxruntime intra-op threads and parallel decodes in use. */
  threads: { inference: number; decode: number };
  /** The options of the tag pipeline, with the diff context built from the tag facts stored now. */
  tagOptions(extra?: Partial<TagOptions>): Promise<TagOptions>;
  close(): Promise<void>;
}

export async function openService(
  config: Config,
  logger: Logger,
  repos: Repositories,
  baseUrl: string,
): Promise<Service> {
  const { client, http } = createBooruClient(config, logger, baseUrl);
  let tagger: Tagger | null = null;
  let rater: Tagger | null = null;
  let batch: BatchDecision | null = null;
  let threads = 0;
  try {
    // The worker and /evaluate share one session: requests from both within a few ms join one model run.
    const inner = await loadTagger(config, logger);
    batch = inner.batchDecision;
    threads = inner.threads;
    // A run starts as soon as a device batch is waiting: the worker hands over exactly that many, so it never waits.
    tagger = new InferenceBatcher(inner, { maxBatch: inner.batchLimit, windowMs: EVALUATE_BATCH_WINDOW_MS });
    if (config.ratingModelDir) {
      rater = await loadTagger(config, logger, resolve(config.ratingModelDir));
      if (!isContentClassifier(rater.labels)) {
        throw new ConfigError([
          `TAGGER_RATING_MODEL_DIR=${config.ratingModelDir}: its classes (${rater.labels.map((l) => l.name).join(', ')}) are not a content classifier this version understands (drawing, hentai, neutral, porn, sexy)`,
        ]);
      }
    }
    const booru = await repos.boorus.ensure({
      name: new URL(baseUrl).host,
      kind: (await readyBooru(client)).kind,
      baseUrl,
    });
    const model = tagger.model;
    const modelId = await repos.models.ensure({
      name: model.name,
      version: model.version,
      sha256: model.sha256,
      family: model.family,
      purpose: 'tags',
      labels: [...model.labels],
      manifest: { ...model.recipe },
    });
    const previous = (await repos.boorus.findById(booru.id))?.activeModelId ?? null;
    if (previous !== modelId) {
      await repos.boorus.setActiveModel(booru.id, modelId);
      if (previous !== null) {
        // A new model: re-score what the old one scored, in the background, behind new posts.
        const queued = await repos.posts.queueRescore(booru.id, modelId);
        logger.info({ previous, modelId, queued }, 'model changed: posts queued to be scored again');
      }
    }
    let ratingModel: RatingModel | null = null;
    if (rater) {
      const ratingModelId = await repos.models.ensure({
        name: rater.model.name,
        version: rater.model.version,
        sha256: rater.model.sha256,
        family: rater.model.family,
        purpose: 'rating',
        labels: [...rater.model.labels],
        manifest: { ...rater.model.recipe },
      });
      await repos.boorus.setActiveModel(booru.id, ratingModelId, 'rating');
      ratingModel = {
        tagger: rater,
        modelId: ratingModelId,
        policy: { explicit: config.ratingExplicit, sensitive: config.ratingSensitive, safe: config.ratingSafe ?? null },
      };
    }
    const loaded = tagger;
    const loadedRater = rater;
    const decodeConcurrency = decodeConcurrencyOf(config, { provider: loaded.provider, threads });
    const owner = workerId();
    return {
      booru: client,
      tagger: loaded,
      ratingModel,
      booruId: booru.id,
      modelId,
      baseUrl,
      owner,
      batch,
      threads: { inference: threads, decode: decodeConcurrency },
      async tagOptions(extra = {}) {
        const { facts, implications } = await repos.tags.loadFacts(booru.id);
        return {
          booruId: booru.id,
          modelId,
          context: buildDiffContext(loaded.labels, facts, implications, policyOf(config, loaded.model)),
          owner,
          batchSize: config.batchSize,
          leaseMs: config.leaseMs,
          maxAttempts: config.maxAttempts,
          maxMediaBytes: config.maxMediaBytes,
          timeoutMs: config.httpTimeoutMs,
          scoreFloor: config.scoreFloor,
          topK: config.topK,
          downloadConcurrency: config.downloadConcurrency,
          decodeConcurrency,
          maxBatchWaitMs: config.maxBatchWaitMs,
          drainTimeoutMs: config.drainTimeoutMs,
          ...extra,
        };
      },
      async close() {
        await loaded.close();
        await loadedRater?.close();
        await http.close();
      },
    };
  } catch (error) {
    await tagger?.close();
    await rater?.close();
    await http.close();
    throw error;
  }
}
