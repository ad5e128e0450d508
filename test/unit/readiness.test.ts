import { describe, expect, it } from 'vitest';
import { judgeReadiness, type ReadinessFacts } from '../../src/core/readiness.js';

const NOW = new Date('2026-12-07T12:00:00Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000);
const LIMITS = { syncMaxAgeHours: 24, booruMaxAgeS: 600 };

function aFacts(overrides: Partial<ReadinessFacts> = {}): ReadinessFacts {
  return {
    now: NOW,
    databaseError: null,
    migrations: { pending: [], unknown: [] },
    localModel: null,
    workers: [{ id: 'h:1', provider: 'cpu', model: 'wd 1', booruOkAt: ago(30) }],
    localBooruOkAt: null,
    tagSyncs: [{ booru: 'dan', syncedAt: ago(3600) }],
    ...overrides,
  };
}

const failing = (facts: ReadinessFacts, limits = LIMITS) =>
  judgeReadiness(facts, limits)
    .checks.filter((c) => !c.ok)
    .map((c) => c.name);

describe('judgeReadiness', () => {
  it('should be ready when every check passes, naming each', () => {
    const sut = judgeReadiness(aFacts(), LIMITS);
    expect(sut.ready).toBe(true);
    expect(sut.checks.map((c) => c.name)).toEqual(['database', 'migrations', 'model', 'tag-sync', 'booru']);
    expect(sut.checkedAt).toBe(NOW.toISOString());
  });

  it.each<[string, Partial<ReadinessFacts>, string[]]>([
    [
      'the database is unreachable',
      { databaseError: 'unreachable: ECONNREFUSED', migrations: null, workers: null, tagSyncs: null },
      ['database', 'migrations', 'model', 'tag-sync', 'booru'],
    ],
    ['a migration is pending', { migrations: { pending: ['2027_x'], unknown: [] } }, ['migrations']],
    ['the database is newer than the code', { migrations: { pending: [], unknown: ['2027_y'] } }, ['migrations']],
    ['no worker is alive and none is local', { workers: [] }, ['model', 'booru']],
    ['tags were never synced', { tagSyncs: [{ booru: 'dan', syncedAt: null }] }, ['tag-sync']],
    ['the tag sync is too old', { tagSyncs: [{ booru: 'dan', syncedAt: ago(25 * 3600) }] }, ['tag-sync']],
    ['no booru is tagged yet', { tagSyncs: [] }, ['tag-sync']],
    [
      'the booru has been silent too long',
      { workers: [{ id: 'h:1', provider: 'cpu', model: 'wd 1', booruOkAt: ago(601) }] },
      ['booru'],
    ],
  ])('should not be ready when %s', (_why, overrides, expected) => {
    expect(failing(aFacts(overrides))).toEqual(expected);
    expect(judgeReadiness(aFacts(overrides), LIMITS).ready).toBe(false);
  });

  it('should trust the model and booru this process has itself', () => {
    const sut = judgeReadiness(
      aFacts({ workers: [], localModel: { name: 'wd', provider: 'cuda' }, localBooruOkAt: ago(5) }),
      LIMITS,
    );
    expect(sut.ready).toBe(true);
    expect(sut.checks.find((c) => c.name === 'model')?.detail).toBe('wd loaded on cuda (this process)');
  });

  it('should not limit the tag sync age when the limit is 0', () => {
    expect(
      failing(aFacts({ tagSyncs: [{ booru: 'dan', syncedAt: ago(1e6) }] }), { ...LIMITS, syncMaxAgeHours: 0 }),
    ).toEqual([]);
  });

  it('should name every stale booru', () => {
    const sut = judgeReadiness(
      aFacts({
        tagSyncs: [
          { booru: 'a', syncedAt: null },
          { booru: 'b', syncedAt: ago(48 * 3600) },
        ],
      }),
      LIMITS,
    );
    expect(sut.checks.find((c) => c.name === 'tag-sync')?.detail).toBe(
      'a: tags never synced (run `booru-tagger sync-tags`); b: synced 48.0 h ago, older than 24 h',
    );
  });
});
