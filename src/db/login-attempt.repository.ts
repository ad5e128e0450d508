/**
 * Sign-in attempt counts for the login throttle (`src/dashboard/login-throttle.ts`), shared by every dashboard
 * process on the database: one upsert counts an attempt under all its keys at once, so parallel attempts, in one
 * process or many, each see their own count. Rows whose window has passed are deleted now and then.
 */
import type { PrismaClient } from './generated/client.js';

export interface AttemptCount {
  key: string;
  attempts: number;
  resetAt: Date;
}

export class LoginAttemptRepository {
  private prunedAt = 0;

  constructor(private readonly prisma: PrismaClient) {}

  /** Counts one attempt under each key; a key whose window has passed starts a new one. */
  async count(keys: readonly string[], windowMs: number, now: Date): Promise<AttemptCount[]> {
    if (now.getTime() - this.prunedAt >= windowMs) {
      this.prunedAt = now.getTime();
      await this.prisma.loginAttempt.deleteMany({ where: { resetAt: { lte: now } } });
    }
    const resetAt = new Date(now.getTime() + windowMs);
    const counts: AttemptCount[] = [];
    // One statement (one row lock, held only by it) per key.
    for (const key of keys) {
      const [row] = await this.prisma.$queryRaw<AttemptCount[]>`
        INSERT INTO login_attempts (key, attempts, reset_at) VALUES (${key}, 1, ${resetAt})
        ON CONFLICT (key) DO UPDATE SET
          attempts = CASE WHEN login_attempts.reset_at <= ${now} THEN 1 ELSE login_attempts.attempts + 1 END,
          reset_at = CASE WHEN login_attempts.reset_at <= ${now} THEN EXCLUDED.reset_at ELSE login_attempts.reset_at END
        RETURNING key, attempts, reset_at AS "resetAt"`;
      if (row) counts.push({ key: row.key, attempts: Number(row.attempts), resetAt: new Date(row.resetAt) });
    }
    return counts;
  }

  /** After a successful sign-in: forgets `clearKey` and takes one attempt back from `releaseKey`. */
  async succeeded(clearKey: string, releaseKey: string, now: Date): Promise<void> {
    await this.prisma.loginAttempt.deleteMany({ where: { key: clearKey } });
    await this.prisma.loginAttempt.updateMany({
      where: { key: releaseKey, attempts: { gt: 0 }, resetAt: { gt: now } },
      data: { attempts: { decrement: 1 } },
    });
  }
}
