/**
 * What each CLI command does, wired from the config. `cli.ts` parses arguments and maps errors to exit codes.
 */
import type { Config } from '../config/config.js';
import type { Logger } from '../shared/logger.js';
import { AppError } from '../shared/errors.js';
import { applyApproved, type ApplySummary } from '../worker/apply-approved.job.js';
import { type CyclePrelude, runOnce, syncAndCrawl } from '../worker/run-once.js';
import type { TimingReport } from '../worker/stage-timings.js';
import { readyBooru } from '../booru/booru-factory.js';
import {
  createBooruClient,
  openRepositories,
  type Repositories,
  type ServiceRepositories,
  tagBudgetOf,
} from './context.js';
import { openService, type Service } from './service.js';

export interface CycleSummary {
  booru: string;
  model: { name: string; version: string; provider: string };
  /** The rating model run beside the tagger, if any. */
  ratingModel: { name: string; version: string } | null;
  posts: { seen: number; inserted: number; updated: number; skipped: number };
  tagged: number;
  failed: number;
  retried: number;
  suggestions: { created: number; superseded: number; pending: number };
  /**
   * The tag-sync generation the diff used, or why suggestions wait (a failed or too old sync): then posts were scored
   * but not diffed, and `run --once` exits 1.
   */
  vocabulary: { fresh: boolean; generation: number | null; waitReason: string | null };
  seconds: number;
  /** Images per model run and how it was decided; inference threads and parallel decodes. */
  inference: {
    batch: number | null;
    batchSource: string | null;
    batchChoice: string | null;
    threads: number;
    decodeConcurrency: number;
  };
  /** Busy ms per image per stage, process start → first post tagged (ms), steady posts/s (first → last tagged). */
  timings: TimingReport;
}

/** One crawl → tag → suggest cycle against `baseUrl`. */
export async function runCycle(
  config: Config,
  logger: Logger,
  repos: ServiceRepositories & Pick<Repositories, 'cursors' | 'tagging' | 'suggestions'>,
  baseUrl: string,
  hooks: { signal?: AbortSignal; onTagStart?: (total: number) => void; onBatch?: (tagged: number) => void } = {},
): Promise<CycleSummary> {
  // The tag sync and the crawl need the booru and the model's input size but not its runs: they run while its batch
  // is measured (on a CPU, most of a second of a fresh start), and the tagging starts as soon as both are done.
  let prelude: Promise<CyclePrelude> | null = null;
  let service: Service;
  try {
    service = await openService(config, logger, repos, baseUrl, {
      onModelOpen: ({ booruId, client, inputSize }) => {
        prelude = syncAndCrawl(
          { booru: client, posts: repos.posts, cursors: repos.cursors, tags: repos.tags, logger },
          {
            booruId,
            maxPosts: config.maxPosts,
            syncMaxAgeMs: config.syncMaxAgeHours * 3_600_000,
            minMediaSize: inputSize,
          },
        );
        // Handled here so that a failure before it is awaited (the batch still measured) is not an unhandled
        // rejection; runOnce (or the catch below) still receives it.
        prelude.catch(() => {});
      },
    });
  } catch (error) {
    // Nothing may still be writing when the caller closes the database: the sync and crawl finish (or fail) first.
    await (prelude as Promise<CyclePrelude> | null)?.catch(() => {});
    throw error;
  }
  try {
    const { tagger } = service;
    const model = tagger.model;
    // The diff context is built once, after the sync (learned thresholds from repos.thresholds).
    const options = service.pipelineOptions(hooks.signal ? { signal: hooks.signal } : {});
    const result = await runOnce(
      {
        booru: service.booru,
        posts: repos.posts,
        cursors: repos.cursors,
        tagging: repos.tagging,
        tags: repos.tags,
        thresholds: repos.thresholds,
        tagger,
        ratingModel: service.ratingModel,
        logger,
      },
      {
        ...options,
        policy: service.diffPolicy(),
        maxPosts: config.maxPosts,
        syncMaxAgeMs: config.syncMaxAgeHours * 3_600_000,
        ...(hooks.onTagStart ? { onTagStart: hooks.onTagStart } : {}),
        ...(hooks.onBatch ? { onBatch: (s: { tagged: number }) => hooks.onBatch?.(s.tagged) } : {}),
      },
      prelude ?? undefined,
    );
    return {
      booru: baseUrl,
      model: { name: model.name, version: model.version, provider: tagger.provider },
      ratingModel: service.ratingModel
        ? { name: service.ratingModel.tagger.model.name, version: service.ratingModel.tagger.model.version }
        : null,
      posts: {
        seen: result.crawl.seen,
        inserted: result.crawl.inserted,
        updated: result.crawl.updated,
        skipped: result.crawl.skipped,
      },
      tagged: result.tag.tagged,
      failed: result.tag.failed,
      retried: result.tag.retried,
      suggestions: {
        created: result.tag.suggestions + result.rediff.created,
        superseded: result.tag.superseded + result.rediff.superseded,
        pending: await repos.suggestions.count({ status: 'pending' }),
      },
      vocabulary: {
        fresh: result.vocabulary.fresh,
        generation: result.vocabulary.generation,
        waitReason: result.vocabulary.fresh ? null : result.vocabulary.reason,
      },
      seconds: Math.round(result.seconds * 1000) / 1000,
      inference: {
        batch: service.batch?.batch ?? null,
        batchSource: service.batch?.source ?? null,
        batchChoice: service.batch?.text ?? null,
        threads: service.threads.inference,
        decodeConcurrency: service.threads.decode,
      },
      timings: result.timings,
    };
  } finally {
    await service.close();
  }
}

