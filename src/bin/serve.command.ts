/**
 * `serve`: the schedule (crawl → tag → suggest, apply) and the dashboard in one process, with graceful shutdown
 * on SIGINT/SIGTERM.
 */
import type { Config } from '../config/config.js';
import { buildDashboard } from '../dashboard/app.js';
import { ConfigError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { startSchedule } from '../worker/schedule.js';
import { applyCycle, runCycle } from './commands.js';
import { openRepositories } from './context.js';

export interface ServeOptions {
  worker: boolean;
  dashboard: boolean;
  print: (text: string) => void;
}

export async function runServe(config: Config, logger: Logger, options: ServeOptions): Promise<void> {
  if (options.worker && !config.booruUrl) {
    throw new ConfigError(['BOORU_URL (or --booru-url) is required unless --no-worker']);
  }
  const { db, repos } = await openRepositories(config, logger);
  const booruUrl = config.booruUrl;
  const schedule =
    options.worker && booruUrl
      ? startSchedule(
          {
            'crawl-and-tag': () => runCycle(config, logger, repos, booruUrl),
            'apply-approved': () => applyCycle(config, logger, repos, booruUrl),
          },
          logger,
        )
      : null;
  const web = options.dashboard ? await buildDashboard({ ...repos, logger }) : null;
  if (web) {
    const address = await web.listen({ host: config.host, port: config.port });
    options.print(`dashboard on ${address}`);
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await schedule?.stop();
  await web?.close();
  await db.close();
}
