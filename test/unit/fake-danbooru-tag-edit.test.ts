import { describe, expect, it } from 'vitest';
import { applyDanbooruTagEdit, type TagRules } from '../../src/demo/danbooru-tag-edit.js';

const noRules: TagRules = { aliases: new Map(), implications: new Map(), deprecated: new Set() };

describe('danbooru-tag-edit', () => {
  describe('applyDanbooruTagEdit', () => {
    const cases: {
      name: string;
      current: string;
      old?: string | null;
      next: string;
      rules?: Partial<TagRules>;
      expected: string;
    }[] = [
      {
        name: 'snapshot form merges a concurrent edit (post_test.rb: A adds ddd after B)',
        current: 'aaa bbb eee',
        old: 'aaa bbb ccc',
        next: 'aaa bbb ccc ddd',
        expected: 'aaa bbb ddd eee',
      },
      { name: 'delta form with old = ""', current: 'aaa bbb', old: '', next: 'ccc -bbb', expected: 'aaa ccc' },
      { name: 'bare tag_string wipes the rest', current: 'aaa bbb ccc', old: null, next: 'ddd -ccc', expected: 'ddd' },
      {
        name: 'aliases apply to additions and explicit removals',
        current: 'aaa new_name',
        old: '',
        next: 'ccc_old -old_name',
        rules: {
          aliases: new Map([
            ['ccc_old', 'ccc'],
            ['old_name', 'new_name'],
          ]),
        },
        expected: 'aaa ccc',
      },
      {
        name: 'implied tags are re-added, transitively',
        current: 'aaa cat_ears',
        old: 'aaa cat_ears',
        next: 'aaa cat_ears -animal_ears',
        rules: {
          implications: new Map([
            ['cat_ears', ['animal_ears']],
            ['animal_ears', ['ears']],
          ]),
        },
        expected: 'aaa animal_ears cat_ears ears',
      },
      {
        name: 'deprecated and invalid tags are not added',
        current: 'aaa',
        old: 'aaa',
        next: 'aaa dep bad__name _lead ok',
        rules: { deprecated: new Set(['dep']) },
        expected: 'aaa ok',
      },
      {
        name: 'automatic tags are recomputed',
        current: 'aaa lowres',
        old: 'aaa lowres',
        next: 'aaa',
        rules: { automaticTags: (tags) => [...tags.filter((t) => t !== 'highres' && t !== 'lowres'), 'highres'] },
        expected: 'aaa highres',
      },
    ];
    it.each(cases)('should apply Danbooru’s merge: $name', ({ current, old, next, rules, expected }) => {
      const sut = applyDanbooruTagEdit(
        { current: current.split(' '), oldTagString: old, newTagString: next },
        { ...noRules, ...rules },
      );
      expect(sut.tags.join(' ')).toBe(expected);
    });

    it('should read a rating metatag', () => {
      const sut = applyDanbooruTagEdit({ current: ['a'], oldTagString: '', newTagString: 'rating:explicit' }, noRules);
      expect(sut).toMatchObject({ tags: ['a'], rating: 'e' });
    });
  });
});
