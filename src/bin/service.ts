/**
 * The pieces every long-running or one-shot command shares: the booru client, the tagger, the booru and model rows,
 * and the options of the tag pipeline, all from the config. `serve`, `worker`, `run --once` and `demo` use exactly
 * this code, so they behave alike.
 */
import type { BooruClient } from '../booru/booru-client.js';
import type { BooruRequestEvent } from '../booru/http.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../shared/logger.js';
import type { Tagger } from '../tagger/tagger.js';
import { modelInputOf } from '../db/model.repository.js';
import { judgeVocabulary, type VocabularyFreshness } from '../core/vocabulary-freshness.js';
import type { DiffPolicy } from '../core/tag-diff.js';
import { type DiffContext, resolveDiffContext } from '../worker/diff-context.js';
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
  type ServiceRepositories,
  workerId,
} from './context.js';
import { InferenceBatcher } from '../tagger/inference-batcher.js';
import { checkEnsembleCombination, parseEnsembleCombination } from '../core/ensemble.js';
import { EnsembleTagger } from '../tagger/ensemble-tagger.js';
import type { EnsembleMembers } from '../worker/ensemble-votes.js';

/** Window in which concurrent requests join one model run, ms: short, since an API caller waits on it. */
export const EVALUATE_BATCH_WINDOW_MS = 5;

export interface Service {
  booru: BooruClient;
  tagger: Tagger;
  /** The rating model run beside the tagger, when one is configured. */
  ratingModel: RatingModel | null;
  booruId: number;
  modelId: number;
  /** Several models voting (TAGGER_EXTRA_MODEL_DIRS), or null for MODEL_DIR's model alone. */
  ensemble: EnsembleMembers | null;
  baseUrl: string;
  /** This process's lease owner id (host:pid). */
  owner: string;
  /** When the booru's API last answered this process (any status below 500), or null. */
  booruOkAt(): Date | null;
  /** How the device batch was decided (measured, cached, configured, graph). */
  batch: BatchDecision | null;
  /** onnxruntime intra-op threads and parallel decodes in use. */
  threads: { inference: number; decode: number };
  /** The diff policy before learned thresholds: the settings, the model's manifest, the thresholds file (re-read). */
  diffPolicy(): DiffPolicy;
  /**
   * The diff context from the tag facts stored now, the policy with the learned thresholds in force, and the given
   * vocabulary freshness (default: the latest tag sync's, judged now; a stale one makes a context that diffs nothing,
   * logged once per change).
   */
  diffContext(vocabulary?: VocabularyFreshness): Promise<DiffContext>;
  /** The options of the tag pipeline without a diff context (`run --once` builds its own after its tag sync). */
  pipelineOptions(extra?: Partial<TagOptions>): Omit<TagOptions, 'context'>;
  /** The options of the tag pipeline with {@link diffContext}. */
  tagOptions(extra?: Partial<TagOptions>): Promise<TagOptions>;
  close(): Promise<void>;
}

