/**
 * The diff policy's precedence (src/core/diff-policy.ts): settings, the model manifest, the operator's per-tag file
 * and learned thresholds, each where it wins.
 */
import { describe, expect, it } from 'vitest';
import { type PolicySettings, resolveDiffPolicy, withLearnedPolicy } from '../../src/core/diff-policy.js';
import { defaultDiffPolicy } from '../helpers/policy.js';
import { TagCategory } from '../../src/core/types.js';

const aSettings = (overrides: Partial<PolicySettings> = {}): PolicySettings => ({
  thresholdGeneral: 0.35,
  thresholdCharacter: 0.85,
  thresholdRemove: 0.02,
  removeCategories: ['general'],
  ratingMargin: 0.4,
  rejectMargin: 0.1,
  mcut: [],
  given: { thresholdGeneral: false, thresholdCharacter: false },
  ...overrides,
});

describe('resolveDiffPolicy', () => {
  it('should make DESIGN §3’s published policy from the configuration’s defaults and no other source', () => {
    const sut = defaultDiffPolicy();

    expect(sut.addThresholds).toEqual(
      new Map([
        [TagCategory.general, 0.35],
        [TagCategory.character, 0.85],
      ]),
    );
    expect(sut.removeThreshold).toBe(0.02);
    expect(sut.removableCategories).toEqual(new Set([TagCategory.general]));
    expect(sut.perTag).toEqual(new Map());
    expect(sut.ratingMargin).toBe(0.4);
    expect(sut.rejectMargin).toBe(0.1);
    expect(sut.mcut).toEqual(new Map());
    expect(resolveDiffPolicy({ settings: aSettings() })).toEqual(sut);
  });

  it.each([
    // [given general, given character, expected general, expected character]
    [false, false, 0.5, 0.7],
    [true, false, 0.35, 0.7],
    [false, true, 0.5, 0.85],
    [true, true, 0.35, 0.85],
  ])(
    'should let the manifest’s category thresholds replace only settings the operator did not give (general given %s, character given %s)',
    (general, character, expectedGeneral, expectedCharacter) => {
      const sut = resolveDiffPolicy({
        settings: aSettings({ given: { thresholdGeneral: general, thresholdCharacter: character } }),
        manifestThresholds: { general: 0.5, character: 0.7 },
      });

      expect(sut.addThresholds.get(TagCategory.general)).toBe(expectedGeneral);
      expect(sut.addThresholds.get(TagCategory.character)).toBe(expectedCharacter);
    },
  );

  it('should keep an operator’s setting even when it equals the default (given, not compared with the default)', () => {
    const sut = resolveDiffPolicy({
      settings: aSettings({ thresholdGeneral: 0.35, given: { thresholdGeneral: true, thresholdCharacter: false } }),
      manifestThresholds: { general: 0.6 },
    });

    expect(sut.addThresholds.get(TagCategory.general)).toBe(0.35);
  });

  it('should rank per-tag thresholds manifest < file < learned', () => {
    const sut = resolveDiffPolicy({
      settings: aSettings(),
      manifestThresholds: { general: 0.5, cat_ears: 0.3, dog_ears: 0.4, fox_ears: 0.45 },
      tagFile: new Map([
        ['dog_ears', { add: 0.6, remove: 0.05 }],
        ['fox_ears', { remove: 0.01 }],
      ]),
      learned: new Map([['fox_ears', { add: 0.9 }]]),
    });

    expect(sut.perTag.get('cat_ears')).toEqual({ add: 0.3 });
    expect(sut.perTag.get('dog_ears')).toEqual({ add: 0.6, remove: 0.05 });
    // The file replaces the manifest's entry; learned thresholds replace only the actions they cover.
    expect(sut.perTag.get('fox_ears')).toEqual({ remove: 0.01, add: 0.9 });
    expect(sut.perTag.has('general')).toBe(false);
  });

  it('should take removal, MCut, the margins and the rating scale from the settings and the booru', () => {
    const sut = resolveDiffPolicy({
      settings: aSettings({
        thresholdRemove: 0.05,
        removeCategories: ['general', 'copyright'],
        ratingMargin: 0.2,
        rejectMargin: 0.3,
        mcut: ['character'],
      }),
      ratingScale: { s: 'g' },
    });

    expect(sut.removeThreshold).toBe(0.05);
    expect(sut.removableCategories).toEqual(new Set([TagCategory.general, TagCategory.copyright]));
    expect(sut.ratingMargin).toBe(0.2);
    expect(sut.rejectMargin).toBe(0.3);
    expect(sut.mcut).toEqual(new Map([[TagCategory.character, 0.15]]));
    expect(sut.ratingScale).toEqual({ s: 'g' });
  });
});

describe('withLearnedPolicy', () => {
  it('should return the same policy when nothing is learned', () => {
    const policy = defaultDiffPolicy();

    expect(withLearnedPolicy(policy, new Map())).toBe(policy);
  });
});
