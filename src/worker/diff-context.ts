/**
 * Everything the diff needs besides the post and its scores, built once per run: the model's labels mapped onto the
 * booru's current names, the implication graph, the policy, and the tag-sync generation they came from. A context
 * whose vocabulary is not fresh (src/core/vocabulary-freshness.ts) diffs nothing: posts are scored and stored, and
 * their diff waits for a fresh sync.
 */
import { withLearnedPolicy } from '../core/diff-policy.js';
import { ImplicationGraph } from '../core/implications.js';
import { buildDiffIndex, computeTagDiff, type DiffIndex, type DiffPolicy } from '../core/tag-diff.js';
import type { TagThresholdOverride } from '../core/thresholds.js';
import { type BooruTagFacts, type LabelMapping, mapLabelsToBooru } from '../core/tag-vocabulary.js';
import type { ModelLabel, Rating, SuggestionDraft } from '../core/types.js';
import type { VocabularyFreshness } from '../core/vocabulary-freshness.js';

export { withLearnedPolicy };

export interface DiffContext {
  labels: readonly ModelLabel[];
  mapping: LabelMapping;
  implications: ImplicationGraph;
  policy: DiffPolicy;
  index: DiffIndex;
  /** The tag-sync generation the facts come from, or null when it is not fresh: then nothing is diffed. */
  generation: number | null;
  /** Why diffs wait (null when the vocabulary is fresh). */
  waitReason: string | null;
}

export function buildDiffContext(
  labels: readonly ModelLabel[],
  facts: BooruTagFacts,
  implications: Iterable<readonly [string, string]>,
  policy: DiffPolicy,
  vocabulary: VocabularyFreshness,
): DiffContext {
  const mapping = mapLabelsToBooru(labels, facts);
  return {
    generation: vocabulary.generation,
    waitReason: vocabulary.fresh ? null : vocabulary.reason,
    labels,
    mapping,
    implications: new ImplicationGraph(implications),
    policy,
    index: buildDiffIndex(labels, mapping, policy),
  };
}

/** Where the learned per-tag thresholds of a booru come from (src/db/threshold.repository.ts). */
export interface LearnedThresholdSource {
  /** The learned overrides in force now: empty when learned thresholds are switched off for the booru. */
  loadActiveOverrides(booruId: number): Promise<ReadonlyMap<string, TagThresholdOverride>>;
}

/** The context with learned thresholds laid over its policy (the label mapping and implications are reused). */
export function withLearnedThresholds(
  context: DiffContext,
  learned: ReadonlyMap<string, TagThresholdOverride>,
): DiffContext {
  if (learned.size === 0) return context;
  const policy = withLearnedPolicy(context.policy, learned);
  return { ...context, policy, index: buildDiffIndex(context.labels, context.mapping, policy) };
}

/** Where the tag facts of a booru come from (src/db/tag.repository.ts). */
export interface TagFactsSource {
  loadFacts(booruId: number): Promise<{ facts: BooruTagFacts; implications: Iterable<readonly [string, string]> }>;
}

/**
 * The one way every diff gets its context (`run --once`, the tag loop, the re-diff and the upload page): the booru's
 * tag facts as stored now, the policy (src/core/diff-policy.ts) with the learned thresholds in force laid over it
 * when a source is given, and the vocabulary's freshness.
 */
export async function resolveDiffContext(
  sources: { tags: TagFactsSource; thresholds?: LearnedThresholdSource | undefined },
  input: {
    booruId: number;
    labels: readonly ModelLabel[];
    policy: DiffPolicy;
    vocabulary: VocabularyFreshness;
  },
): Promise<DiffContext> {
  const [{ facts, implications }, learned] = await Promise.all([
    sources.tags.loadFacts(input.booruId),
    sources.thresholds?.loadActiveOverrides(input.booruId) ?? new Map<string, TagThresholdOverride>(),
  ]);
  return buildDiffContext(
    input.labels,
    facts,
    implications,
    withLearnedPolicy(input.policy, learned),
    input.vocabulary,
  );
}

export function diffPost(
  context: DiffContext,
  post: { tags: readonly string[]; rating: string | null },
  scores: ArrayLike<number>,
  floor: number,
): SuggestionDraft[] {
  return computeTagDiff({
    ...context,
    tags: post.tags,
    rating: (post.rating as Rating | null) ?? null,
    scores,
    floor,
  });
}

/**
 * The scores worth storing (DESIGN §1 step 6): the top `topK` at or above `floor`, plus every label that names a tag
 * on the post (needed to judge removals later), as parallel arrays sorted by label index.
 */
export function compactScores(
  scores: Float32Array,
  context: DiffContext,
  postTags: readonly string[],
  floor: number,
  topK: number,
): { labelIdx: number[]; scores: number[] } {
  const keep = new Set<number>();
  const ranked: number[] = [];
  for (let i = 0; i < scores.length; i++) if ((scores[i] ?? 0) >= floor) ranked.push(i);
  ranked.sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0));
  for (const i of ranked.slice(0, topK)) keep.add(i);
  for (const tag of postTags) for (const i of context.index.labelsOfTag.get(tag) ?? []) keep.add(i);
  for (const [i] of context.index.ratingLabels) keep.add(i);
  const labelIdx = [...keep].sort((a, b) => a - b);
  return { labelIdx, scores: labelIdx.map((i) => scores[i] ?? 0) };
}
