/**
 * Politeness primitives shared by every booru client (BOORU-API §1.2, §4.7): a request-rate limiter with a burst,
 * and the per-minute tag-change budget of non-Builder Danbooru accounts. Both take an injectable clock and sleep, so
 * tests run in milliseconds, and both reserve their slot before sleeping, so concurrent callers queue up instead of
 * all waking at once.
 */

/** Time source and sleep, injectable for tests. */
export interface Timing {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

const realTiming: Timing = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * At most `ratePerSecond` requests per second on average, with up to `burst` back to back after a quiet spell
 * (GCRA, the "virtual scheduling" form of a token bucket). A rate of 0 means unlimited.
 */
export class RateLimiter {
  private readonly intervalMs: number;
  private readonly toleranceMs: number;
  /** Theoretical arrival time of the next request. */
  private tat = 0;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly timing: Timing = realTiming,
  ) {
    this.intervalMs = ratePerSecond > 0 ? 1000 / ratePerSecond : 0;
    this.toleranceMs = this.intervalMs * Math.max(0, Math.floor(burst) - 1);
  }

  /** How long the next caller would wait, without taking a slot. */
  delayFor(now = this.timing.now()): number {
    if (this.intervalMs === 0) return 0;
    return Math.max(0, Math.max(this.tat, now) - this.toleranceMs - now);
  }

  /** Takes one slot, sleeping until it is due. Returns the wait in ms. */
  async acquire(): Promise<number> {
    if (this.intervalMs === 0) return 0;
    const now = this.timing.now();
    const wait = this.delayFor(now);
    // Reserve before sleeping: a second caller arriving meanwhile queues behind this one.
    this.tat = Math.max(this.tat, now) + this.intervalMs;
    if (wait > 0) await this.timing.sleep(wait);
    return wait;
  }
}

/**
 * A per-minute tag-change budget as the apply job uses it: in this process ({@link TagChangeBudget}) or shared by
 * every process writing to one booru account (`TagBudgetRepository` in src/db).
 */
export interface TagBudget {
  /** Changes allowed per minute (0 = unlimited). */
  readonly perMinute: number;
  /**
   * Takes `count` changes from the budget now and answers 0; or, when they do not fit yet, takes nothing and answers
   * how long until they would (Infinity: never in one piece). Reading and taking are one step.
   */
  tryTake(count: number): Promise<number>;
}

/**
 * Danbooru refuses more than 100 added+removed tags per user per minute (a validation error, answered with HTTP 200
 * and nothing saved), so edits are budgeted on our side over a sliding 60 s window. 0 means unlimited.
 */
export class TagChangeBudget implements TagBudget {
  private readonly spent: { at: number; count: number }[] = [];

  constructor(
    readonly perMinute: number,
    private readonly timing: Timing = realTiming,
    private readonly windowMs = 60_000,
  ) {}

  private used(now: number): number {
    while (this.spent.length > 0 && now - this.spent[0]!.at >= this.windowMs) this.spent.shift();
    return this.spent.reduce((sum, s) => sum + s.count, 0);
  }

  /** Changes still allowed right now. */
  remaining(now = this.timing.now()): number {
    if (this.perMinute <= 0) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.perMinute - this.used(now));
  }

  /**
   * How long until `count` changes fit in the window (0 = now); Infinity when `count` exceeds the whole budget, so
   * the edit can never be sent in one piece.
   */
  waitFor(count: number, now = this.timing.now()): number {
    if (this.perMinute <= 0 || count <= 0) return 0;
    if (count > this.perMinute) return Number.POSITIVE_INFINITY;
    let used = this.used(now);
    for (const entry of this.spent) {
      if (this.perMinute - used >= count) break;
      used -= entry.count;
      if (this.perMinute - used >= count) return entry.at + this.windowMs - now;
    }
    return this.perMinute - used >= count ? 0 : Number.POSITIVE_INFINITY;
  }

  async tryTake(count: number): Promise<number> {
    const now = this.timing.now();
    const wait = this.waitFor(count, now);
    if (wait === 0) this.spend(count, now);
    return wait;
  }

  /** Records `count` changes as spent now. */
  spend(count: number, now = this.timing.now()): void {
    if (this.perMinute <= 0 || count <= 0) return;
    this.used(now);
    this.spent.push({ at: now, count });
  }
}
