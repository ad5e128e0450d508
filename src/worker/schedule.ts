/**
 * The whole timetable of periodic jobs, in one place. A job never overlaps itself (node-cron's `noOverlap`): a tick
 * that arrives while the previous run is still going is skipped and logged. With several processes on one database,
 * only the leader (the holder of a PostgreSQL advisory lock, see src/db/leader-lock.ts) runs the timetable; tagging
 * itself is not scheduled: every worker process claims posts continuously.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/** Job name → cron line (with seconds). */
export const SCHEDULE = {
  /** List posts newer than the cursor and queue them for tagging. */
  'crawl-new-posts': '0 * * * * *',
  /** Write approved suggestions back to the booru. */
  'apply-approved': '30 * * * * *',
  /** Diff again, from stored scores, the posts whose tags changed since they were scored. */
  'rediff-changed': '15 */5 * * * *',
  /** Re-read posts the booru changed since the last pass; close suggestions a human already settled. */
  'rescan-changed': '45 */10 * * * *',
  /** Refresh tags, aliases and implications from the booru (incrementally after the first pass). */
  'sync-tags': '0 17 * * * *',
  /** Learn per-tag thresholds from the moderators' decisions and store them with their evidence. */
  'learn-thresholds': '0 40 * * * *',
  /** The weekly tag-suggestion report (Mondays 06:00), written to TAGGER_REPORT_DIR and recorded as a ReportRun. */
  'build-report': '0 0 6 * * 1',
} as const;

type JobName = keyof typeof SCHEDULE;
export type JobHandlers = Record<JobName, () => Promise<unknown>>;

export interface RunningSchedule {
  /** Runs one job now (outside the timetable), waiting for it. */
  runNow(name: JobName): Promise<void>;
  stop(): Promise<void>;
}

/** Starts every job of {@link SCHEDULE}; each must have exactly one handler (checked by the type and at start). */
export interface ScheduleOptions {
  /** Whether this process may run the timetable now (leadership); asked at every tick. (Default: always.) */
  isLeader?: () => Promise<boolean>;
}

export function startSchedule(handlers: JobHandlers, logger: Logger, options: ScheduleOptions = {}): RunningSchedule {
  const tasks = new Map<JobName, ScheduledTask>();
  for (const name of Object.keys(SCHEDULE) as JobName[]) {
    const handler = handlers[name];
    if (typeof handler !== 'function') throw new Error(`schedule: no handler for job ${name}`);
    const log = logger.child({ job: name });
    const task = cron.schedule(
      SCHEDULE[name],
      async () => {
        if (options.isLeader && !(await options.isLeader().catch(() => false))) {
          log.debug('not the leader; tick skipped');
          return;
        }
        const started = performance.now();
        try {
          const result = await handler();
          log.info({ ms: Math.round(performance.now() - started), result }, 'job done');
        } catch (thrown) {
          log.error({ ms: Math.round(performance.now() - started), err: coerceError(thrown) }, 'job failed');
        }
      },
      { name, noOverlap: true },
    );
    task.on('execution:overlap', () => log.warn('previous run still going; tick skipped'));
    tasks.set(name, task);
  }
  return {
    async runNow(name) {
      await tasks.get(name)?.execute();
    },
    async stop() {
      for (const task of tasks.values()) await task.destroy();
    },
  };
}
