/**
 * What the pipeline adds for several models voting: each model's own scores stored beside the combined ones (under
 * the model's own id and label indices), and the vote recorded on each suggestion the combined scores made.
 */
import { type EnsembleCombination, type EnsembleVote, voteOfSuggestion } from '../core/ensemble.js';
import type { ModelDraft } from '../db/tagging.repository.js';
import type { DiffContext } from './diff-context.js';

/** The voting models, as the tag pipeline needs them (an EnsembleTagger and the members' registered ids). */
export interface EnsembleMembers {
  combination: EnsembleCombination;
  /** Registered model id of each member, in the configured order. */
  modelIds: readonly number[];
  /** `name@version` of each member. */
  names: readonly string[];
  /** `memberIndex[m][i]`: member m's output index of ensemble label i. */
  memberIndex: readonly (readonly number[])[];
  /** Each member's scores, in the ensemble's label order, behind a combined vector. */
  memberScoresOf(combined: Float32Array): readonly Float32Array[] | null;
}

export interface MemberPrediction {
  modelId: number;
  labelIdx: number[];
  scores: number[];
  floor: number;
}

/**
 * Each member's scores of the labels kept of the combined vector (`keptIdx`, ensemble label indices), as its own
 * prediction: its own label indices, ascending.
 */
export function memberPredictions(
  ensemble: EnsembleMembers,
  members: readonly Float32Array[],
  keptIdx: readonly number[],
  floor: number,
): MemberPrediction[] {
  return members.map((scores, m) => {
    const index = ensemble.memberIndex[m]!;
    const pairs = keptIdx.map((i) => [index[i]!, scores[i]!] as const).sort((a, b) => a[0] - b[0]);
    return { modelId: ensemble.modelIds[m]!, labelIdx: pairs.map((p) => p[0]), scores: pairs.map((p) => p[1]), floor };
  });
}

/** The drafts with the vote behind each one the combined scores made (drafts of another model are left alone). */
export function withVotes(
  drafts: readonly ModelDraft[],
  ensemble: EnsembleMembers,
  context: DiffContext,
  combined: Float32Array,
  members: readonly Float32Array[],
): ModelDraft[] {
  return drafts.map((draft) => {
    if (draft.modelId !== undefined) return draft;
    const candidates =
      draft.action === 'rating'
        ? [...context.index.ratingLabels].filter(([, rating]) => `rating:${rating}` === draft.tag).map(([i]) => i)
        : (context.index.labelsOfTag.get(draft.tag) ?? []);
    const vote: EnsembleVote | null = voteOfSuggestion(
      draft.score,
      candidates,
      combined,
      members,
      ensemble.names,
      ensemble.combination,
    );
    return vote ? { ...draft, votes: vote } : draft;
  });
}
