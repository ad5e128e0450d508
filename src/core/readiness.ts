/**
 * Readiness (`/readyz`, `booru-tagger status`): whether this service can do its work now, judged from facts gathered
 * elsewhere. Every check is named in the answer, with a sentence an operator can act on.
 */

type ReadinessCheckName = 'database' | 'migrations' | 'model' | 'tag-sync' | 'booru';

interface ReadinessCheck {
  name: ReadinessCheckName;
  ok: boolean;
  detail: string;
}

export interface ReadinessReport {
  ready: boolean;
  checkedAt: string;
  checks: ReadinessCheck[];
}

/** What was found; `null` where the database could not be asked. */
export interface ReadinessFacts {
  now: Date;
  /** null when the database answered, else why not. */
  databaseError: string | null;
  migrations: { pending: string[]; unknown: string[] } | null;
  /** The model this process itself has loaded (a worker or `serve`), if any. */
  localModel: { name: string; provider: string } | null;
  /** Workers that reported within the staleness window. */
  workers: { id: string; provider: string; model: string; booruOkAt: Date | null }[] | null;
  /** When the booru's API last answered this process. */
  localBooruOkAt: Date | null;
  /** The boorus being tagged and when their tag list was last completely synced. */
  tagSyncs: { booru: string; syncedAt: Date | null; error?: string | null }[] | null;
}

export interface ReadinessLimits {
  /** Oldest acceptable tag sync in hours; 0 = no limit. */
  syncMaxAgeHours: number;
  /** Longest acceptable silence from the booru, in seconds. */
  booruMaxAgeS: number;
}

const UNKNOWN = 'unknown: the database could not be read';

export function judgeReadiness(facts: ReadinessFacts, limits: ReadinessLimits): ReadinessReport {
  const checks: ReadinessCheck[] = [
    facts.databaseError === null
      ? { name: 'database', ok: true, detail: 'answers' }
      : { name: 'database', ok: false, detail: facts.databaseError },
    migrationsCheck(facts.migrations),
    modelCheck(facts),
    tagSyncCheck(facts, limits.syncMaxAgeHours),
    booruCheck(facts, limits.booruMaxAgeS),
  ];
  return { ready: checks.every((c) => c.ok), checkedAt: facts.now.toISOString(), checks };
}

function migrationsCheck(state: ReadinessFacts['migrations']): ReadinessCheck {
  if (!state) return { name: 'migrations', ok: false, detail: UNKNOWN };
  if (state.pending.length > 0)
    return {
      name: 'migrations',
      ok: false,
      detail: `pending: ${state.pending.join(', ')} (run \`booru-tagger db migrate\`)`,
    };
  if (state.unknown.length > 0)
    return {
      name: 'migrations',
      ok: false,
      detail: `the database has migrations this version does not know (${state.unknown.join(', ')}): upgrade this process`,
    };
  return { name: 'migrations', ok: true, detail: 'current' };
}

function modelCheck(facts: ReadinessFacts): ReadinessCheck {
  if (facts.localModel)
    return {
      name: 'model',
      ok: true,
      detail: `${facts.localModel.name} loaded on ${facts.localModel.provider} (this process)`,
    };
  if (!facts.workers) return { name: 'model', ok: false, detail: UNKNOWN };
  if (facts.workers.length === 0)
    return { name: 'model', ok: false, detail: 'no worker with a loaded model reported in the last 2 minutes' };
  return {
    name: 'model',
    ok: true,
    detail: facts.workers.map((w) => `${w.model} on ${w.provider} (${w.id})`).join('; '),
  };
}

function tagSyncCheck(facts: ReadinessFacts, maxAgeHours: number): ReadinessCheck {
  if (!facts.tagSyncs) return { name: 'tag-sync', ok: false, detail: UNKNOWN };
  if (facts.tagSyncs.length === 0) return { name: 'tag-sync', ok: false, detail: 'no booru is being tagged yet' };
  const problems: string[] = [];
  const fine: string[] = [];
  for (const sync of facts.tagSyncs) {
    if (!sync.syncedAt) {
      problems.push(`${sync.booru}: tags never synced (run \`booru-tagger sync-tags\`)`);
      continue;
    }
    if (sync.error) {
      problems.push(`${sync.booru}: the latest tag sync failed (${sync.error}); suggestions wait`);
      continue;
    }
    const hours = (facts.now.getTime() - sync.syncedAt.getTime()) / 3_600_000;
    const age = `${sync.booru}: synced ${hours.toFixed(1)} h ago`;
    if (maxAgeHours > 0 && hours > maxAgeHours) problems.push(`${age}, older than ${maxAgeHours} h`);
    else fine.push(age);
  }
  return problems.length > 0
    ? { name: 'tag-sync', ok: false, detail: problems.join('; ') }
    : { name: 'tag-sync', ok: true, detail: fine.join('; ') };
}

function booruCheck(facts: ReadinessFacts, maxAgeS: number): ReadinessCheck {
  const times = [facts.localBooruOkAt, ...(facts.workers ?? []).map((w) => w.booruOkAt)].filter(
    (t): t is Date => t !== null,
  );
  if (times.length === 0) {
    return {
      name: 'booru',
      ok: false,
      detail: facts.workers ? 'no worker has had an answer from the booru yet' : UNKNOWN,
    };
  }
  const latest = Math.max(...times.map((t) => t.getTime()));
  const seconds = Math.max(0, Math.round((facts.now.getTime() - latest) / 1000));
  return seconds > maxAgeS
    ? { name: 'booru', ok: false, detail: `last answer ${seconds} s ago, longer than ${maxAgeS} s` }
    : { name: 'booru', ok: true, detail: `answered ${seconds} s ago` };
}
