/** The domain shapes SuggestionRepository takes and returns. */
import type { Rating, SuggestionAction, SuggestionDraft } from '../core/types.js';

export type SuggestionStatus =
  | 'pending'
  | 'approved'
  | 'rejected'
  | 'applied'
  | 'failed'
  | 'superseded'
  | 'already_applied';
export const SUGGESTION_STATUSES: readonly SuggestionStatus[] = [
  'pending',
  'approved',
  'rejected',
  'applied',
  'failed',
  'superseded',
  'already_applied',
];

export interface ReplacePendingInput {
  postId: number;
  modelId: number;
  /** The post's tagsVersion the diff saw. */
  tagsVersion: number;
  drafts: readonly SuggestionDraft[];
  /** How much stronger a score must be to raise again what a moderator rejected on this post. (Default: 0.1.) */
  rejectMargin?: number;
}

export interface ReplacePendingResult {
  created: number;
  /** Drafts that matched a pending suggestion, refreshed in place. */
  kept: number;
  /** Pending suggestions the new diff no longer proposes. */
  superseded: number;
  /** Drafts not raised: already decided (approved, applied) or rejected without a clearly stronger score. */
  suppressed: number;
}

/** A suggestion as lists show it. */
export interface SuggestionRow {
  id: number;
  postId: number;
  /** The post's id on the booru. */
  remoteId: number;
  tag: string;
  action: SuggestionAction;
  category: number | null;
  score: number;
  reason: string;
  status: SuggestionStatus;
  modelId: number;
  createdAt: Date;
}

export interface Decider {
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

/** An approved suggestion waiting to be written back. */
export interface ApprovedSuggestion {
  id: number;
  tag: string;
  action: SuggestionAction;
  category: number | null;
  score: number;
  reason: string;
  modelId: number;
  /** The post's tagsVersion the diff saw. */
  tagsVersion: number;
}

export interface ApprovedPostGroup {
  post: { id: number; remoteId: number; tags: string[]; rating: Rating | null; tagsVersion: number };
  suggestions: ApprovedSuggestion[];
}

/** What became of one suggestion of a write-back. */
export interface ApplyOutcomeInput {
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
