/**
 * Leadership across processes sharing one database: the leader is whoever holds a session-level PostgreSQL advisory
 * lock on a dedicated connection. If that connection dies, the lock is gone and another process takes over at its
 * next attempt. The embedded database serves one process, which is always the leader.
 */
import pg from 'pg';
import { coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/** The advisory lock key of the schedule (an arbitrary constant: "booru-tagger schedule"). */
const SCHEDULE_LOCK_KEY = 0x6274_7363;

export interface LeaderLock {
  /** True when this process holds the lock now, taking it if it is free. */
  ensureLeader(): Promise<boolean>;
  release(): Promise<void>;
}

export function createLeaderLock(url: string | undefined, logger: Logger, key = SCHEDULE_LOCK_KEY): LeaderLock {
  if (!url) return { ensureLeader: async () => true, release: async () => {} };
  let client: pg.Client | null = null;
  let leader = false;
  const drop = () => {
    leader = false;
    const old = client;
    client = null;
    old?.end().catch(() => {});
  };
  return {
    async ensureLeader() {
      if (leader && client) return true;
      try {
        if (!client) {
          client = new pg.Client({ connectionString: url, application_name: 'booru-tagger leader' });
          client.on('error', (error) => {
            logger.warn({ err: coerceError(error) }, 'leader connection lost; leadership dropped');
            drop();
          });
          await client.connect();
        }
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [key]);
        leader = rows[0]?.locked === true;
        if (leader) logger.info('this process leads the schedule');
        return leader;
      } catch (error) {
        logger.warn({ err: coerceError(error) }, 'leader election failed');
        drop();
        return false;
      }
    },
    async release() {
      if (client && leader) await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => {});
      drop();
    },
  };
}
