/** What a model's raw output rows become: probabilities (the recipe's output activation), and its rating scores. */
import type { ModelLabel } from '../core/types.js';
import type { PreprocessRecipe } from './recipe.js';

/** Reads a model's rating outputs (category 9) as a distribution: the rating model's answer, or a tagger's. */
export function ratingScores(
  labels: readonly ModelLabel[],
  scores: ArrayLike<number>,
): Array<{ name: string; score: number }> {
  const out: Array<{ name: string; score: number }> = [];
  labels.forEach((label, i) => {
    if (label.category === 9) out.push({ name: label.name, score: scores[i] ?? 0 });
  });
  return out.sort((a, b) => b.score - a.score);
}

/** Turns raw model outputs into probabilities in place, per the recipe. */
export function applyOutputActivation(row: Float32Array, activation: PreprocessRecipe['outputActivation']): void {
  if (activation === 'sigmoid') {
    for (let i = 0; i < row.length; i++) row[i] = 1 / (1 + Math.exp(-row[i]!));
  } else if (activation === 'softmax') {
    let max = Number.NEGATIVE_INFINITY;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (let i = 0; i < row.length; i++) {
      row[i] = Math.exp(row[i]! - max);
      sum += row[i]!;
    }
    for (let i = 0; i < row.length; i++) row[i] = row[i]! / sum;
  }
}
