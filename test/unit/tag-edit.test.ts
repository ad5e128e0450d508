import { describe, expect, it } from 'vitest';
import {
  buildSnapshotEdit,
  explainRefusals,
  reconcileSuggestion,
  classifyEditOutcome,
  classifyRatingOutcome,
  ratingToSend,
} from '../../src/core/tag-edit.js';
import type { ApplyOutcome, Rating, TagChange } from '../../src/core/types.js';

const change = (snapshot: string[], add: string[], remove: string[]): TagChange => ({ snapshot, add, remove });

describe('tag-edit', () => {
  describe('buildSnapshotEdit', () => {
    const cases: { name: string; change: TagChange; old: string; new: string }[] = [
      {
        name: 'add to the snapshot',
        change: change(['aaa', 'bbb', 'ccc'], ['ddd'], []),
        old: 'aaa bbb ccc',
        new: 'aaa bbb ccc ddd',
      },
      {
        name: 'remove from the snapshot',
        change: change(['aaa', 'bbb', 'ccc'], [], ['bbb']),
        old: 'aaa bbb ccc',
        new: 'aaa ccc',
      },
      {
        name: 'sort and de-duplicate an unsorted snapshot',
        change: change(['ccc', 'aaa', 'aaa'], ['bbb', 'bbb'], []),
        old: 'aaa ccc',
        new: 'aaa bbb ccc',
      },
      {
        name: 'put a removed tag missing from the snapshot into old, so old − new still removes it',
        change: change(['aaa'], [], ['zzz']),
        old: 'aaa zzz',
        new: 'aaa',
      },
      {
        name: 'take an added tag already in the snapshot out of old, so new − old still adds it',
        change: change(['aaa', 'bbb'], ['bbb'], []),
        old: 'aaa',
        new: 'aaa bbb',
      },
      { name: 'an empty change', change: change(['aaa'], [], []), old: 'aaa', new: 'aaa' },
      { name: 'an empty post', change: change([], ['aaa'], []), old: '', new: 'aaa' },
    ];
    it.each(cases)('should build the snapshot form: $name', ({ change: c, old, new: next }) => {
      const sut = buildSnapshotEdit(c);
      expect(sut).toEqual({ oldTagString: old, newTagString: next });
    });

    it('should make old − new equal the removals and new − old equal the additions', () => {
      const sut = buildSnapshotEdit(change(['a', 'b', 'c'], ['d', 'e'], ['b', 'x']));
      const oldTags = sut.oldTagString.split(' ');
      const newTags = sut.newTagString.split(' ');
      expect(oldTags.filter((t) => !newTags.includes(t)).sort()).toEqual(['b', 'x']);
      expect(newTags.filter((t) => !oldTags.includes(t)).sort()).toEqual(['d', 'e']);
    });

    it('should throw when a tag is both added and removed', () => {
      expect(() => buildSnapshotEdit(change(['a'], ['b'], ['b']))).toThrow(/both adds and removes: b/);
    });
  });

  describe('classifyEditOutcome', () => {
    const cases: {
      name: string;
      change: TagChange;
      after: string[];
      before?: string[];
      saved?: boolean;
      expected: [string, 'add' | 'remove', string, RegExp][];
    }[] = [
      {
        name: 'added tag present',
        change: change(['a'], ['b'], []),
        after: ['a', 'b'],
        expected: [['b', 'add', 'applied', /on the post/]],
      },
      {
        name: 'added tag absent after a save',
        change: change(['a'], ['b'], []),
        after: ['a'],
        saved: true,
        expected: [['b', 'add', 'refused', /alias|deprecated/]],
      },
      {
        name: 'added tag absent, nothing saved',
        change: change(['a'], ['b'], []),
        after: ['a'],
        saved: false,
        expected: [['b', 'add', 'refused', /nothing was saved/]],
      },
      {
        name: 'added tag already there before the edit',
        change: change(['a'], ['b'], []),
        before: ['a', 'b'],
        after: ['a', 'b'],
        expected: [['b', 'add', 'already_applied', /already/]],
      },
      {
        name: 'removed tag gone',
        change: change(['a', 'b'], [], ['b']),
        after: ['a'],
        expected: [['b', 'remove', 'applied', /gone/]],
      },
      {
        name: 'removed tag still there (implied)',
        change: change(['a', 'b'], [], ['b']),
        after: ['a', 'b'],
        saved: true,
        expected: [['b', 'remove', 'refused', /implied by another tag/]],
      },
      {
        name: 'removed tag already gone before the edit',
        change: change(['a', 'b'], [], ['b']),
        before: ['a'],
        after: ['a'],
        expected: [['b', 'remove', 'already_applied', /already gone/]],
      },
      {
        name: 'adds then removes, each sorted',
        change: change(['a', 'y', 'z'], ['d', 'c'], ['z', 'y']),
        after: ['a', 'c', 'd'],
        expected: [
          ['c', 'add', 'applied', /./],
          ['d', 'add', 'applied', /./],
          ['y', 'remove', 'applied', /./],
          ['z', 'remove', 'applied', /./],
        ],
      },
    ];
    it.each(cases)('should classify: $name', ({ change: c, after, before, saved, expected }) => {
      const sut = classifyEditOutcome(c, after, { before, saved });
      expect(sut.map((o) => [o.tag, o.action, o.outcome])).toEqual(expected.map(([t, a, o]) => [t, a, o]));
      for (const [i, outcome] of sut.entries()) expect(outcome.reason).toMatch(expected[i]![3]);
    });
  });
});

