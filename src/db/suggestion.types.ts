/** The shapes SuggestionRepository takes and returns (the suggestion itself is src/core/types.ts's `Suggestion`). */
import type {
  ApprovedSuggestion,
  BooruKind,
  Rating,
  ReviewSuggestion,
  Suggestion,
  SuggestionAction,
} from '../core/types.js';
import type { SuggestionStatus } from '../core/states.js';

export { SUGGESTION_STATUSES, type SuggestionStatus } from '../core/states.js';
export type { ReviewSuggestion, SuggestionAction };

/** A suggestion as lists show it: with the post's id on the booru. */
export type SuggestionRow = Pick<
  Suggestion,
  'id' | 'postId' | 'tag' | 'action' | 'category' | 'score' | 'reason' | 'status' | 'modelId' | 'createdAt'
> & { remoteId: number };

interface Decider {
  /** null for a decision made from the command line by a name with no account. */
  id: number | null;
  name: string;
}

export interface DecideInput {
  ids: readonly number[];
  verdict: 'approve' | 'reject';
  user: Decider;
  /** IP address, `cli`, `api`… */
  origin: string | null;
}

export interface DecideResult {
  changed: number[];
  skipped: { id: number; why: string }[];
}

export interface ApprovedPostGroup {
  post: { id: number; remoteId: number; tags: string[]; rating: Rating | null; tagsVersion: number };
  suggestions: ApprovedSuggestion[];
}

/** What became of one suggestion of a write-back. */
interface ApplyOutcomeInput {
  suggestionId: number;
  status: 'applied' | 'failed' | 'already_applied';
  /** The finer verdict (applied, already_applied, refused, conflicted…). */
  outcome: string;
  error?: string;
}

export interface RecordApplyInput {
  postId: number;
  edit: { oldTagString: string; newTagString: string; resultTags: string[]; outcome: string; error?: string };
  outcomes: readonly ApplyOutcomeInput[];
  /** Who applied. (Default: the system actor `apply`.) */
  actor?: Decider;
  origin?: string | null;
}

export interface RecordApplyResult {
  tagEditId: number;
  /** Suggestions moved out of `approved`. */
  updated: number[];
  /** Suggestions that were not approved (decided again meanwhile) or belong to another post: left alone. */
  skipped: number[];
}

/** What the queue shows. Every field narrows it; `status` defaults to pending. */
export interface QueueFilter {
  status?: SuggestionStatus;
  action?: SuggestionAction;
  /** Tag category of the suggestion (0 general, 4 character…). */
  category?: number;
  minScore?: number;
  maxScore?: number;
  /** Exact tag name. */
  tag?: string;
  modelId?: number;
  booruId?: number;
}

export type FacetKey = 'action' | 'category' | 'modelId' | 'booruId';

/** Counts per value of one filter, under all the other filters. */
export type Facets = Record<FacetKey, { value: string; count: number }[]>;

export type QueueSort = 'newest' | 'oldest' | 'score';

export interface TagSummaryRow {
  tag: string;
  action: SuggestionAction;
  category: number | null;
  count: number;
  maxScore: number;
}

export interface GridItem {
  suggestion: ReviewSuggestion;
  post: { id: number; remoteId: number; previewUrl: string | null; booruKind: BooruKind; tags: string[] };
}

/** An approved, not yet applied change of one post's tags or rating. */
export interface ApprovedChange {
  postId: number;
  tag: string;
  action: 'add' | 'remove' | 'rating';
}
