/**
 * Several tag models voting, as one {@link Tagger}: every image goes through each model (models with the same recipe
 * share one preprocessing), their scores are aligned on the labels all of them have and combined label by label
 * (`src/core/ensemble.ts`: mean, or at least K of N). The worker diffs the combined vector as it would a single
 * model's, and asks {@link EnsembleTagger.memberScoresOf} for each model's own scores to store them and to record the
 * vote on each suggestion.
 */
import { createHash } from 'node:crypto';
import {
  alignEnsembleLabels,
  combineScoreVectors,
  type EnsembleCombination,
  type EnsembleLabels,
  formatEnsembleCombination,
} from '../core/ensemble.js';
import type { ModelLabel, ScoreVector } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import { type ExecutionProvider, predictImagesWith, type Tagger, type TaggerModelInfo } from './tagger.js';

export class EnsembleTagger implements Tagger {
  readonly model: TaggerModelInfo;
  readonly labels: readonly ModelLabel[];
  readonly inputSize: number;
  /** Where each ensemble label sits in each member's output. */
  readonly alignment: EnsembleLabels;
  /** Members that share a preprocessing recipe share one tensor: `recipeOf[m]` is the first member with m's recipe. */
  private readonly recipeOf: number[];
  /** The tensors of every member behind the tensor {@link preprocess} returned. */
  private readonly tensorsOf = new WeakMap<Float32Array, Float32Array[]>();
  /** Each member's aligned scores behind a combined vector {@link predictBatch} returned. */
  private readonly membersOf = new WeakMap<ScoreVector, Float32Array[]>();

  constructor(
    readonly members: readonly Tagger[],
    readonly combination: EnsembleCombination,
  ) {
    if (members.length < 2) throw new Error('an ensemble needs at least two models');
    this.alignment = alignEnsembleLabels(members.map((m) => m.labels));
    if (this.alignment.labels.length === 0) {
      throw new AppError(
        'MODEL_INVALID',
        `the ensemble's models share no label: ${members.map((m) => `${m.model.name}@${m.model.version}`).join(', ')}`,
      );
    }
    this.labels = this.alignment.labels;
    const recipes = members.map((m) => JSON.stringify(m.model.recipe));
    this.recipeOf = recipes.map((recipe) => recipes.indexOf(recipe));
    this.inputSize = Math.max(...members.map((m) => m.inputSize));
    const first = members[0]!.model;
    const name = formatEnsembleCombination(combination);
    this.model = {
      name: 'ensemble',
      version: `${name}(${this.memberNames.join('+')})`,
      // Identifies the combination of these exact files: another combination or another member is another model.
      sha256: createHash('sha256')
        .update(JSON.stringify({ combination: name, members: members.map((m) => m.model.sha256) }))
        .digest('hex'),
      family: first.family,
      purpose: 'tags',
      labels: this.labels,
      ...(first.manifestThresholds ? { manifestThresholds: first.manifestThresholds } : {}),
      recipe: first.recipe,
    };
  }

  /** `name@version` of each member, in the configured order. */
  get memberNames(): string[] {
    return this.members.map((m) => `${m.model.name}@${m.model.version}`);
  }

  get provider(): ExecutionProvider {
    return this.members[0]!.provider;
  }

  async preprocess(image: Buffer): Promise<Float32Array> {
    const tensors: Float32Array[] = [];
    for (let m = 0; m < this.members.length; m++) {
      const shared = this.recipeOf[m]!;
      tensors.push(shared === m ? await this.members[m]!.preprocess(image) : tensors[shared]!);
    }
    const handle = tensors[0]!;
    this.tensorsOf.set(handle, tensors);
    return handle;
  }

  async predictBatch(tensors: readonly Float32Array[]): Promise<ScoreVector[]> {
    const parts = tensors.map((tensor) => {
      const found = this.tensorsOf.get(tensor);
      if (!found) throw new AppError('MODEL_RUNTIME', 'an ensemble scores only tensors its own preprocess made');
      return found;
    });
    // aligned[m][b]: member m's scores of image b, in the ensemble's label order.
    const aligned: Float32Array[][] = [];
    for (let m = 0; m < this.members.length; m++) {
      const raw = await this.members[m]!.predictBatch(parts.map((p) => p[m]!));
      const index = this.alignment.memberIndex[m]!;
      aligned.push(raw.map((scores) => Float32Array.from(index, (i) => scores[i]!)));
    }
    return tensors.map((_, b) => {
      const members = aligned.map((perImage) => perImage[b]!);
      const combined = combineScoreVectors(members, this.combination);
      this.membersOf.set(combined, members);
      return combined;
    });
  }

  /** Gives each member back the tensors it made for these handles (a shared tensor once, to its maker). */
  recycle(handles: readonly Float32Array[]): void {
    for (const handle of handles) {
      const parts = this.tensorsOf.get(handle);
      if (!parts) continue;
      this.tensorsOf.delete(handle);
      parts.forEach((tensor, m) => {
        if (this.recipeOf[m] === m) this.members[m]!.recycle?.([tensor]);
      });
    }
  }

  /** Each member's scores (in the ensemble's label order) behind a combined vector this tagger returned, or null. */
  memberScoresOf(combined: ScoreVector): readonly Float32Array[] | null {
    return this.membersOf.get(combined) ?? null;
  }

  predictImages(images: readonly Buffer[]): Promise<Array<ScoreVector | AppError>> {
    return predictImagesWith(this, images);
  }

  async close(): Promise<void> {
    for (const member of this.members) await member.close();
  }
}
