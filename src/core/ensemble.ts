/**
 * Several tag models voting: how their scores of one image combine into the one score the diff compares with its
 * thresholds, and what each suggestion records of the vote. Pure.
 *
 * - `mean`: the arithmetic mean of the models' scores.
 * - `vote:K`: the K-th highest of the N scores. Compared with a threshold t, it says exactly "at least K of the N
 *   models score ≥ t", so an addition needs K models at or above the add threshold, whatever the threshold (per tag,
 *   per category, learned). A removal (score ≤ t) then needs N − K + 1 models at or below the removal threshold:
 *   for 2-of-3, two models must agree the tag is absent, as two must agree it is present.
 */

import type { EnsembleVote, ModelLabel } from './types.js';

export type { EnsembleVote } from './types.js';

export type EnsembleCombination = { kind: 'mean' } | { kind: 'vote'; k: number };

/** Parses `mean` or `vote:K` (K ≥ 1). Throws with the expected form otherwise. */
export function parseEnsembleCombination(text: string): EnsembleCombination {
  const value = text.trim().toLowerCase();
  if (value === 'mean') return { kind: 'mean' };
  const match = /^vote:(\d{1,3})$/.exec(value);
  if (match && Number(match[1]) >= 1) return { kind: 'vote', k: Number(match[1]) };
  throw new Error(`${JSON.stringify(text)}: expected mean or vote:K (K ≥ 1, at most the number of models)`);
}

/** `mean` or `vote:K`, as configured and as recorded on suggestions. */
export function formatEnsembleCombination(combination: EnsembleCombination): string {
  return combination.kind === 'mean' ? 'mean' : `vote:${combination.k}`;
}

/** Why a combination cannot serve `models` models, or null when it can. */
export function checkEnsembleCombination(combination: EnsembleCombination, models: number): string | null {
  if (combination.kind === 'vote' && combination.k > models) {
    return `vote:${combination.k} needs at least ${combination.k} models; ${models} configured`;
  }
  return null;
}

/** Combines one label's scores (one per model, none missing). */
export function combineScores(scores: readonly number[], combination: EnsembleCombination): number {
  if (scores.length === 0) throw new Error('no scores to combine');
  if (combination.kind === 'mean') {
    let sum = 0;
    for (const score of scores) sum += score;
    return sum / scores.length;
  }
  const k = Math.min(combination.k, scores.length);
  return [...scores].sort((a, b) => b - a)[k - 1]!;
}

/**
 * Combines whole score vectors, label by label: `members[m][i]` is model m's score of label i (vectors already
 * aligned to one label order, {@link alignEnsembleLabels}).
 */
export function combineScoreVectors(
  members: readonly ArrayLike<number>[],
  combination: EnsembleCombination,
): Float32Array {
  const length = members[0]?.length ?? 0;
  if (members.some((m) => m.length !== length)) throw new Error('score vectors of different lengths');
  const out = new Float32Array(length);
  const column = new Array<number>(members.length);
  for (let i = 0; i < length; i++) {
    for (let m = 0; m < members.length; m++) column[m] = members[m]![i]!;
    out[i] = combineScores(column, combination);
  }
  return out;
}

/** The label order an ensemble scores in, and where each label sits in every member's own output. */
export interface EnsembleLabels {
  labels: ModelLabel[];
  /** `memberIndex[m][i]`: the output index, in model m, of ensemble label i. */
  memberIndex: number[][];
  /** Labels of each model that not every model has (left out of the ensemble). */
  dropped: number[];
}

/**
 * The labels every model has (by name), in the first model's order and with its categories: a label some model lacks
 * has no full vote, so it is left out rather than scored by fewer models than configured.
 */
export function alignEnsembleLabels(members: readonly (readonly ModelLabel[])[]): EnsembleLabels {
  if (members.length === 0) throw new Error('an ensemble needs at least one model');
  const positions = members.map((labels) => new Map(labels.map((label, i) => [label.name, i])));
  const labels: ModelLabel[] = [];
  const memberIndex: number[][] = members.map(() => []);
  for (const label of members[0]!) {
    const at = positions.map((p) => p.get(label.name));
    if (at.some((i) => i === undefined)) continue;
    labels.push({ name: label.name, category: label.category });
    for (const [m, i] of at.entries()) memberIndex[m]!.push(i!);
  }
  return { labels, memberIndex, dropped: members.map((m) => m.length - labels.length) };
}

/**
 * The vote behind a suggestion whose combined score is `score`: among the ensemble labels the suggestion's tag may
 * come from (several model labels can map onto one booru tag), the one whose combined score is nearest to `score`,
 * with every model's score of it. Null when no label matches.
 */
export function voteOfSuggestion(
  score: number,
  candidates: readonly number[],
  combined: ArrayLike<number>,
  members: readonly ArrayLike<number>[],
  memberNames: readonly string[],
  combination: EnsembleCombination,
): EnsembleVote | null {
  let best: number | null = null;
  for (const i of candidates) {
    if (best === null || Math.abs(combined[i]! - score) < Math.abs(combined[best]! - score)) best = i;
  }
  if (best === null) return null;
  const label = best;
  return {
    combination: formatEnsembleCombination(combination),
    models: members.map((scores, m) => ({ model: memberNames[m]!, score: scores[label]! })),
  };
}
