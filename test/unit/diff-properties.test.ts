/**
 * Property-based tests (fast-check, fixed seed) of the diff's invariants (DESIGN §3) over random vocabularies,
 * aliases, deprecations, implication graphs (cycles included), thresholds, storage floors and scores:
 * - never suggest adding a tag on the post, an alias of one, or a tag a present tag implies;
 * - never suggest removing a tag that is not on the post, an automatic tag, a tag of a non-removable category, or a
 *   tag implied by a tag the post keeps after the edit (staying, or being added);
 * - applying the suggestions with the pure snapshot-edit helper, then diffing again, yields nothing.
 * Posts are closed under implications, as a booru keeps them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImplicationGraph } from '../../src/core/implications.js';
import { AUTOMATIC_TAGS, buildDiffIndex, computeTagDiff, type DiffInput } from '../../src/core/tag-diff.js';
import { defaultDiffPolicy } from '../helpers/policy.js';
import { buildSnapshotEdit } from '../../src/core/tag-edit.js';
import { mapLabelsToBooru } from '../../src/core/tag-vocabulary.js';
import { type ModelLabel, RATINGS, type Rating, TagCategory } from '../../src/core/types.js';

/** A small universe, so that random posts, aliases and implications collide often. */
const NAMES = ['cat_ears', 'kitten_ears', 'long_hair', 'hair', 'smile', 'solo', 'highres', 'hatsune_miku', 'tagme'];
const RATING_LABELS = ['general', 'sensitive', 'questionable', 'explicit'];
const CATEGORIES = [TagCategory.general, TagCategory.general, TagCategory.character, TagCategory.artist, 3, 5];
const SEED = Number(process.env['BT_PROPERTY_SEED'] ?? 20_261_127);
const RUNS = Number(process.env['BT_PROPERTY_RUNS'] ?? 300);

const name = fc.constantFrom(...NAMES);
/** Scores cluster where the decisions are (near 0 and above the add thresholds), plus anything in [0, 1]. */
const probability = fc.oneof(
  fc.constantFrom(0, 0.001, 0.01, 0.02, 0.35, 0.6, 0.9, 0.99, 1),
  fc.float({ min: 0, max: 1, noNaN: true }),
);

const scenario = fc
  .record({
    vocabulary: fc.uniqueArray(fc.record({ name, category: fc.constantFrom(...CATEGORIES) }), {
      minLength: 1,
      maxLength: NAMES.length,
      selector: (label) => label.name,
    }),
    withRatings: fc.boolean(),
    tags: fc.uniqueArray(name, { maxLength: 6 }),
    rating: fc.option(fc.constantFrom(...RATINGS), { nil: null }),
    aliases: fc.array(fc.tuple(name, name), { maxLength: 3 }),
    deprecated: fc.uniqueArray(name, { maxLength: 2 }),
    implications: fc.array(fc.tuple(name, name), { maxLength: 6 }),
    general: fc.float({ min: Math.fround(0.05), max: 1, noNaN: true }),
    character: fc.float({ min: Math.fround(0.05), max: 1, noNaN: true }),
    remove: fc.float({ min: 0, max: Math.fround(0.04), noNaN: true }),
    perTagAdd: fc.dictionary(name, fc.float({ min: Math.fround(0.05), max: 1, noNaN: true }), { maxKeys: 2 }),
    removeCharacters: fc.boolean(),
    mcut: fc.boolean(),
    floor: fc.constantFrom(0, 0.01, 0.05),
    ratingMargin: fc.constantFrom(0, 0.2, 0.4),
    seedScores: fc.array(probability, { minLength: NAMES.length + 4, maxLength: NAMES.length + 4 }),
  })
  .map((s): DiffInput => {
    const labels: ModelLabel[] = [
      ...s.vocabulary,
      ...(s.withRatings ? RATING_LABELS.map((n) => ({ name: n, category: TagCategory.rating })) : []),
    ];
    // Stored predictions keep only scores at or above the floor; the rest read as 0.
    const scores = Float32Array.from(labels, (_, i) => {
      const score = s.seedScores[i] ?? 0;
      return score < s.floor ? 0 : score;
    });
    // Danbooru aliases are single-hop and a consequent is never itself an antecedent.
    const aliases = new Map<string, string>();
    for (const [from, to] of s.aliases) {
      if (from !== to && !aliases.has(to) && ![...aliases.values()].includes(from)) aliases.set(from, to);
    }
    // A booru keeps its posts closed under implications: adding a tag adds everything it implies.
    const implications = new ImplicationGraph(s.implications.filter(([a, b]) => a !== b));
    const tags = [...new Set([...s.tags, ...implications.impliedBy(s.tags)])];
    return {
      tags,
      rating: s.rating,
      labels,
      scores,
      floor: s.floor,
      mapping: mapLabelsToBooru(labels, { aliases, deprecated: new Set(s.deprecated), categories: null }),
      implications,
      policy: defaultDiffPolicy({
        addThresholds: new Map([
          [TagCategory.general, s.general],
          [TagCategory.character, s.character],
        ]),
        removeThreshold: s.remove,
        removableCategories: new Set(
          s.removeCharacters ? [TagCategory.general, TagCategory.character] : [TagCategory.general],
        ),
        perTag: new Map(Object.entries(s.perTagAdd).map(([tag, add]) => [tag, { add }])),
        ratingMargin: s.ratingMargin,
        ...(s.mcut ? { mcut: new Map([[TagCategory.general, 0.05]]) } : {}),
      }),
    };
  });

