/**
 * The diff (DESIGN §3): from a post's current tags and a model's scores to suggested additions, removals and a
 * rating change. Pure: the same input always gives the same suggestions, in the same order.
 */
import type { ImplicationGraph } from './implications.js';
import type { LabelMapping } from './tag-vocabulary.js';
import { mcutByCategory, resolveAddThreshold, type TagThresholdOverride } from './thresholds.js';
import { type ModelLabel, type Rating, RATINGS, type SuggestionDraft, TagCategory } from './types.js';

/** Tags the booru computes itself from the file (BOORU-API §1.5): never proposed for removal. */
export const AUTOMATIC_TAGS: ReadonlySet<string> = new Set([
  'highres',
  'absurdres',
  'incredibly_absurdres',
  'lowres',
  'wide_image',
  'tall_image',
  'animated',
  'animated_gif',
  'animated_png',
  'video',
  'ugoira',
  'flash',
  'sound',
  'greyscale',
  'exif_rotation',
  'non-repeating_animation',
  'non-web_source',
  'ai-generated',
  'bad_link',
  'bad_source',
  'tagme',
]);

export interface DiffPolicy {
  /** Add threshold per category; a category without one is never proposed for addition (artist, meta). */
  addThresholds: ReadonlyMap<number, number>;
  /** A tag on the post scoring at most this is proposed for removal. */
  removeThreshold: number;
  /** Categories whose tags may be proposed for removal (general by default; never artist or meta). */
  removableCategories: ReadonlySet<number>;
  /** Per-tag thresholds, overriding the category ones. */
  perTag: ReadonlyMap<string, TagThresholdOverride>;
  /** The model's rating must beat the post's rating by this much for a rating suggestion. */
  ratingMargin: number;
  /**
   * Where the booru keeps fewer ratings than Danbooru's four, the rating each is stored (and read back) as, e.g.
   * Szurubooru's three safeties store s as g. The model's probabilities are pooled by what the booru can store and
   * only a storable rating is ever proposed, so no rating suggestion is one the booru cannot hold. (Default: all four)
   */
  ratingScale?: Readonly<Partial<Record<Rating, Rating>>>;
  /**
   * Categories whose add threshold is MCut over the image's scores instead of the fixed one, each with a floor the
   * MCut threshold never goes below (core/thresholds.ts). Per-tag thresholds still win. (Default: none)
   */
  mcut?: ReadonlyMap<number, number>;
  /**
   * A rejected suggestion is raised again only when its new score beats the rejected one by at least this much
   * (TAGGER_REJECT_MARGIN; applied where suggestions are stored).
   */
  rejectMargin: number;
}

export interface DiffInput {
  /** The post's current tags. */
  tags: readonly string[];
  rating: Rating | null;
  labels: readonly ModelLabel[];
  /** `scores[i]` belongs to `labels[i]`. */
  scores: ArrayLike<number>;
  /** Scores below this were not stored (stored predictions are top-K above a floor); 0 for fresh inference. */
  floor: number;
  mapping: LabelMapping;
  implications: ImplicationGraph;
  /**
   * Per-vocabulary facts computed once ({@link buildDiffIndex}); without one the diff builds it for this call. With
   * ~10,000 labels this is what keeps the diff at tens of microseconds per post.
   */
  index?: DiffIndex;
  policy: DiffPolicy;
}

const CATEGORY_NAMES = new Map<number, string>(Object.entries(TagCategory).map(([name, id]) => [id, name]));

