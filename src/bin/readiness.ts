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
      const [migrations, workers, tagSyncs] = await Promise.all([
        repo.migrationState(),
        repo.liveWorkers(now),
        repo.lastTagSyncs(),
      ]);
      Object.assign(facts, { migrations, workers, tagSyncs });
    } catch (error) {
      facts.databaseError = `unreachable: ${coerceError(error).message.split('\n')[0]}`;
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
