/** What a model's raw output rows become: probabilities (the recipe's output activation). */
import type { PreprocessRecipe } from './recipe.js';

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