/** Computes the suggestions for one post. Output order: additions, removals, rating; each by score, then name. */
export function computeTagDiff(input: DiffInput): SuggestionDraft[] {
  const { tags, policy, implications } = input;
  const onPost = new Set(tags);
  const impliedByPost = implications.impliedBy(onPost);
  const index = input.index ?? buildDiffIndex(input.labels, input.mapping, policy);
  const best = bestScoreByTag(input, index, tags);
  const mcut =
    policy.mcut === undefined || policy.mcut.size === 0
      ? new Map<number, number>()
      : mcutByCategory(input.labels, input.scores, policy.mcut);

  const adds: SuggestionDraft[] = [];
  const removes: SuggestionDraft[] = [];
  for (const [tag, { score, category }] of best) {
    const categoryName = CATEGORY_NAMES.get(category) ?? `category ${category}`;
    if (!onPost.has(tag)) {
      const resolved = resolveAddThreshold(tag, category, categoryName, policy, mcut);
      // Scores are float32: compare at that precision, so a score printed as 0.35 meets a 0.35 threshold.
      if (resolved === null || score < Math.fround(resolved.threshold) || impliedByPost.has(tag)) continue;
      const { threshold, source } = resolved;
      adds.push({ tag, action: 'add', category, score, reason: `score ${fmt(score)} ≥ ${fmt(threshold)} (${source})` });
      continue;
    }
    if (!policy.removableCategories.has(category) || AUTOMATIC_TAGS.has(tag)) continue;
    const threshold = policy.perTag.get(tag)?.remove ?? policy.removeThreshold;
    const unknownBelowFloor = score < input.floor;
    // A score below the storage floor is only known to be < floor: it proves nothing when floor > threshold.
    if (unknownBelowFloor ? input.floor > threshold : score > Math.fround(threshold)) continue;
    const shown = unknownBelowFloor ? `< ${fmt(input.floor)}` : fmt(score);
    removes.push({
      tag,
      action: 'remove',
      category,
      score: unknownBelowFloor ? 0 : score,
      reason: `score ${shown} ≤ ${fmt(threshold)}; implied by nothing`,
    });
  }
  const kept =
    removes.length === 0 ? removes : withoutImpliedRemovals(removes, tags, adds, implications, impliedByPost);
  const rating = diffRating(input, index);
  return [...adds.sort(byScoreThenTag), ...kept.sort(byScoreAscThenTag), ...(rating ? [rating] : [])];
}

/**
 * Keeps only the removals no tag the post keeps after the edit implies (a tag staying, or one this diff adds): the
 * booru would refuse those. A tag implied only by tags that are removed too goes with them, so that applying the
 * suggestions and diffing again proposes nothing more; its reason names them.
 */
function withoutImpliedRemovals(
  removes: SuggestionDraft[],
  tags: readonly string[],
  adds: readonly SuggestionDraft[],
  implications: ImplicationGraph,
  impliedByPost: ReadonlySet<string>,
): SuggestionDraft[] {
  let kept = removes;
  for (;;) {
    const removed = new Set(kept.map((draft) => draft.tag));
    const staying = [...adds.map((draft) => draft.tag), ...tags.filter((tag) => !removed.has(tag))];
    const implied = implications.impliedBy(staying);
    const next = kept.filter((draft) => !implied.has(draft.tag));
    if (next.length === kept.length) break;
    kept = next;
  }
  return kept.map((draft) => {
    if (!impliedByPost.has(draft.tag)) return draft;
    const impliers = implications.impliersOf(draft.tag, tags);
    return {
      ...draft,
      reason: draft.reason.replace(/implied by nothing$/, `implied only by ${impliers.sort().join(', ')}, removed too`),
    };
  });
}

/**
 * The highest score per canonical tag (several labels may alias to one tag), over the only labels that can matter:
 * those at or above the lowest add threshold they could get, and those naming a tag on the post. Every other label
 * can neither be added nor removed, so skipping it changes nothing.
 */
function bestScoreByTag(
  input: DiffInput,
  index: DiffIndex,
  tags: readonly string[],
): Map<string, { score: number; category: number }> {
  const best = new Map<string, { score: number; category: number }>();
  const { canonical, category } = input.mapping;
  const consider = (i: number) => {
    const tag = canonical[i];
    if (tag === null || tag === undefined) return;
    const score = input.scores[i] ?? 0;
    const seen = best.get(tag);
    if (seen === undefined || score > seen.score) best.set(tag, { score, category: category[i] ?? 0 });
  };
  const { addFloor } = index;
  const scores = input.scores;
  for (let i = 0; i < addFloor.length; i++) if ((scores[i] as number) >= (addFloor[i] as number)) consider(i);
  for (const tag of tags) for (const i of index.labelsOfTag.get(tag) ?? []) consider(i);
  return best;
}

