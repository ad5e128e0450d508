/**
 * `status`: readiness (the same checks as `/readyz`) and the queue facts. Opens the database without migrating it, so
 * the migrations check reports what a running service would find; exits 1 (NOT_READY) when any check fails.
 */
import type { Config } from '../config/config.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { BatchChoiceCache } from '../tagger/batch-choice.js';
import { batchChoicePath, openRepositories } from './context.js';
import { formatStatus } from './progress.js';
import { checkReadiness, formatReadiness } from './readiness.js';

export async function runStatus(
  config: Config,
  logger: Logger,
  options: { json: boolean; print: (text: string) => void },
): Promise<void> {
  let opened: Awaited<ReturnType<typeof openRepositories>> | null = null;
  let openError = '';
  try {
    opened = await openRepositories(config, logger, config.dataDir, { migrate: false });
  } catch (error) {
    openError = `unreachable: ${coerceError(error).message.split('\n')[0]}`;
  }
  try {
    const readiness = await checkReadiness(opened?.repos.readiness ?? null, config, null, openError);
    const queues = readiness.checks[0]?.ok
      ? await opened?.repos.workers.status(new Date(), { syncMaxAgeMs: config.syncMaxAgeHours * 3_600_000 })
      : undefined;
    // The device batches measured by workers sharing this data dir (model, device, threads → batch).
    const status = queues
      ? { ...queues, batchChoices: await new BatchChoiceCache(batchChoicePath(config)).read() }
      : undefined;
    if (options.json) options.print(JSON.stringify({ ...status, readiness }));
    else options.print([formatReadiness(readiness), ...(status ? [formatStatus(status)] : [])].join('\n'));
    if (!readiness.ready) {
      const failed = readiness.checks.filter((c) => !c.ok).map((c) => c.name);
      throw new AppError('NOT_READY', `not ready: ${failed.join(', ')}`);
    }
  } finally {
    await opened?.db.close();
  }
}
