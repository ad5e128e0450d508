/**
 * Login throttling: at most `maxAttempts` sign-in attempts for one account name, or four times as many from one
 * client address (an IPv6 client counts per /64, the block one subscriber gets), within `windowMs`; beyond that
 * attempts are refused until the window has passed (an attempt the address limit refuses does not count against the
 * name). An attempt is counted before its password is checked (one atomic step in the store), so parallel guesses
 * cannot all slip in while the slow hash runs; a successful sign-in clears the name's count and takes its own attempt
 * back from the address. The counts live in the database (`LoginAttemptRepository`), shared by every dashboard
 * process, so N replicas throttle as one.
 */

export interface AttemptCount {
  key: string;
  attempts: number;
  resetAt: Date;
}

/** Where attempts are counted: the database for the service, memory for a dashboard built without one. */
export interface LoginAttemptStore {
  /** Counts one attempt under each key, atomically, starting a new window where the old one has passed. */
  count(keys: readonly string[], windowMs: number, now: Date): Promise<AttemptCount[]>;
  /** After a successful sign-in: forgets `clearKey` and takes one attempt back from `releaseKey`. */
  succeeded(clearKey: string, releaseKey: string, now: Date): Promise<void>;
}

export interface LoginThrottleOptions {
  /** Attempts allowed per account name within the window (TAGGER_LOGIN_MAX_FAILURES). */
  maxAttempts: number;
  /** Window length in milliseconds (TAGGER_LOGIN_WINDOW_MINUTES). */
  windowMs: number;
  now?: () => number;
}

export class LoginThrottle {
  private readonly maxAttempts: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: LoginAttemptStore,
    options: LoginThrottleOptions,
  ) {
    this.maxAttempts = options.maxAttempts;
    this.windowMs = options.windowMs;
    this.now = options.now ?? Date.now;
  }

  /**
   * Counts this attempt; answers 0 when its password may be checked, else the milliseconds until this name from this
   * address may try again (the attempt is refused without checking anything).
   */
  async reserve(name: string, ip: string): Promise<number> {
    const now = this.now();
    // The address first: an attempt it refuses is not counted against the name, so one address cannot lock every
    // account out by hammering names after its own limit.
    for (const [key, limit] of [
      [addressKey(ip), this.maxAttempts * 4],
      [nameKey(name), this.maxAttempts],
    ] as const) {
      const [count] = await this.store.count([key], this.windowMs, new Date(now));
      if (count && count.attempts > limit) return Math.max(count.resetAt.getTime() - now, 1);
    }
    return 0;
  }

  /** A successful sign-in clears the name's count (not the address's: a spray from one address stays throttled). */
  async succeeded(name: string, ip: string): Promise<void> {
    await this.store.succeeded(nameKey(name), addressKey(ip), new Date(this.now()));
  }
}

function nameKey(name: string): string {
  return `name:${name.toLowerCase()}`;
}

/** The throttle's key for a client address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64 prefix. */
export function addressKey(ip: string): string {
  const groups = ipv6Groups(ip);
  if (!groups) return `ip:${ip}`;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return `ip:${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  return `ip:${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (zone and an embedded IPv4 tail allowed), or null when it is not one. */
function ipv6Groups(text: string): number[] | null {
  let ip = text.split('%')[0]!;
  if (!ip.includes(':')) return null;
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    if ([a, b, c, d].some((n) => n > 255)) return null;
    ip = `${ip.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((g) => (/^[\da-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.some(Number.isNaN) ? null : groups;
}

/**
 * Counts in memory, for a dashboard built without the database's store (tests, tools): atomic within the process
 * (nothing awaits between reading and writing a count); expired windows are dropped as the clock passes them.
 */
export class MemoryLoginAttempts implements LoginAttemptStore {
  private readonly buckets = new Map<string, { attempts: number; resetAt: number }>();
  private prunedAt = 0;

  async count(keys: readonly string[], windowMs: number, now: Date): Promise<AttemptCount[]> {
    const at = now.getTime();
    if (at - this.prunedAt >= windowMs) {
      for (const [key, bucket] of this.buckets) if (bucket.resetAt <= at) this.buckets.delete(key);
      this.prunedAt = at;
    }
    return keys.map((key) => {
      let bucket = this.buckets.get(key);
      if (!bucket || bucket.resetAt <= at) {
        bucket = { attempts: 0, resetAt: at + windowMs };
        this.buckets.set(key, bucket);
      }
      bucket.attempts++;
      return { key, attempts: bucket.attempts, resetAt: new Date(bucket.resetAt) };
    });
  }

  async succeeded(clearKey: string, releaseKey: string): Promise<void> {
    this.buckets.delete(clearKey);
    const bucket = this.buckets.get(releaseKey);
    if (bucket && bucket.attempts > 0) bucket.attempts--;
  }
}