/** Facts about a vocabulary under a policy, computed once per model and booru rather than once per post. */
export interface DiffIndex {
  /** Per label: the lowest add threshold it could ever get (Infinity when it is never added). */
  addFloor: Float32Array;
  /** Canonical tag → the labels that map to it. */
  labelsOfTag: ReadonlyMap<string, readonly number[]>;
  /** The rating labels with the rating each stands for. */
  ratingLabels: readonly (readonly [index: number, rating: Rating])[];
}

export function buildDiffIndex(labels: readonly ModelLabel[], mapping: LabelMapping, policy: DiffPolicy): DiffIndex {
  const addFloor = new Float32Array(labels.length).fill(Number.POSITIVE_INFINITY);
  const labelsOfTag = new Map<string, number[]>();
  const ratingLabels: [number, Rating][] = [];
  labels.forEach((label, i) => {
    if (label.category === TagCategory.rating) {
      const rating = ratingOfLabel(label.name);
      if (rating !== null) ratingLabels.push([i, rating]);
    }
    const tag = mapping.canonical[i];
    if (tag === null || tag === undefined) return;
    labelsOfTag.set(tag, [...(labelsOfTag.get(tag) ?? []), i]);
    const category = mapping.category[i] ?? 0;
    const candidates = [
      policy.perTag.get(tag)?.add,
      policy.addThresholds.get(category),
      policy.mcut?.get(category),
    ].filter((t): t is number => t !== undefined);
    // Scores are compared at float32 precision (see computeTagDiff).
    if (candidates.length > 0) addFloor[i] = Math.fround(Math.min(...candidates));
  });
  return { addFloor, labelsOfTag, ratingLabels };
}

/**
 * The rating label names of the model families, mapped onto Danbooru's ratings: WD's `general|sensitive|
 * questionable|explicit` one to one; DeepDanbooru's `rating:safe|questionable|explicit` as safe→g, questionable→q,
 * explicit→e (`rating:safe` predates Danbooru's 2022 split of safe into general and sensitive, so a DeepDanbooru
 * model never proposes s); the short forms g/s/q/e too. Other names (an NSFW classifier's `porn`…) map to null.
 */
export function ratingOfLabel(name: string): Rating | null {
  const bare = name.toLowerCase().replace(/^rating:/, '');
  switch (bare) {
    case 'g':
    case 'general':
    case 'safe':
      return 'g';
    case 's':
    case 'sensitive':
      return 's';
    case 'q':
    case 'questionable':
      return 'q';
    case 'e':
    case 'explicit':
      return 'e';
    default:
      return null;
  }
}

function diffRating(input: DiffInput, index: DiffIndex): SuggestionDraft | null {
  const scale = input.policy.ratingScale;
  const stored = (rating: Rating): Rating => scale?.[rating] ?? rating;
  const probability = new Map<Rating, number>();
  for (const [i, label] of index.ratingLabels) {
    const rating = stored(label);
    probability.set(rating, (probability.get(rating) ?? 0) + (input.scores[i] ?? 0));
  }
  if (probability.size === 0 || input.rating === null) return null;
  const postRating = stored(input.rating);
  let predicted: Rating = 'g';
  let top = -1;
  for (const rating of RATINGS) {
    const p = probability.get(rating);
    if (p !== undefined && p > top) {
      predicted = rating;
      top = p;
    }
  }
  if (predicted === postRating) return null;
  const current = probability.get(postRating) ?? 0;
  if (top - current < input.policy.ratingMargin) return null;
  return {
    tag: `rating:${predicted}`,
    action: 'rating',
    category: TagCategory.rating,
    score: top,
    reason: `rating ${predicted} ${fmt(top)} vs current ${postRating} ${fmt(current)} (margin ${fmt(input.policy.ratingMargin)})`,
  };
}

function fmt(value: number): string {
  return value >= 0.01 || value === 0 ? value.toFixed(2) : String(Number(value.toPrecision(2)));
}

function byScoreThenTag(a: SuggestionDraft, b: SuggestionDraft): number {
  return b.score - a.score || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0);
}

function byScoreAscThenTag(a: SuggestionDraft, b: SuggestionDraft): number {
  return a.score - b.score || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0);
}
