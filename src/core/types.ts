/**
 * Pure domain types shared by every layer. Nothing here knows about HTTP, databases, images or ONNX.
 */

/** Danbooru's ratings since 2022-05-22: general, sensitive, questionable, explicit. */
export type Rating = 'g' | 's' | 'q' | 'e';
export const RATINGS: readonly Rating[] = ['g', 's', 'q', 'e'];

/** Danbooru tag categories (other boorus are mapped onto these). 9 is the models' rating pseudo-category. */
export const TagCategory = {
  general: 0,
  artist: 1,
  copyright: 3,
  character: 4,
  meta: 5,
  rating: 9,
} as const;
export type TagCategoryName = keyof typeof TagCategory;

export type BooruKind = 'danbooru' | 'e621' | 'moebooru' | 'gelbooru' | 'szurubooru';

/** One image variant a booru offers for a post. Sizes are null when the booru does not say. */
export interface MediaVariant {
  /** 180x180, 360x360, 720x720, sample, full, original, preview… */
  type: string;
  url: string;
  width: number | null;
  height: number | null;
  ext: string | null;
}

/** A post as every booru adapter returns it: every field a booru may hide is nullable. */
export interface BooruPost {
  remoteId: number;
  md5: string | null;
  rating: Rating | null;
  /** Sorted, unique, lowercase. */
  tags: string[];
  fileUrl: string | null;
  previewUrl: string | null;
  variants: MediaVariant[];
  width: number | null;
  height: number | null;
  fileExt: string | null;
  fileSize: number | null;
  isDeleted: boolean;
  isBanned: boolean;
  isPending: boolean;
  /** The booru's updated_at as an instant; null when absent. */
  updatedAt: Date | null;
}

/** One output of a tagger model. */
export interface ModelLabel {
  name: string;
  /** 0 general, 4 character, 9 rating… */
  category: number;
}

/** Scores of one image: `scores[i]` belongs to `labels[i]` of the model. */
export type ScoreVector = Float32Array;

export type SuggestionAction = 'add' | 'remove' | 'rating';

/** What the diff proposes; the worker stores it as a pending suggestion. */
export interface SuggestionDraft {
  /** Canonical booru tag name; `rating:x` for a rating change. */
  tag: string;
  action: SuggestionAction;
  category: number | null;
  score: number;
  reason: string;
}

/** A change to one post's tags, expressed against the snapshot the diff saw. */
export interface TagChange {
  /** The post's tags when the diff ran (sorted). */
  snapshot: string[];
  add: string[];
  remove: string[];
  /** A rating change: `from` is the rating the diff saw, `to` the one approved. */
  rating?: { from: Rating | null; to: Rating } | undefined;
}

/** What became of one tag of an applied change. */
export type ApplyOutcome = 'applied' | 'already_applied' | 'refused' | 'conflicted';
