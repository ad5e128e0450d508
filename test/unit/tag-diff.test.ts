import { describe, expect, it } from 'vitest';
import { ImplicationGraph } from '../../src/core/implications.js';
import { computeTagDiff, type DiffInput, ratingOfLabel } from '../../src/core/tag-diff.js';
import { defaultDiffPolicy } from '../helpers/policy.js';
import { type BooruTagFacts, mapLabelsToBooru, NO_TAG_FACTS } from '../../src/core/tag-vocabulary.js';
import type { ModelLabel, Rating, SuggestionDraft } from '../../src/core/types.js';

const labels: ModelLabel[] = [
  { name: 'general', category: 9 },
  { name: 'sensitive', category: 9 },
  { name: 'questionable', category: 9 },
  { name: 'explicit', category: 9 },
  { name: 'cat_ears', category: 0 },
  { name: 'long_hair', category: 0 },
  { name: 'hair', category: 0 },
  { name: 'smile', category: 0 },
  { name: 'highres', category: 0 },
  { name: 'hatsune_miku', category: 4 },
  { name: 'kitten_ears', category: 0 },
];
const index = (name: string) => labels.findIndex((l) => l.name === name);

function scoresOf(values: Record<string, number>): Float32Array {
  const scores = new Float32Array(labels.length);
  for (const [name, score] of Object.entries(values)) scores[index(name)] = score;
  return scores;
}

function inputOf(overrides: {
  tags?: string[];
  rating?: Rating | null;
  scores?: Record<string, number>;
  floor?: number;
  facts?: BooruTagFacts;
  implications?: [string, string][];
  policy?: Parameters<typeof defaultDiffPolicy>[0];
}): DiffInput {
  return {
    tags: overrides.tags ?? [],
    rating: overrides.rating === undefined ? 'g' : overrides.rating,
    labels,
    scores: scoresOf({ general: 0.9, ...overrides.scores }),
    floor: overrides.floor ?? 0,
    mapping: mapLabelsToBooru(labels, overrides.facts ?? NO_TAG_FACTS),
    implications: new ImplicationGraph(overrides.implications ?? []),
    policy: defaultDiffPolicy(overrides.policy),
  };
}

const brief = (drafts: SuggestionDraft[]) => drafts.map((d) => `${d.action} ${d.tag}`);