/** Writes approved suggestions back to `baseUrl`. */
export async function applyCycle(
  config: Config,
  logger: Logger,
  repos: Pick<Repositories, 'boorus' | 'posts' | 'suggestions' | 'tags' | 'tagBudgets'>,
  baseUrl: string,
): Promise<ApplySummary> {
  const { client, http } = createBooruClient(config, logger, baseUrl);
  try {
    const booru = await repos.boorus.ensure({
      name: new URL(baseUrl).host,
      kind: (await readyBooru(client)).kind,
      baseUrl,
    });
    return await applyApproved(
      {
        booru: client,
        posts: repos.posts,
        suggestions: repos.suggestions,
        tags: repos.tags,
        logger,
        budget: tagBudgetOf(config, repos, baseUrl),
      },
      { booruId: booru.id },
    );
  } finally {
    await http.close();
  }
}

export function formatCycle(summary: CycleSummary): string {
  return [
    `booru      ${summary.booru}`,
    `model      ${summary.model.name} ${summary.model.version} on ${summary.model.provider}`,
    ...(summary.ratingModel ? [`ratings    ${summary.ratingModel.name} ${summary.ratingModel.version}`] : []),
    `posts      ${summary.posts.seen} seen (${summary.posts.inserted} new, ${summary.posts.skipped} skipped)`,
    `tagged     ${summary.tagged} (${summary.failed} failed, ${summary.retried} to retry)`,
    `suggested  ${summary.suggestions.created} new, ${summary.suggestions.pending} pending in all`,
    summary.vocabulary.fresh
      ? `tag sync   generation ${summary.vocabulary.generation}`
      : `tag sync   STALE: ${summary.vocabulary.waitReason}`,
    `took       ${summary.seconds.toFixed(2)} s` +
      (summary.timings.firstPostTaggedMs === null
        ? ''
        : ` (first post tagged ${summary.timings.firstPostTaggedMs} ms after start)`),
    ...(summary.inference.batchChoice ? [`inference  ${summary.inference.batchChoice}`] : []),
  ].join('\n');
}

export function formatApply(summary: ApplySummary): string {
  return `applied ${summary.applied}, already applied ${summary.alreadyApplied}, refused ${summary.refused}, conflicted ${summary.conflicted}, failed ${summary.failed}, deferred ${summary.deferred} (over ${summary.posts} posts)`;
}

/** Opens the database for a command and always closes it. */
export async function withRepositories<T>(
  config: Config,
  logger: Logger,
  fn: (repos: Repositories) => Promise<T>,
  dataDir?: string,
): Promise<T> {
  const { db, repos } = await openRepositories(config, logger, dataDir);
  try {
    return await fn(repos);
  } finally {
    await db.close();
  }
}

/** The user a CLI decision is recorded under (`--as`); an unknown name is recorded by name only. */
export async function actorOf(
  repos: Pick<Repositories, 'users'>,
  name: string,
): Promise<{ id: number | null; name: string }> {
  if (!/^[\w.@-]{1,64}$/.test(name))
    throw new AppError('USAGE', `--as ${JSON.stringify(name)} is not a valid user name`);
  const user = await repos.users.findByName(name);
  return { id: user?.id ?? null, name };
}
