/**
 * `serve` and `worker`: the leader-gated schedule, the continuous tag loop and the dashboard in one process (`worker`
 * is `serve --no-dashboard`). SIGINT/SIGTERM stop claiming, let in-flight posts finish within the drain timeout,
 * release the rest, and exit; a second signal exits at once (leases expire and another worker takes over).
 */
import type { Config } from '../config/config.js';
import { buildDashboard } from '../dashboard/app.js';
import { statusSourceOf } from '../dashboard/status-source.js';
import { buildMetricsServer } from '../dashboard/routes/health.routes.js';
import { MetricsRepository } from '../db/metrics.repository.js';
import { dashboardOptionsOf } from '../dashboard/options.js';
import { createLeaderLock } from '../db/leader-lock.js';
import { ConfigError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { dashboardRepositoriesOf, imageHostsOf, openRepositories } from './context.js';
import { type RunningWorker, startWorker } from './jobs.js';
import { openService, type Service } from './service.js';
import { prestartSessionThread } from '../tagger/session-thread.js';
import { type EvaluateWiring, evaluateDepsOf } from './evaluate-deps.js';
import { ProcessMetrics } from './metrics.js';
import { checkReadiness, type LocalReadiness } from './readiness.js';

export interface ServeOptions {
  worker: boolean;
  dashboard: boolean;
  print: (text: string) => void;
}

/** Resolves on the first SIGINT/SIGTERM; a second one exits the process at once. */
export function untilSignal(logger: Logger): Promise<string> {
  return new Promise((resolve) => {
    const first = (signal: string) => {
      logger.info({ signal }, 'shutting down: finishing in-flight work (signal again to exit now)');
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(signal);
    };
    process.once('SIGINT', first);
    process.once('SIGTERM', first);
  });
}

export async function runServe(config: Config, logger: Logger, options: ServeOptions): Promise<void> {
  if (options.worker && !config.booruUrl) {
    throw new ConfigError(['BOORU_URL (or --booru-url) is required unless --no-worker']);
  }
  const stopped = untilSignal(logger);
  // The model's thread starts while the database opens and migrates.
  if (options.worker) prestartSessionThread();
  const { db, repos } = await openRepositories(config, logger);
  let service: Service | null = null;
  let worker: RunningWorker | null = null;
  let evaluate: EvaluateWiring | null = null;
  let metricsServer: Awaited<ReturnType<typeof buildMetricsServer>> | null = null;
  const metrics = new ProcessMetrics({
    database: new MetricsRepository(db.prisma),
    status: () => repos.workers.status(),
  });
  try {
    if (options.worker && config.booruUrl) {
      service = await openService(config, logger, repos, config.booruUrl, {
        onBooruRequest: (event) => metrics.booruRequest(event),
      });
      worker = startWorker(config, logger, repos, service, {
        leader: createLeaderLock(config.databaseUrl, logger),
        tag: true,
        metrics,
      });
      options.print(
        `worker tagging ${config.booruUrl} with ${service.tagger.model.name} on ${service.tagger.provider}`,
      );
    }
    // /evaluate and the upload page: the worker's batching tagger, or a model loaded on the first request.
    evaluate = options.dashboard ? evaluateDepsOf(config, logger, db.prisma, service) : null;
    const running = service;
    const local: LocalReadiness | null = running
      ? {
          model: () => ({ name: running.tagger.model.name, provider: running.tagger.provider }),
          booruOkAt: () => running.booruOkAt(),
        }
      : null;
    const web = options.dashboard
      ? await buildDashboard(
          {
            ...dashboardRepositoriesOf(repos),
            statusSource: statusSourceOf(() =>
              repos.workers.status(new Date(), { syncMaxAgeMs: config.syncMaxAgeHours * 3_600_000 }),
            ),
            logger,
            ...(evaluate ? { evaluate: evaluate.deps } : {}),
            health: {
              readiness: () => checkReadiness(repos.readiness, config, local),
              metrics,
              ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
            },
          },
          { ...dashboardOptionsOf(config), imageHosts: await imageHostsOf(config, repos) },
        )
      : null;
    if (web) options.print(`dashboard on ${await web.listen({ host: config.host, port: config.port })}`);
    if (config.metricsPort !== undefined) {
      // Prometheus scrapes this listener without a token: bind it to a private address (TAGGER_METRICS_HOST).
      metricsServer = await buildMetricsServer(metrics, logger);
      const address = await metricsServer.listen({ host: config.metricsHost, port: config.metricsPort });
      options.print(`metrics on ${address}/metrics`);
    }
    await stopped;
    await worker?.stop();
    await web?.close();
  } finally {
    await metricsServer?.close();
    await evaluate?.close();
    await service?.close();
    await db.close();
  }
}
