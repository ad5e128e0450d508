/** Several models voting: the combinations, the label alignment, the recorded vote, and a seeded simulation. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIMULATION, simulateEnsemble } from '../../scripts/ensemble-simulation.js';
import {
  alignEnsembleLabels,
  checkEnsembleCombination,
  combineScores,
  combineScoreVectors,
  formatEnsembleCombination,
  parseEnsembleCombination,
  voteOfSuggestion,
} from '../../src/core/ensemble.js';

describe('ensemble', () => {
  describe('parseEnsembleCombination', () => {
    it.each([
      ['mean', { kind: 'mean' }],
      [' Mean ', { kind: 'mean' }],
      ['vote:2', { kind: 'vote', k: 2 }],
      ['vote:10', { kind: 'vote', k: 10 }],
    ])('should read %j', (text, expected) => {
      expect(parseEnsembleCombination(text)).toEqual(expected);
      expect(formatEnsembleCombination(parseEnsembleCombination(text))).toBe(text.trim().toLowerCase());
    });

    it.each(['vote:0', 'vote', 'median', 'vote:-1', 'vote:2.5', ''])('should refuse %j', (text) => {
      expect(() => parseEnsembleCombination(text)).toThrow(/expected mean or vote:K/);
    });
  });

  describe('checkEnsembleCombination', () => {
    it('should refuse a vote that needs more models than there are', () => {
      expect(checkEnsembleCombination({ kind: 'vote', k: 3 }, 2)).toMatch(/vote:3 needs at least 3 models; 2/);
      expect(checkEnsembleCombination({ kind: 'vote', k: 2 }, 2)).toBeNull();
      expect(checkEnsembleCombination({ kind: 'mean' }, 2)).toBeNull();
    });
  });

  describe('combineScores', () => {
    it.each([
      // scores, combination, expected
      [[0.9, 0.1, 0.2], { kind: 'mean' }, 0.4],
      [[0.9, 0.1, 0.2], { kind: 'vote', k: 1 }, 0.9],
      [[0.9, 0.1, 0.2], { kind: 'vote', k: 2 }, 0.2],
      [[0.9, 0.1, 0.2], { kind: 'vote', k: 3 }, 0.1],
      [[0.5], { kind: 'vote', k: 2 }, 0.5],
    ] as const)('%j under %j ⇒ %d', (scores, combination, expected) => {
      expect(combineScores(scores, combination)).toBeCloseTo(expected, 12);
    });

    it('should say "at least K of N at or above t" exactly, for every threshold', () => {
      const scores = [0.91, 0.35, 0.34, 0.02];
      for (const t of [0, 0.02, 0.3, 0.34, 0.35, 0.5, 0.91, 0.95]) {
        for (let k = 1; k <= scores.length; k++) {
          const agreeing = scores.filter((s) => s >= t).length;
          expect(combineScores(scores, { kind: 'vote', k }) >= t, `t=${t} k=${k}`).toBe(agreeing >= k);
        }
      }
    });

    it('should refuse an empty vote', () => {
      expect(() => combineScores([], { kind: 'mean' })).toThrow(/no scores/);
    });
  });

  describe('combineScoreVectors', () => {
    it('should combine label by label', () => {
      const sut = combineScoreVectors(
        [
          [0.9, 0.1],
          [0.8, 0.7],
          [0.1, 0.6],
        ],
        { kind: 'vote', k: 2 },
      );
      expect([...sut]).toEqual([Math.fround(0.8), Math.fround(0.6)]);
    });

    it('should refuse vectors of different lengths', () => {
      expect(() => combineScoreVectors([[0.1], [0.1, 0.2]], { kind: 'mean' })).toThrow(/different lengths/);
    });
  });

  describe('alignEnsembleLabels', () => {
    it('should keep the labels every model has, in the first model’s order, with each model’s index', () => {
      const sut = alignEnsembleLabels([
        [
          { name: 'solo', category: 0 },
          { name: 'only_a', category: 0 },
          { name: 'hatsune_miku', category: 4 },
        ],
        [
          { name: 'hatsune_miku', category: 4 },
          { name: 'solo', category: 0 },
        ],
        [
          { name: 'only_c', category: 0 },
          { name: 'solo', category: 0 },
          { name: 'hatsune_miku', category: 4 },
        ],
      ]);
      expect(sut.labels).toEqual([
        { name: 'solo', category: 0 },
        { name: 'hatsune_miku', category: 4 },
      ]);
      expect(sut.memberIndex).toEqual([
        [0, 2],
        [1, 0],
        [1, 2],
      ]);
      expect(sut.dropped).toEqual([1, 0, 1]);
    });
  });

  describe('voteOfSuggestion', () => {
    it('should record every model’s score of the label the suggestion came from', () => {
      const combined = [0.2, 0.8];
      const members = [
        [0.1, 0.9],
        [0.3, 0.8],
        [0.2, 0.1],
      ];
      const sut = voteOfSuggestion(0.8, [0, 1], combined, members, ['a@1', 'b@1', 'c@1'], { kind: 'vote', k: 2 });
      expect(sut).toEqual({
        combination: 'vote:2',
        models: [
          { model: 'a@1', score: 0.9 },
          { model: 'b@1', score: 0.8 },
          { model: 'c@1', score: 0.1 },
        ],
      });
      expect(voteOfSuggestion(0.8, [], combined, members, ['a', 'b', 'c'], { kind: 'mean' })).toBeNull();
    });
  });

  describe('simulation (seeded): three models erring on independent random subsets', () => {
    const result = simulateEnsemble(DEFAULT_SIMULATION);
    const row = (name: string) => result.rows.find((r) => r.name === name)!;
    const h = DEFAULT_SIMULATION.hallucinationRate;
    const miss = DEFAULT_SIMULATION.missRate;
    /** P(at least 2 of 3 independent events of probability p). */
    const twoOfThree = (p: number) => 3 * p * p * (1 - p) + p ** 3;

    it('should show each single model erring at its configured rates', () => {
      for (const name of ['model 1', 'model 2', 'model 3']) {
        expect(row(name).falsePositiveRate).toBeCloseTo(h, 2);
        expect(row(name).falseNegativeRate).toBeCloseTo(miss, 2);
      }
    });

    it('should cut confident hallucinations about tenfold with 2-of-3, as the binomial law says', () => {
      const vote = row('vote:2');
      expect(vote.falsePositiveRate).toBeGreaterThan(twoOfThree(h) * 0.85);
      expect(vote.falsePositiveRate).toBeLessThan(twoOfThree(h) * 1.15);
      expect(vote.falseNegativeRate).toBeGreaterThan(twoOfThree(miss) * 0.85);
      expect(vote.falseNegativeRate).toBeLessThan(twoOfThree(miss) * 1.15);
      expect(vote.falsePositiveRate).toBeLessThan(row('model 1').falsePositiveRate / 5);
    });

    it('should show the mean trading: fewer misses, but a lone confident hallucination often passes a low threshold', () => {
      const mean = row('mean');
      expect(mean.falseNegativeRate).toBeLessThan(row('model 1').falseNegativeRate / 4);
      expect(mean.falsePositiveRate).toBeGreaterThan(row('vote:2').falsePositiveRate * 5);
    });
  });
});
