/**
 * Rating suggestions from a content classifier whose classes are not booru ratings (NSFWJS: drawing, hentai,
 * neutral, porn, sexy). The mapping onto Danbooru's ratings:
 *
 * | classes              | rating |
 * |----------------------|--------|
 * | drawing + neutral    | g      |
 * | sexy                 | s      |
 * | hentai + porn        | q or e |
 *
 * Such a model cannot tell questionable from explicit, so it never moves a post between q and e, and it proposes q
 * (the milder) when it finds explicit content on a post rated g or s; a moderator picks e where it applies. Lowering
 * a q or e post to g is off unless a threshold is set.
 */
import type { ModelLabel, Rating, SuggestionDraft } from './types.js';
import { TagCategory } from './types.js';

export interface RatingClassPolicy {
  /** hentai + porn at or above this on a g or s post ⇒ suggest q. */
  explicit: number;
  /** sexy at or above this on a g post ⇒ suggest s. */
  sensitive: number;
  /** drawing + neutral at or above this on a q or e post ⇒ suggest g; null ⇒ never. */
  safe: number | null;
  /** The booru's rating scale (see `DiffPolicy.ratingScale`): a rating it would store as the post's own is never proposed. */
  ratingScale?: Readonly<Partial<Record<Rating, Rating>>>;
}

export const DEFAULT_RATING_CLASS_POLICY: RatingClassPolicy = { explicit: 0.8, sensitive: 0.8, safe: null };

const GROUPS: Record<string, 'safe' | 'sensitive' | 'explicit'> = {
  drawing: 'safe',
  neutral: 'safe',
  sexy: 'sensitive',
  hentai: 'explicit',
  porn: 'explicit',
};

/** True when the model's labels are content classes this module understands. */
export function isContentClassifier(labels: readonly ModelLabel[]): boolean {
  return labels.length > 0 && labels.every((label) => label.name.toLowerCase() in GROUPS);
}

export function suggestRatingFromClasses(
  labels: readonly ModelLabel[],
  scores: ArrayLike<number>,
  current: Rating | null,
  policy: RatingClassPolicy,
  modelName: string,
): SuggestionDraft | null {
  if (current === null) return null;
  const sum = { safe: 0, sensitive: 0, explicit: 0 };
  labels.forEach((label, i) => {
    const group = GROUPS[label.name.toLowerCase()];
    if (group) sum[group] += scores[i] ?? 0;
  });
  const draft = (to: Rating, score: number, why: string): SuggestionDraft => ({
    tag: `rating:${to}`,
    action: 'rating',
    category: TagCategory.rating,
    score,
    reason: `${modelName}: ${why}`,
  });
  const fmt = (n: number) => n.toFixed(2);
  const stored = (rating: Rating): Rating => policy.ratingScale?.[rating] ?? rating;
  const storable = (to: Rating) => stored(to) !== stored(current);
  if ((current === 'g' || current === 's') && storable('q') && sum.explicit >= Math.fround(policy.explicit)) {
    return draft(
      'q',
      sum.explicit,
      `hentai + porn ${fmt(sum.explicit)} ≥ ${fmt(policy.explicit)} on a ${current} post`,
    );
  }
  if (current === 'g' && storable('s') && sum.sensitive >= Math.fround(policy.sensitive)) {
    return draft('s', sum.sensitive, `sexy ${fmt(sum.sensitive)} ≥ ${fmt(policy.sensitive)} on a g post`);
  }
  if (
    (current === 'q' || current === 'e') &&
    storable('g') &&
    policy.safe !== null &&
    sum.safe >= Math.fround(policy.safe)
  ) {
    return draft('g', sum.safe, `drawing + neutral ${fmt(sum.safe)} ≥ ${fmt(policy.safe)} on a ${current} post`);
  }
  return null;
}
