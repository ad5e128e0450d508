import { describe, expect, it } from 'vitest';
import { hostAllowed } from '../../src/booru/http.js';
import { RateLimiter, TagChangeBudget, type Timing } from '../../src/booru/rate-limiter.js';

/** A clock that only moves when someone sleeps. */
function fakeTiming(): Timing & { sleeps: number[]; t: number } {
  const timing = {
    t: 1_000_000,
    sleeps: [] as number[],
    now: () => timing.t,
    sleep: async (ms: number) => {
      timing.sleeps.push(ms);
      timing.t += ms;
    },
  };
  return timing;
}

describe('RateLimiter', () => {
  describe('acquire', () => {
    it('should let a burst through, then space requests at the rate', async () => {
      const timing = fakeTiming();
      const sut = new RateLimiter(1, 3, timing);
      for (let i = 0; i < 6; i++) await sut.acquire();
      expect(timing.sleeps).toEqual([1000, 1000, 1000]);
    });

    it('should queue concurrent callers one interval apart', async () => {
      const timing = fakeTiming();
      const sut = new RateLimiter(2, 1, { now: timing.now, sleep: async (ms) => void timing.sleeps.push(ms) });
      const waits = await Promise.all([sut.acquire(), sut.acquire(), sut.acquire()]);
      expect(waits).toEqual([0, 500, 1000]);
    });

    it('should never wait when the rate is 0 (unlimited)', async () => {
      const timing = fakeTiming();
      const sut = new RateLimiter(0, 1, timing);
      for (let i = 0; i < 10; i++) await sut.acquire();
      expect(timing.sleeps).toEqual([]);
    });
  });
});

describe('TagChangeBudget', () => {
  it('should allow up to the per-minute budget and say how long until more fits', () => {
    const timing = fakeTiming();
    const sut = new TagChangeBudget(100, timing);
    expect(sut.waitFor(60)).toBe(0);
    sut.spend(60);
    timing.t += 10_000;
    sut.spend(30);
    expect(sut.remaining()).toBe(10);
    expect(sut.waitFor(10)).toBe(0);
    expect(sut.waitFor(11)).toBe(50_000);
    expect(sut.waitFor(70)).toBe(50_000);
    expect(sut.waitFor(71)).toBe(60_000);
    expect(sut.waitFor(101)).toBe(Number.POSITIVE_INFINITY);
    timing.t += 50_000;
    expect(sut.remaining()).toBe(70);
  });

  it('should be unlimited at 0', () => {
    const sut = new TagChangeBudget(0, fakeTiming());
    sut.spend(10_000);
    expect(sut.waitFor(10_000)).toBe(0);
  });
});

describe('hostAllowed', () => {
  it('should match exact names and *.domain rules', () => {
    expect(hostAllowed('cdn.donmai.us', ['danbooru.donmai.us', '*.donmai.us'])).toBe(true);
    expect(hostAllowed('donmai.us', ['.donmai.us'])).toBe(true);
    expect(hostAllowed('evil-donmai.us', ['*.donmai.us'])).toBe(false);
    expect(hostAllowed('169.254.169.254', ['*.donmai.us'])).toBe(false);
  });
});
