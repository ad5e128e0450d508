import { describe, expect, it } from 'vitest';
import { ImplicationGraph } from '../../src/core/implications.js';
import { computeTagDiff } from '../../src/core/tag-diff.js';
import { defaultDiffPolicy } from '../helpers/policy.js';
import { mapLabelsToBooru, NO_TAG_FACTS } from '../../src/core/tag-vocabulary.js';
import {
  MCUT_FLOORS,
  mcutByCategory,
  mcutThreshold,
  parseTagThresholds,
  resolveAddThreshold,
} from '../../src/core/thresholds.js';
import type { ModelLabel } from '../../src/core/types.js';

describe('mcutThreshold', () => {
  it.each([
    { scores: [0.9, 0.85, 0.2, 0.1], expected: 0.525, case: 'the widest gap between 0.85 and 0.2' },
    { scores: [0.1, 0.95, 0.9, 0.05], expected: 0.5, case: 'unsorted input' },
    { scores: [0.6, 0.5], expected: 0.55, case: 'two scores' },
    { scores: [0.7], expected: 1, case: 'one score: nothing to cut' },
    { scores: [], expected: 1, case: 'no score' },
  ])('should cut at the middle of $case', ({ scores, expected }) => {
    expect(mcutThreshold(scores)).toBeCloseTo(expected, 10);
  });
});

describe('mcutByCategory', () => {
  it('should cut each switched-on category over its own labels and keep the floor', () => {
    const labels: ModelLabel[] = [
      { name: 'a', category: 0 },
      { name: 'b', category: 0 },
      { name: 'c', category: 0 },
      { name: 'miku', category: 4 },
      { name: 'rin', category: 4 },
    ];
    const sut = mcutByCategory(
      labels,
      [0.9, 0.8, 0.1, 0.1, 0.05],
      new Map([
        [0, 0],
        [4, MCUT_FLOORS.character],
      ]),
    );

    expect(sut.get(0)).toBeCloseTo(0.45, 10);
    expect(sut.get(4)).toBe(0.15);
  });
});

describe('resolveAddThreshold', () => {
  const policy = { perTag: new Map([['solo', { add: 0.6 }]]), addThresholds: new Map([[0, 0.35]]) };
  it('should prefer the per-tag threshold, then MCut, then the category', () => {
    expect(resolveAddThreshold('solo', 0, 'general', policy, new Map([[0, 0.5]]))).toEqual({
      threshold: 0.6,
      source: 'tag',
    });
    expect(resolveAddThreshold('smile', 0, 'general', policy, new Map([[0, 0.5]]))).toEqual({
      threshold: 0.5,
      source: 'general, MCut',
    });
    expect(resolveAddThreshold('smile', 0, 'general', policy, new Map())).toEqual({
      threshold: 0.35,
      source: 'general',
    });
    expect(resolveAddThreshold('artist', 1, 'artist', policy, new Map())).toBeNull();
  });
});

describe('parseTagThresholds', () => {
  it('should read JSON with numbers and objects', () => {
    const sut = parseTagThresholds('{"solo": 0.5, "1girl": {"add": 0.7, "remove": 0.01}}');
    expect([...sut]).toEqual([
      ['solo', { add: 0.5 }],
      ['1girl', { add: 0.7, remove: 0.01 }],
    ]);
  });

  it('should read CSV with a header, comments, empty cells and commas inside the name', () => {
    const sut = parseTagThresholds('tag,add,remove\n# tuned 2026-11\nsolo,0.5,\nfoo,bar,,0.01\n');
    expect([...sut]).toEqual([
      ['solo', { add: 0.5 }],
      ['foo,bar', { remove: 0.01 }],
    ]);
  });

  it.each([
    { text: '{"solo": 2}', message: /"solo": 2 is not a number from 0 to 1/ },
    { text: '{"solo": {"ad": 0.5}}', message: /unknown keys ad/ },
    { text: 'solo;0.5', message: /line 1: expected "tag,add,remove"/ },
    { text: '{"solo": ', message: /not valid JSON/ },
  ])('should reject $text', ({ text, message }) => {
    expect(() => parseTagThresholds(text, 't.csv')).toThrow(message);
  });
});

describe('computeTagDiff with MCut', () => {
  const labels: ModelLabel[] = [
    { name: 'a', category: 0 },
    { name: 'b', category: 0 },
    { name: 'c', category: 0 },
    { name: 'd', category: 0 },
  ];
  const input = (mcut: boolean) => ({
    tags: [],
    rating: null,
    labels,
    scores: new Float32Array([0.3, 0.28, 0.05, 0.04]),
    floor: 0,
    mapping: mapLabelsToBooru(labels, NO_TAG_FACTS),
    implications: new ImplicationGraph([]),
    policy: defaultDiffPolicy(mcut ? { mcut: new Map([[0, MCUT_FLOORS.general]]) } : {}),
  });

  it('should add tags above the MCut threshold that the fixed 0.35 misses, and say so in the reason', () => {
    expect(computeTagDiff(input(false))).toEqual([]);

    const sut = computeTagDiff(input(true));

    expect(sut.map((s) => s.tag)).toEqual(['a', 'b']);
    expect(sut[0]!.reason).toBe('score 0.30 ≥ 0.17 (general, MCut)');
  });
});