export async function openService(
  config: Config,
  logger: Logger,
  repos: ServiceRepositories,
  baseUrl: string,
  hooks: {
    onBooruRequest?: (event: BooruRequestEvent) => void;
    /**
     * Called once the booru's row exists and the model is open, before its batch is measured, to start work that
     * needs the booru and the model's input size (which media variant to fetch) but not its runs: `run --once`'s tag
     * sync and crawl, during the measurement. A model that fails to open is reported before this is called. (Several
     * voting models: once all are open; nothing overlaps their measurements.)
     */
    onModelOpen?: (early: { booruId: number; client: BooruClient; inputSize: number }) => void;
  } = {},
): Promise<Service> {
  let booruOkAt: Date | null = null;
  const { client, http } = createBooruClient(config, logger, baseUrl, (event) => {
    if (event.target === 'api' && event.status !== 'error' && event.status < 500) booruOkAt = new Date();
    hooks.onBooruRequest?.(event);
  });
  let tagger: Tagger | null = null;
  let rater: Tagger | null = null;
  const extras: Tagger[] = [];
  let batch: BatchDecision | null = null;
  let threads = 0;
  try {
    const booru = await repos.boorus.ensure({
      name: new URL(baseUrl).host,
      kind: (await readyBooru(client)).kind,
      baseUrl,
    });
    const extraDirs = config.extraModelDirs ?? [];
    // The worker and /evaluate share one session: requests from both within a few ms join one model run.
    const inner = await loadTagger(config, logger, undefined, (opened) => {
      if (extraDirs.length === 0) hooks.onModelOpen?.({ booruId: booru.id, client, inputSize: opened.inputSize });
    });
    batch = inner.batchDecision;
    threads = inner.threads;
    // A run starts as soon as a device batch is waiting: the worker hands over exactly that many, so it never waits.
    tagger = new InferenceBatcher(inner, { maxBatch: inner.batchLimit, windowMs: EVALUATE_BATCH_WINDOW_MS });
    if (extraDirs.length > 0) {
      const combination = parseEnsembleCombination(config.ensemble);
      const problem = checkEnsembleCombination(combination, extraDirs.length + 1);
      if (problem) throw new ConfigError([`TAGGER_ENSEMBLE=${config.ensemble}: ${problem}`]);
      for (const dir of extraDirs) extras.push(await loadTagger(config, logger, resolve(dir)));
      const ensemble = new EnsembleTagger([tagger, ...extras], combination);
      logger.info(
        {
          combination: config.ensemble,
          models: ensemble.memberNames,
          labels: ensemble.labels.length,
          droppedLabels: ensemble.alignment.dropped,
        },
        'several tag models vote (labels not every model has are left out)',
      );
      tagger = ensemble;
      hooks.onModelOpen?.({ booruId: booru.id, client, inputSize: ensemble.inputSize });
    }
    if (config.ratingModelDir) {
      rater = await loadTagger(config, logger, resolve(config.ratingModelDir));
      if (!isContentClassifier(rater.labels)) {
        throw new ConfigError([
          `TAGGER_RATING_MODEL_DIR=${config.ratingModelDir}: its classes (${rater.labels.map((l) => l.name).join(', ')}) are not a content classifier this version understands (drawing, hentai, neutral, porn, sexy)`,
        ]);
      }
    }
    const modelId = await repos.models.ensure(modelInputOf(tagger.model, 'tags'));
    let ensemble: EnsembleMembers | null = null;
    if (tagger instanceof EnsembleTagger) {
      const voting = tagger;
      const modelIds: number[] = [];
      for (const member of voting.members) {
        modelIds.push(await repos.models.ensure(modelInputOf(member.model, 'tags')));
      }
      ensemble = {
        combination: voting.combination,
        modelIds,
        names: voting.memberNames,
        memberIndex: voting.alignment.memberIndex,
        memberScoresOf: (combined) => voting.memberScoresOf(combined),
      };
    }
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
      const ratingModelId = await repos.models.ensure(modelInputOf(rater.model, 'rating'));
      await repos.boorus.setActiveModel(booru.id, ratingModelId, 'rating');
      ratingModel = {
        tagger: rater,
        modelId: ratingModelId,
        policy: {
          explicit: config.ratingExplicit,
          sensitive: config.ratingSensitive,
          safe: config.ratingSafe ?? null,
          ...(client.capabilities.ratingScale ? { ratingScale: client.capabilities.ratingScale } : {}),
        },
      };
    }
    const loaded = tagger;
    const loadedRater = rater;
    const decodeConcurrency = decodeConcurrencyOf(config, { provider: loaded.provider, threads });
    const owner = workerId();
    // Said once in the log when diffs start waiting, and once when they resume, not at every context rebuild.
    let lastWait: string | null = null;
    const vocabularyNow = async (): Promise<VocabularyFreshness> => {
      const vocabulary = judgeVocabulary(
        await repos.tags.latestSync(booru.id),
        new Date(),
        config.syncMaxAgeHours * 3_600_000,
      );
      const wait = vocabulary.fresh ? null : vocabulary.reason;
      if (wait !== null && wait !== lastWait) {
        logger.warn(
          { booruId: booru.id, reason: wait },
          'tag vocabulary stale: posts are scored, their suggestions wait',
        );
      }
      if (wait === null && lastWait !== null)
        logger.info({ booruId: booru.id, generation: vocabulary.generation }, 'tag sync fresh again: diffing resumes');
      lastWait = wait;
      return vocabulary;
    };
    const diffPolicy = () => policyOf(config, loaded.model, client);
    const diffContext = async (vocabulary?: VocabularyFreshness): Promise<DiffContext> =>
      resolveDiffContext(repos, {
        booruId: booru.id,
        labels: loaded.labels,
        policy: diffPolicy(),
        vocabulary: vocabulary ?? (await vocabularyNow()),
      });
    const pipelineOptions = (extra: Partial<TagOptions> = {}): Omit<TagOptions, 'context'> => ({
      booruId: booru.id,
      modelId,
      ensemble,
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
    });
    return {
      booru: client,
      tagger: loaded,
      ratingModel,
      booruId: booru.id,
      modelId,
      ensemble,
      baseUrl,
      owner,
      booruOkAt: () => booruOkAt,
      batch,
      threads: { inference: threads, decode: decodeConcurrency },
      diffPolicy,
      diffContext,
      pipelineOptions,
      async tagOptions(extra = {}) {
        return { ...pipelineOptions(), context: await diffContext(), ...extra };
      },
      async close() {
        await loaded.close();
        await loadedRater?.close();
        await http.close();
      },
    };
  } catch (error) {
    // An ensemble closes its members; extras loaded before it was built are closed one by one.
    if (tagger instanceof EnsembleTagger) await tagger.close();
    else for (const extra of [tagger, ...extras]) await extra?.close();
    await rater?.close();
    await http.close();
    throw error;
  }
}