describe('computeTagDiff', () => {
  const cases: { name: string; input: Parameters<typeof inputOf>[0]; expected: string[] }[] = [
    { name: 'adds a general tag at the threshold', input: { scores: { smile: 0.35 } }, expected: ['add smile'] },
    { name: 'ignores a general tag just under it', input: { scores: { smile: 0.3499 } }, expected: [] },
    { name: 'needs 0.85 for a character', input: { scores: { hatsune_miku: 0.84 } }, expected: [] },
    { name: 'adds a confident character', input: { scores: { hatsune_miku: 0.9 } }, expected: ['add hatsune_miku'] },
    { name: 'never adds a tag already present', input: { tags: ['smile'], scores: { smile: 0.99 } }, expected: [] },
    {
      name: 'never adds a tag a present tag implies',
      input: { tags: ['long_hair'], scores: { long_hair: 0.9, hair: 0.99 }, implications: [['long_hair', 'hair']] },
      expected: [],
    },
    {
      name: 'follows implications transitively',
      input: {
        tags: ['cat_ears'],
        scores: { cat_ears: 0.9, long_hair: 0.2, hair: 0.99 },
        implications: [
          ['cat_ears', 'long_hair'],
          ['long_hair', 'hair'],
        ],
      },
      expected: [],
    },
    {
      name: 'removes a present general tag at 0.02',
      input: { tags: ['smile'], scores: { smile: 0.02 } },
      expected: ['remove smile'],
    },
    { name: 'keeps a present tag just above 0.02', input: { tags: ['smile'], scores: { smile: 0.021 } }, expected: [] },
    {
      name: 'never removes an automatic tag',
      input: { tags: ['highres'], scores: { highres: 0 } },
      expected: [],
    },
    {
      name: 'never removes a character unless the category is opted in',
      input: { tags: ['hatsune_miku'], scores: { hatsune_miku: 0 } },
      expected: [],
    },
    {
      name: 'removes a character when opted in',
      input: {
        tags: ['hatsune_miku'],
        scores: { hatsune_miku: 0 },
        policy: { removableCategories: new Set([0, 4]) },
      },
      expected: ['remove hatsune_miku'],
    },
    {
      name: 'never removes an implied tag',
      input: {
        tags: ['long_hair', 'hair'],
        scores: { long_hair: 0.9, hair: 0.001 },
        implications: [['long_hair', 'hair']],
      },
      expected: [],
    },
    {
      name: 'ignores tags the model does not know',
      input: { tags: ['artist_name', 'smile'], scores: { smile: 0.5 } },
      expected: [],
    },
    {
      name: 'maps a label through an active alias',
      input: {
        scores: { kitten_ears: 0.8 },
        facts: { aliases: new Map([['kitten_ears', 'cat_ears']]), deprecated: new Set(), categories: null },
      },
      expected: ['add cat_ears'],
    },
    {
      name: 'does not re-add the alias target already present',
      input: {
        tags: ['cat_ears'],
        scores: { kitten_ears: 0.8, cat_ears: 0.1 },
        facts: { aliases: new Map([['kitten_ears', 'cat_ears']]), deprecated: new Set(), categories: null },
      },
      expected: [],
    },
    {
      name: 'drops deprecated and unknown tags',
      input: {
        scores: { smile: 0.9, cat_ears: 0.9, long_hair: 0.9 },
        facts: {
          aliases: new Map(),
          deprecated: new Set(['smile']),
          categories: new Map([
            ['smile', 0],
            ['long_hair', 0],
          ]),
        },
      },
      expected: ['add long_hair'],
    },
    {
      name: 'uses a per-tag threshold over the category one',
      input: { scores: { smile: 0.5 }, policy: { perTag: new Map([['smile', { add: 0.6 }]]) } },
      expected: [],
    },
    {
      name: 'orders additions by score then name, then removals',
      input: { tags: ['cat_ears'], scores: { smile: 0.5, long_hair: 0.9, hair: 0.5, cat_ears: 0 } },
      expected: ['add long_hair', 'add hair', 'add smile', 'remove cat_ears'],
    },
    {
      name: 'suggests a rating that beats the current one by the margin',
      input: { rating: 'g', scores: { general: 0.05, explicit: 0.9 } },
      expected: ['rating rating:e'],
    },
    {
      name: 'keeps the rating within the margin',
      input: { rating: 'g', scores: { general: 0.3, explicit: 0.6 } },
      expected: [],
    },
    {
      name: 'pools ratings a booru stores alike and never proposes one it cannot hold (Szurubooru: s kept as g)',
      input: { rating: 'g', scores: { general: 0.1, sensitive: 0.85 }, policy: { ratingScale: { s: 'g' } } },
      expected: [],
    },
    {
      name: 'proposes that same rating where the booru keeps all four',
      input: { rating: 'g', scores: { general: 0.1, sensitive: 0.85 } },
      expected: ['rating rating:s'],
    },
    {
      name: 'proposes a storable rating by the pooled probability',
      input: {
        rating: 'g',
        scores: { general: 0.05, sensitive: 0.05, questionable: 0.9 },
        policy: { ratingScale: { s: 'g' } },
      },
      expected: ['rating rating:q'],
    },
    {
      name: 'reads a post rating through the scale',
      input: {
        rating: 's',
        scores: { general: 0.5, sensitive: 0.4, explicit: 0.1 },
        policy: { ratingScale: { s: 'g' } },
      },
      expected: [],
    },
    {
      name: 'treats an unstored score below a floor above the threshold as unknown',
      input: { tags: ['smile'], scores: { smile: 0 }, floor: 0.05 },
      expected: [],
    },
    {
      name: 'removes an unstored score when the floor is under the threshold',
      input: { tags: ['smile'], scores: { smile: 0 }, floor: 0.01 },
      expected: ['remove smile'],
    },
  ];

  it.each(cases)('should handle: $name', ({ input, expected }) => {
    expect(brief(computeTagDiff(inputOf(input)))).toEqual(expected);
  });

  it('should explain each suggestion with its score and threshold', () => {
    const sut = computeTagDiff(inputOf({ tags: ['smile'], scores: { long_hair: 0.93, smile: 0.004 } }));
    expect(sut.map((d) => d.reason)).toEqual(['score 0.93 ≥ 0.35 (general)', 'score 0.004 ≤ 0.02; implied by nothing']);
    expect(sut[0]).toMatchObject({ category: 0, score: expect.closeTo(0.93, 5) });
  });

  it('should return nothing after the suggestions are applied', () => {
    const scores = { long_hair: 0.93, smile: 0.004, hatsune_miku: 0.95 };
    const first = computeTagDiff(inputOf({ tags: ['smile', 'cat_ears'], scores: { ...scores, cat_ears: 0.5 } }));
    const after = ['cat_ears', ...first.filter((d) => d.action === 'add').map((d) => d.tag)];
    expect(computeTagDiff(inputOf({ tags: after, scores: { ...scores, cat_ears: 0.5 } }))).toEqual([]);
  });
});

describe('ratingOfLabel', () => {
  it.each([
    ['general', 'g'],
    ['sensitive', 's'],
    ['questionable', 'q'],
    ['explicit', 'e'],
    ['rating:safe', 'g'],
    ['rating:explicit', 'e'],
    ['rating:q', 'q'],
    ['smile', null],
  ])('should map %s to %s', (name, rating) => {
    expect(ratingOfLabel(name)).toBe(rating);
  });
});

describe('mapLabelsToBooru', () => {
  it('should count aliased, deprecated and unknown labels', () => {
    const sut = mapLabelsToBooru(labels, {
      aliases: new Map([['kitten_ears', 'cat_ears']]),
      deprecated: new Set(['hair']),
      categories: new Map(
        ['cat_ears', 'long_hair', 'hair', 'highres', 'hatsune_miku'].map((t) => [t, t === 'hatsune_miku' ? 4 : 0]),
      ),
    });
    expect(sut).toMatchObject({ aliased: 1, deprecated: 1, unknown: 1 });
    expect(sut.canonical).toEqual([
      null,
      null,
      null,
      null,
      'cat_ears',
      'long_hair',
      null,
      null,
      'highres',
      'hatsune_miku',
      'cat_ears',
    ]);
  });
});
