/**
 * Gathers the readiness facts (database, migrations, workers, tag sync) and judges them with the core rules. The same
 * function answers `/readyz` and `booru-tagger status`, so both always agree.
 */
import type { Config } from '../config/config.js';
import { judgeReadiness, type ReadinessFacts, type ReadinessReport } from '../core/readiness.js';
import type { ReadinessRepository } from '../db/readiness.repository.js';
import { coerceError } from '../shared/errors.js';

/** What this process itself knows: the model it loaded and when the booru last answered it. */
export interface LocalReadiness {
  model(): { name: string; provider: string } | null;
  booruOkAt(): Date | null;
}

/** `repo` null: the database could not even be opened (`openError` says why). */
export async function checkReadiness(
  repo: ReadinessRepository | null,
  config: Pick<Config, 'readyTimeoutMs' | 'syncMaxAgeHours' | 'readyBooruAgeS'>,
  local: LocalReadiness | null = null,
  openError = 'the database could not be opened',
): Promise<ReadinessReport> {
  const now = new Date();
  const facts: ReadinessFacts = {
    now,
    databaseError: repo ? null : openError,
    migrations: null,
    localModel: local?.model() ?? null,
    workers: null,
    localBooruOkAt: local?.booruOkAt() ?? null,
    tagSyncs: null,
  };
  if (repo) {
    try {
      await repo.ping(config.readyTimeoutMs);
      facts.migrations = await repo.migrationState();
    } catch (error) {
      facts.databaseError = `unreachable: ${coerceError(error).message.split('\n')[0]}`;
    }
    if (facts.databaseError === null) {
      // On a database behind its migrations these may fail (a table not there yet): those checks then say unknown.
      const [workers, tagSyncs] = await Promise.allSettled([repo.liveWorkers(now), repo.lastTagSyncs()]);
      facts.workers = workers.status === 'fulfilled' ? workers.value : null;
      facts.tagSyncs = tagSyncs.status === 'fulfilled' ? tagSyncs.value : null;
    }
  }
  return judgeReadiness(facts, { syncMaxAgeHours: config.syncMaxAgeHours, booruMaxAgeS: config.readyBooruAgeS });
}

export function formatReadiness(report: ReadinessReport): string {
  return [
    `ready        ${report.ready ? 'yes' : 'NO'}`,
    ...report.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(11)} ${c.detail}`),
  ].join('\n');
}
