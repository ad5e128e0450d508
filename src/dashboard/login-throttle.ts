/**
 * Login throttling: after `maxFailures` failed sign-ins for one account name, or four times as many from one address,
 * within `windowMs`, further attempts are refused until the window has passed. In memory, per process: enough to make
 * guessing a password online hopeless; behind several processes each one throttles on its own.
 */

export interface LoginThrottleOptions {
  /** Failed attempts allowed per account name within the window. (Default: 5.) */
  maxFailures?: number;
  /** Window length in milliseconds. (Default: 15 minutes.) */
  windowMs?: number;
  now?: () => number;
}

interface Bucket {
  failures: number;
  resetAt: number;
}

/** Entries kept at most; expired ones are pruned first, so memory stays bounded under a spray of names. */
const MAX_BUCKETS = 10_000;

export class LoginThrottle {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(options: LoginThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 5;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Milliseconds until this name from this address may try again, or 0 when it may try now. */
  retryAfterMs(name: string, ip: string): number {
    const now = this.now();
    let wait = 0;
    for (const [key, limit] of this.keysOf(name, ip)) {
      const bucket = this.buckets.get(key);
      if (bucket && bucket.resetAt > now && bucket.failures >= limit) wait = Math.max(wait, bucket.resetAt - now);
    }
    return wait;
  }

  recordFailure(name: string, ip: string): void {
    const now = this.now();
    if (this.buckets.size >= MAX_BUCKETS) this.prune(now);
    for (const [key] of this.keysOf(name, ip)) {
      const bucket = this.buckets.get(key);
      if (!bucket || bucket.resetAt <= now) this.buckets.set(key, { failures: 1, resetAt: now + this.windowMs });
      else bucket.failures++;
    }
  }

  /** A successful sign-in clears the name's count (not the address's: a spray from one address stays throttled). */
  recordSuccess(name: string): void {
    this.buckets.delete(`name:${name.toLowerCase()}`);
  }

  private keysOf(name: string, ip: string): [string, number][] {
    return [
      [`name:${name.toLowerCase()}`, this.maxFailures],
      [`ip:${ip}`, this.maxFailures * 4],
    ];
  }

  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.resetAt <= now) this.buckets.delete(key);
    // Still full: drop the oldest entries (Map keeps insertion order).
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < MAX_BUCKETS) break;
      this.buckets.delete(key);
    }
  }
}
