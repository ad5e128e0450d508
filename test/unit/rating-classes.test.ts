import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RATING_CLASS_POLICY,
  isContentClassifier,
  suggestRatingFromClasses,
} from '../../src/core/rating-classes.js';
import type { ModelLabel, Rating } from '../../src/core/types.js';

const labels: ModelLabel[] = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'].map((name) => ({ name, category: 9 }));
const scores = (drawing: number, hentai: number, neutral: number, porn: number, sexy: number) =>
  Float32Array.from([drawing, hentai, neutral, porn, sexy]);

describe('suggestRatingFromClasses', () => {
  it.each<[string, Rating, Float32Array, string | null]>([
    ['raises a g post with explicit content to q', 'g', scores(0.05, 0.6, 0.05, 0.3, 0), 'rating:q'],
    ['raises an s post with explicit content to q', 's', scores(0.1, 0.85, 0, 0, 0.05), 'rating:q'],
    ['leaves explicit content just under the threshold', 'g', scores(0.2, 0.5, 0, 0.29, 0.01), null],
    ['never moves a q post to e', 'q', scores(0, 0.9, 0, 0.1, 0), null],
    ['never moves an e post to q', 'e', scores(0, 0.9, 0, 0.1, 0), null],
    ['raises a g post with sexy content to s', 'g', scores(0.1, 0, 0.05, 0, 0.85), 'rating:s'],
    ['leaves an s post that looks sexy alone', 's', scores(0.1, 0, 0.05, 0, 0.85), null],
    ['leaves a safe-looking post rated g alone', 'g', scores(0.9, 0, 0.1, 0, 0), null],
    ['does not lower an e post by default', 'e', scores(0.9, 0, 0.1, 0, 0), null],
  ])('should %s', (_name, current, values, expected) => {
    const sut = suggestRatingFromClasses(labels, values, current, DEFAULT_RATING_CLASS_POLICY, 'nsfw');
    expect(sut?.tag ?? null).toBe(expected);
    if (sut) expect(sut).toMatchObject({ action: 'rating', category: 9, reason: expect.stringMatching(/^nsfw: /) });
  });

  it('should lower a q post to g when a safe threshold is set', () => {
    const policy = { ...DEFAULT_RATING_CLASS_POLICY, safe: 0.95 };
    expect(suggestRatingFromClasses(labels, scores(0.9, 0, 0.08, 0, 0), 'q', policy, 'nsfw')?.tag).toBe('rating:g');
    expect(suggestRatingFromClasses(labels, scores(0.9, 0, 0.04, 0, 0.06), 'q', policy, 'nsfw')).toBeNull();
  });

  it('should not propose a rating the booru would store as the post has it (Szurubooru keeps s as g)', () => {
    const policy = { ...DEFAULT_RATING_CLASS_POLICY, ratingScale: { s: 'g' } as const };
    expect(suggestRatingFromClasses(labels, scores(0.1, 0, 0.05, 0, 0.85), 'g', policy, 'nsfw')).toBeNull();
    expect(suggestRatingFromClasses(labels, scores(0.05, 0.6, 0.05, 0.3, 0), 'g', policy, 'nsfw')?.tag).toBe(
      'rating:q',
    );
  });

  it('should say nothing about a post without a rating', () => {
    expect(suggestRatingFromClasses(labels, scores(0, 1, 0, 0, 0), null, DEFAULT_RATING_CLASS_POLICY, 'n')).toBeNull();
  });
});

describe('isContentClassifier', () => {
  it('should recognise the NSFWJS classes and nothing else', () => {
    expect(isContentClassifier(labels)).toBe(true);
    expect(isContentClassifier([{ name: 'general', category: 9 }])).toBe(false);
    expect(isContentClassifier([])).toBe(false);
  });
});
