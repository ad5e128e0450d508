/**
 * The per-minute tag-change budget (src/booru/rate-limiter.ts's `TagBudget`) kept in the database, so every process
 * writing to one booru account spends from one budget: N workers together stay within the account's limit. Each
 * spend is a row; reading the window and taking from it happen under one transaction-scoped advisory lock per scope,
 * so two processes can never both take the last changes.
 */
import type { PrismaClient } from './generated/client.js';

export interface SharedTagBudgetOptions {
  /** Which budget: one per booru account. */
  scope: string;
  /** Changes allowed per window; 0 = unlimited. */
  perMinute: number;
  /** (Default: 60 000.) */
  windowMs?: number;
  now?: () => number;
}

/**
 * Takers queue on the lock holding a connection each: wait for one (and for the lock) longer than Prisma's 2 s
 * default, so a busy moment is a short wait and not a failed apply run.
 */
const TRANSACTION = { maxWait: 30_000, timeout: 30_000 };

export class TagBudgetRepository {
  readonly perMinute: number;
  private readonly scope: string;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(
    private readonly prisma: PrismaClient,
    options: SharedTagBudgetOptions,
  ) {
    this.scope = options.scope;
    this.perMinute = options.perMinute;
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Takes `count` changes now and answers 0, or takes nothing and answers how long until they fit (ms). */
  async tryTake(count: number): Promise<number> {
    if (this.perMinute <= 0 || count <= 0) return 0;
    if (count > this.perMinute) return Number.POSITIVE_INFINITY;
    const { scope, windowMs, perMinute } = this;
    return this.prisma.$transaction(async (tx) => {
      // Serialises every taker of this scope, in any process, until this transaction ends.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`tag-budget:${scope}`}))`;
      const now = this.now();
      const since = new Date(now - windowMs);
      const spent = await tx.tagBudgetSpend.findMany({
        where: { scope, at: { gt: since } },
        orderBy: [{ at: 'asc' }, { id: 'asc' }],
        select: { at: true, count: true },
      });
      let used = spent.reduce((sum, s) => sum + s.count, 0);
      if (perMinute - used < count) {
        // Wait until enough of the oldest spends have left the window.
        for (const entry of spent) {
          used -= entry.count;
          if (perMinute - used >= count) return Math.max(1, entry.at.getTime() + windowMs - now);
        }
        return Number.POSITIVE_INFINITY;
      }
      await tx.tagBudgetSpend.deleteMany({ where: { scope, at: { lte: since } } });
      await tx.tagBudgetSpend.create({ data: { scope, at: new Date(now), count } });
      return 0;
    }, TRANSACTION);
  }
}