/** The post's tags after the suggestions are written back with the pure snapshot-form helper (as apply does). */
function applySuggestions(input: DiffInput, drafts: ReturnType<typeof computeTagDiff>): DiffInput {
  const edit = buildSnapshotEdit({
    snapshot: [...input.tags].sort(),
    add: drafts.filter((d) => d.action === 'add').map((d) => d.tag),
    remove: drafts.filter((d) => d.action === 'remove').map((d) => d.tag),
  });
  const rating = drafts.find((d) => d.action === 'rating');
  return {
    ...input,
    tags: edit.newTagString.split(' ').filter(Boolean),
    rating: rating ? (rating.tag.slice('rating:'.length) as Rating) : input.rating,
  };
}

const check = (property: fc.IProperty<[DiffInput]>) => fc.assert(property, { seed: SEED, numRuns: RUNS });

describe('computeTagDiff (properties)', () => {
  it('should never suggest adding a tag on the post, an alias of one, or one a present tag implies', () => {
    check(
      fc.property(scenario, (input) => {
        const onPost = new Set(input.tags);
        const implied = input.implications.impliedBy(onPost);
        const labelsOnPost = input.labels.filter((l) => onPost.has(l.name)).map((l) => l.name);
        for (const draft of computeTagDiff(input).filter((d) => d.action === 'add')) {
          expect(onPost.has(draft.tag), `adds present ${draft.tag}`).toBe(false);
          expect(implied.has(draft.tag), `adds implied ${draft.tag}`).toBe(false);
          // An alias of a present tag is the present tag under its current name.
          for (const present of labelsOnPost) {
            const i = input.labels.findIndex((l) => l.name === present);
            if (input.mapping.canonical[i] === present) continue;
            expect(draft.tag, `adds ${draft.tag}, an alias of present ${present}`).not.toBe(present);
          }
        }
      }),
    );
  });

  it('should never suggest removing an absent, automatic, non-removable tag, or one a kept tag implies', () => {
    check(
      fc.property(scenario, (input) => {
        const drafts = computeTagDiff(input);
        // The tags the post keeps after the edit: a removal one of them implies would be refused by the booru.
        const removed = new Set(drafts.filter((d) => d.action === 'remove').map((d) => d.tag));
        const willHave = [
          ...input.tags.filter((tag) => !removed.has(tag)),
          ...drafts.filter((d) => d.action === 'add').map((d) => d.tag),
        ];
        for (const draft of drafts.filter((d) => d.action === 'remove')) {
          expect(input.tags, `removes absent ${draft.tag}`).toContain(draft.tag);
          expect(AUTOMATIC_TAGS.has(draft.tag), `removes automatic ${draft.tag}`).toBe(false);
          expect(input.policy.removableCategories.has(draft.category ?? -1), `category of ${draft.tag}`).toBe(true);
          expect(input.implications.impliersOf(draft.tag, willHave), `removes implied ${draft.tag}`).toEqual([]);
        }
      }),
    );
  });

  it('should never both add and remove one tag, nor suggest one change twice', () => {
    check(
      fc.property(scenario, (input) => {
        const drafts = computeTagDiff(input);
        const keys = drafts.map((d) => (d.action === 'rating' ? 'rating' : d.tag));
        expect(new Set(keys).size).toBe(keys.length);
      }),
    );
  });

  it('should suggest nothing when the suggestions are applied and the post is diffed again', () => {
    check(
      fc.property(scenario, (input) => {
        const after = applySuggestions(input, computeTagDiff(input));
        expect(computeTagDiff(after)).toEqual([]);
      }),
    );
  });

  it('should give the same suggestions with a prebuilt index and whatever the order of the post tags', () => {
    check(
      fc.property(scenario, (input) => {
        const index = buildDiffIndex(input.labels, input.mapping, input.policy);
        const again = computeTagDiff({ ...input, index, tags: [...input.tags].reverse() });
        expect(again).toEqual(computeTagDiff(input));
      }),
    );
  });

  it('should not remove a tag implied by a tag it adds (found by the removal property)', () => {
    const labels: ModelLabel[] = [
      { name: 'long_hair', category: TagCategory.general },
      { name: 'hair', category: TagCategory.general },
    ];
    const sut = computeTagDiff({
      tags: ['hair'],
      rating: null,
      labels,
      scores: Float32Array.from([0.9, 0.01]),
      floor: 0,
      mapping: mapLabelsToBooru(labels, { aliases: new Map(), deprecated: new Set(), categories: null }),
      implications: new ImplicationGraph([['long_hair', 'hair']]),
      policy: defaultDiffPolicy(),
    });
    expect(sut.map((d) => `${d.action} ${d.tag}`)).toEqual(['add long_hair']);
  });

  it('should remove a tag implied only by a tag it removes too, so a second diff proposes nothing', () => {
    const labels: ModelLabel[] = [
      { name: 'smile', category: TagCategory.general },
      { name: 'cat_ears', category: TagCategory.general },
    ];
    const sut = computeTagDiff({
      tags: ['cat_ears', 'smile'],
      rating: null,
      labels,
      scores: Float32Array.from([0.001, 0.005]),
      floor: 0,
      mapping: mapLabelsToBooru(labels, { aliases: new Map(), deprecated: new Set(), categories: null }),
      implications: new ImplicationGraph([['smile', 'cat_ears']]),
      policy: defaultDiffPolicy(),
    });
    expect(sut.map((d) => [d.action, d.tag, d.reason])).toEqual([
      ['remove', 'smile', 'score 0.001 ≤ 0.02; implied by nothing'],
      ['remove', 'cat_ears', 'score 0.005 ≤ 0.02; implied only by smile, removed too'],
    ]);
  });
});
