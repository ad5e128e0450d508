/**
 * The lease window follows the pipeline's pace: a slow worker holds few leases (others can share the backlog), a fast
 * one about two seconds of work, so the writer merges batches while the database lags. A fake clock decides.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LeasePipeline, leaseWindowOf } from '../../src/worker/lease-pipeline.js';

function aPipeline(clock: { now: number }) {
  const source = {
    claim: async () => [],
    heartbeat: async () => undefined,
    release: async () => 0,
    recordFailure: async () => undefined,
  };
  return new LeasePipeline<{ id: number }>(
    source,
    { leaseMs: 60_000, batchSize: 16, inFlight: leaseWindowOf(16), claimSize: 32, now: () => clock.now },
    pino({ level: 'silent' }),
  );
}

const posts = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: from + i }));

describe('lease window', () => {
  it('should hold the floor of 4 batches (64 posts) before anything is written', () => {
    const sut = aPipeline({ now: 0 });

    expect(sut.window()).toBe(64);
  });

  it('should grow with the posts written in the last 2 s, up to 256', () => {
    const clock = { now: 1_000 };
    const sut = aPipeline(clock);

    sut.finished(posts(0, 100));
    expect(sut.window()).toBe(100);
    clock.now = 1_500;
    sut.finished(posts(100, 300));
    expect(sut.window()).toBe(256);
  });

  it('should shrink back to the floor once the pace drops (a slow CPU model)', () => {
    const clock = { now: 0 };
    const sut = aPipeline(clock);
    sut.finished(posts(0, 200));

    clock.now = 2_001;
    sut.finished(posts(200, 4));

    expect(sut.window()).toBe(64);
  });

  it('should keep a batch size of 64 or more at 4 batches', () => {
    expect(leaseWindowOf(64)).toEqual({ min: 256, max: 256, seconds: 2 });
  });
});
