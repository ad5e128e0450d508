/**
 * The whole timetable of periodic jobs, in one place. A job never overlaps itself (node-cron's `noOverlap`): a tick
 * that arrives while the previous run is still going is skipped and logged.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/** Job name → cron line (with seconds). */
export const SCHEDULE = {
  /** Crawl new posts, tag them and store suggestions. */
  'crawl-and-tag': '0 * * * * *',
  /** Write approved suggestions back to the booru. */
  'apply-approved': '30 * * * * *',
} as const;

export type JobName = keyof typeof SCHEDULE;
export type JobHandlers = Record<JobName, () => Promise<unknown>>;

export interface RunningSchedule {
  /** Runs one job now (outside the timetable), waiting for it. */
  runNow(name: JobName): Promise<void>;
  stop(): Promise<void>;
}

/** Starts every job of {@link SCHEDULE}; each must have exactly one handler (checked by the type and at start). */
export function startSchedule(handlers: JobHandlers, logger: Logger): RunningSchedule {
  const tasks = new Map<JobName, ScheduledTask>();
  for (const name of Object.keys(SCHEDULE) as JobName[]) {
    const handler = handlers[name];
    if (typeof handler !== 'function') throw new Error(`schedule: no handler for job ${name}`);
    const log = logger.child({ job: name });
    const task = cron.schedule(
      SCHEDULE[name],
      async () => {
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
