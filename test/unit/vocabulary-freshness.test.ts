import { describe, expect, it } from 'vitest';
import { judgeVocabulary, type TagSyncRecord } from '../../src/core/vocabulary-freshness.js';

const NOW = new Date('2026-12-07T12:00:00Z');
const HOUR = 3_600_000;
const sync = (over: Partial<TagSyncRecord>): TagSyncRecord => ({
  id: 7,
  status: 'ok',
  startedAt: new Date(NOW.getTime() - 2 * HOUR),
  finishedAt: new Date(NOW.getTime() - HOUR),
  error: null,
  ...over,
});

describe('judgeVocabulary', () => {
  it.each([
    ['no sync yet', null, 24 * HOUR, false, /no tag sync has completed/],
    [
      'a failed sync',
      sync({ status: 'failed', error: 'BOORU_BAD_RESPONSE: x' }),
      24 * HOUR,
      false,
      /failed: BOORU_BAD_RESPONSE: x/,
    ],
    [
      'a sync past the age',
      sync({ finishedAt: new Date(NOW.getTime() - 25 * HOUR) }),
      24 * HOUR,
      false,
      /25 h ago .* older than TAGGER_SYNC_MAX_AGE_HOURS=24/,
    ],
    ['a sync just within the age', sync({ finishedAt: new Date(NOW.getTime() - 24 * HOUR) }), 24 * HOUR, true, null],
    ['an old sync when any age is accepted', sync({ finishedAt: new Date(0) }), 0, true, null],
    ['a failed sync even when any age is accepted', sync({ status: 'failed' }), 0, false, /failed: unknown error/],
  ] as const)('%s', (_name, latest, maxAgeMs, fresh, reason) => {
    const judged = judgeVocabulary(latest, NOW, maxAgeMs);
    expect(judged.fresh).toBe(fresh);
    if (judged.fresh) expect(judged.generation).toBe(7);
    else {
      expect(judged.generation).toBeNull();
      expect(judged.reason).toMatch(reason!);
    }
  });
});
