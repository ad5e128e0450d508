/**
 * Pure domain types shared by every layer. Nothing here knows about HTTP, databases, images or ONNX.
 */
import type { SuggestionStatus } from './states.js';

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

/** One model's score in a suggestion's vote. */
interface MemberVote {
  /** `name@version` of the model. */
  model: string;
  score: number;
}

/** What a suggestion records of the vote that made it. */
export interface EnsembleVote {
  /** `mean` or `vote:K`. */
  combination: string;
  /** Every model's score of the label the suggestion came from, in the configured order. */
  models: MemberVote[];
}

/**
 * A suggestion: the one shape every layer uses. Each use takes the view it needs ({@link ReviewSuggestion},
 * {@link ApprovedSuggestion}, {@link PlannedSuggestion}); src/db/suggestion.mapper.ts maps a row onto it.
 */
export interface Suggestion {
  id: number;
  postId: number;
  /** Canonical booru tag name; `rating:x` for a rating change. */
  tag: string;
  action: SuggestionAction;
  /** Tag category (0 general, 4 character…); null when unknown. */
  category: number | null;
  score: number;
  reason: string;
  status: SuggestionStatus;
  modelId: number;
  /** The post's tagsVersion the diff saw. */
  tagsVersion: number;
  /** Who decided (a user's name), or null. */
  decidedBy: string | null;
  decidedAt: Date | null;
  applyOutcome: string | null;
  applyError: string | null;
  appliedAt: Date | null;
  createdAt: Date;
  /** Several models voting: each model's score and the combination; null for a single model's suggestion. */
  votes: EnsembleVote | null;
}

/** A suggestion as the review pages and lists show it. */
export type ReviewSuggestion = Omit<Suggestion, 'tagsVersion'>;

/** An approved suggestion waiting to be written back. */
export type ApprovedSuggestion = Pick<
  Suggestion,
  'id' | 'tag' | 'action' | 'category' | 'score' | 'reason' | 'modelId' | 'tagsVersion'
>;

/** What a new diff reads of a post's earlier suggestions (src/core/suggestion-rules.ts). */
export type PlannedSuggestion = Pick<Suggestion, 'id' | 'tag' | 'action' | 'status' | 'score'>;