describe('classifyRatingOutcome', () => {
  // The suggestion: g → e.
  const sut: TagChange = { snapshot: [], add: [], remove: [], rating: { from: 'g', to: 'e' } };
  it.each<[string, Rating, Rating, ApplyOutcome, Rating | null]>([
    ['applies a rating the edit set', 'g', 'e', 'applied', 'e'],
    ['reports a rating the booru refused', 'g', 'g', 'refused', 'e'],
    ['sees a rating already at the target', 'e', 'e', 'already_applied', null],
    ['leaves a rating a human changed since alone', 's', 's', 'conflicted', null],
  ])('should handle: %s', (_name, before, after, outcome, sent) => {
    expect(ratingToSend(sut, before)).toBe(sent);
    expect(classifyRatingOutcome(sut, before, after)).toMatchObject({ tag: 'rating:e', action: 'rating', outcome });
  });

  it('should return nothing without a rating change', () => {
    expect(classifyRatingOutcome({ snapshot: [], add: [], remove: [] }, 'g', 'g')).toBeNull();
    expect(ratingToSend({ snapshot: [], add: [], remove: [] }, 'g')).toBeNull();
  });
});

describe('explainRefusals', () => {
  const refused = (tag: string, action: 'add' | 'remove') => ({
    tag,
    action,
    outcome: 'refused' as const,
    reason: '?',
  });

  it('should name an alias rewrite, a deprecated tag, an implied removal, an automatic tag and an unsaved edit', () => {
    const facts = {
      aliases: new Map([['kitty', 'cat']]),
      deprecated: new Set(['old']),
      implications: [['cat_ears', 'animal_ears']] as [string, string][],
    };
    const after = ['animal_ears', 'cat', 'cat_ears', 'highres'];
    const out = explainRefusals(
      [refused('kitty', 'add'), refused('old', 'add'), refused('animal_ears', 'remove'), refused('highres', 'remove')],
      after,
      true,
      facts,
    );
    expect(out.map((o) => o.refusal)).toEqual(['alias', 'deprecated', 'implied', 'automatic']);
    expect(out[2]?.reason).toMatch(/implied by cat_ears/);
    expect(explainRefusals([refused('hat', 'add')], [], false)[0]?.refusal).toBe('limit');
    expect(explainRefusals([refused('hat', 'add')], [], true)[0]?.refusal).toBe('unknown');
  });
});

describe('reconcileSuggestion', () => {
  const post = { tags: ['cat_ears', 'solo'], rating: 'g' as const, isDeleted: false, isBanned: false };
  const implications: [string, string][] = [['cat_ears', 'animal_ears']];

  it.each([
    [{ tag: 'solo', action: 'add' as const }, post, 'already_applied'],
    [{ tag: 'dog', action: 'remove' as const }, post, 'already_applied'],
    [{ tag: 'rating:g', action: 'rating' as const }, post, 'already_applied'],
    [{ tag: 'hat', action: 'add' as const }, { ...post, isDeleted: true }, 'superseded'],
    [{ tag: 'animal_ears', action: 'add' as const }, post, 'superseded'],
    [{ tag: 'hat', action: 'add' as const }, post, 'keep'],
    [{ tag: 'cat_ears', action: 'remove' as const }, post, 'keep'],
  ])('should settle %o as %s', (suggestion, target, verdict) => {
    expect(reconcileSuggestion(suggestion, target, implications).verdict).toBe(verdict);
  });
});
