/**
 * The handlers of every scheduled job (src/worker/schedule.ts), wired once for `serve`, `worker` and `demo`, and the
 * continuous tag loop every worker process runs.
 */
import { hostname } from 'node:os';
import type { Config } from '../config/config.js';
import type { LeaderLock } from '../db/leader-lock.js';
import { coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { applyApproved } from '../worker/apply-approved.job.js';
import { crawlNewPosts } from '../worker/crawl-posts.job.js';
import { rediffChangedPosts } from '../worker/rediff-posts.job.js';
import { rescanChangedPosts } from '../worker/rescan-posts.job.js';
import { syncTags } from '../worker/sync-tags.job.js';
import { type JobHandlers, type RunningSchedule, startSchedule } from '../worker/schedule.js';
import { tagPendingPosts } from '../worker/tag-posts.job.js';
import { buildScheduledReport, learnThresholds } from './report.command.js';
import { type Repositories, tagBudgetOf } from './context.js';

/** What the scheduled jobs and the tag loop read and write. */
export type JobRepositories = Pick<
  Repositories,
  'posts' | 'cursors' | 'suggestions' | 'tags' | 'tagging' | 'reports' | 'thresholds' | 'workers' | 'tagBudgets'
>;
import type { Service } from './service.js';
import type { ProcessMetrics } from './metrics.js';

export function buildJobHandlers(
  config: Config,
  logger: Logger,
  repos: JobRepositories,
  service: Service,
  metrics: ProcessMetrics | null = null,
): JobHandlers {
  // One budget per booru account, in the database: every worker writing to the account spends from it.
  const budget = tagBudgetOf(config, repos, service.baseUrl);
  return {
    'crawl-new-posts': async () => {
      const summary = await crawlNewPosts(
        { booru: service.booru, posts: repos.posts, cursors: repos.cursors, logger },
        { booruId: service.booruId, minMediaSize: service.tagger.inputSize, maxPosts: 0 },
      );
      metrics?.crawl(summary);
      return summary;
    },
    'apply-approved': () =>
      applyApproved(
        { booru: service.booru, posts: repos.posts, suggestions: repos.suggestions, tags: repos.tags, logger, budget },
        { booruId: service.booruId },
      ),
    'rediff-changed': async () => {
      const context = await service.diffContext();
      return rediffChangedPosts(
        { tagging: repos.tagging, logger },
        {
          booruId: service.booruId,
          modelId: service.modelId,
          context,
          keepRatings: service.ratingModel !== null,
          ensemble: service.ensemble,
        },
      );
    },
    'rescan-changed': () =>
      rescanChangedPosts(
        {
          booru: service.booru,
          posts: repos.posts,
          suggestions: repos.suggestions,
          tags: repos.tags,
          cursors: repos.cursors,
          logger,
        },
        {
          booruId: service.booruId,
          minMediaSize: service.tagger.inputSize,
          windowMs: config.rescanWindowHours * 3_600_000,
        },
      ),
    'sync-tags': () =>
      syncTags(
        { booru: service.booru, tags: repos.tags, cursors: repos.cursors, logger },
        { booruId: service.booruId },
      ),
    'learn-thresholds': () => learnThresholds(repos, service.booruId),
    'build-report': () => buildScheduledReport(config, repos, logger, service.booruId),
  };
}

export interface RunningWorker {
  /** Stops the schedule and the tag loop; in-flight posts finish or are released within the drain timeout. */
  stop(): Promise<void>;
}

/**
 * How long one round of the continuous tag loop claims before it drains and starts again with a fresh diff context:
 * aliases and implications synced meanwhile, and a learned-threshold switch, take effect within this time.
 */
const CONTEXT_REFRESH_MS = 5 * 60_000;
/** While the tag vocabulary is stale (posts are scored, not diffed), rounds are this short, to resume soon. */
const STALE_CONTEXT_REFRESH_MS = 15_000;

/** Starts the leader-gated schedule and (unless `tag: false`) the continuous tag loop. */
export function startWorker(
  config: Config,
  logger: Logger,
  repos: JobRepositories,
  service: Service,
  options: { leader: LeaderLock; tag: boolean; metrics?: ProcessMetrics },
): RunningWorker {
  const metrics = options.metrics ?? null;
  const schedule: RunningSchedule = startSchedule(buildJobHandlers(config, logger, repos, service, metrics), logger, {
    isLeader: () => options.leader.ensureLeader(),
  });
  const abort = new AbortController();
  const me = { id: service.owner, host: hostname(), pid: process.pid, provider: service.tagger.provider };
  let tagged = 0;
  // The count of earlier rounds of the loop (each round restarts its own summary).
  let taggedBefore = 0;
  const report = () => repos.workers.beatWorker(me.id, tagged, service.booruOkAt()).catch(() => {});
  const beat = setInterval(report, 15_000);
  beat.unref();
  // A fresh process syncs tags (diffs wait for a fresh sync) and crawls at once instead of waiting for the first
  // ticks (only the leader does), then reports that the booru answered (readiness) without waiting for the next
  // heartbeat; its tag loop starts once that sync has ended, well or not.
  const firstSync = options.leader
    .ensureLeader()
    .then(async (leader) => {
      if (!leader) return;
      await schedule.runNow('sync-tags');
      schedule
        .runNow('crawl-new-posts')
        .then(report)
        .catch((error) => logger.warn({ err: coerceError(error) }, 'first crawl failed'));
    })
    .catch((error) => logger.warn({ err: coerceError(error) }, 'first sync or crawl failed'));
  const loop = options.tag
    ? (async () => {
        await repos.workers
          .registerWorker({
            ...me,
            model: `${service.tagger.model.name} ${service.tagger.model.version}`,
            booruOkAt: service.booruOkAt(),
          })
          .catch((error) => logger.warn({ err: coerceError(error) }, 'could not register the worker'));
        await firstSync;
        // Posts scored while the vocabulary was stale are diffed from their stored scores as soon as it is fresh
        // (at this process's first fresh round, and after every stale one), not only by the scheduled re-diff.
        let catchUp = true;
        while (!abort.signal.aborted) {
          try {
            const tagOptions = await service.tagOptions({
              follow: true,
              pollMs: config.pollMs,
              signal: abort.signal,
              maxRunMs: CONTEXT_REFRESH_MS,
              onBatch: (summary) => {
                tagged = taggedBefore + summary.tagged;
              },
            });
            // Learned thresholds, when switched on, take effect at each (re)start of this loop (in its diff context).
            if (tagOptions.context.generation === null) {
              tagOptions.maxRunMs = STALE_CONTEXT_REFRESH_MS;
              catchUp = true;
            } else if (catchUp) {
              await rediffChangedPosts(
                { tagging: repos.tagging, logger },
                {
                  booruId: service.booruId,
                  modelId: service.modelId,
                  context: tagOptions.context,
                  keepRatings: service.ratingModel !== null,
                },
              );
              catchUp = false;
            }
            await tagPendingPosts(
              {
                booru: service.booru,
                posts: repos.posts,
                tagging: repos.tagging,
                tagger: service.tagger,
                ratingModel: service.ratingModel,
                logger,
                ...(metrics ? { observer: metrics } : {}),
              },
              tagOptions,
            );
          } catch (error) {
            // The database or the booru went away: wait, then start over (claims are leases; nothing is lost).
            logger.error({ err: coerceError(error) }, 'tag loop failed; restarting in 5 s');
            await new Promise((resolve) => setTimeout(resolve, 5000).unref());
          }
          taggedBefore = tagged;
        }
      })()
    : Promise.resolve();
  return {
    async stop() {
      abort.abort();
      clearInterval(beat);
      await schedule.stop();
      await loop;
      await options.leader.release();
      if (options.tag) await repos.workers.removeWorker(me.id).catch(() => {});
    },
  };
}
