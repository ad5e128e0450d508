/** The domain shapes PostRepository takes and returns. */
import type { PostState } from '../core/states.js';
import type { BooruKind, BooruPost, Rating, ReviewSuggestion } from '../core/types.js';
import type { AuditView } from './audit.repository.js';

export { POST_STATES, type PostState } from '../core/states.js';

/** A crawled post plus what the crawler decided: the image to tag, or why the post is not taggable. */
export type PostUpsert = BooruPost & { mediaUrl: string | null; skipReason: string | null };

export interface UpsertResult {
  inserted: number;
  /** Existing posts where any stored field differed (unchanged posts are not written). */
  updated: number;
  /** Existing posts whose tag set or rating changed (their tagsVersion was bumped). */
  changed: number;
}

/** A post a worker holds a lease on. */
export interface ClaimedPost {
  id: number;
  remoteId: number;
  md5: string | null;
  rating: Rating | null;
  tags: string[];
  tagsVersion: number;
  mediaUrl: string | null;
  /** Including this claim. */
  attempts: number;
}

export interface ClaimOptions {
  booruId: number;
  /** Identifies the worker (host:pid:uuid); only the owner may complete the post. */
  owner: string;
  limit: number;
  /** How long the lease lasts before another worker may take the post over. */
  leaseMs: number;
  /**
   * A post whose lease expired this many times (its worker crashed or hung on it) is marked failed instead of being
   * claimed again. (Default: unlimited.)
   */
  maxAttempts?: number;
}

/** A stored post, as the pipeline sees it. */
export interface StoredPost {
  id: number;
  booruId: number;
  remoteId: number;
  md5: string | null;
  rating: Rating | null;
  tags: string[];
  tagsVersion: number;
  mediaUrl: string | null;
  state: PostState;
  attempts: number;
  lastError: string | null;
  skipReason: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  isDeleted: boolean;
  isBanned: boolean;
  isPending: boolean;
}

export interface MarkFailedOptions {
  /** Whether another attempt may help (a timeout, a 5xx); false for a corrupt image. */
  retry: boolean;
  maxAttempts: number;
  /** When given, only the lease owner may fail the post. */
  owner?: string;
}

/** A post as the review pages show it. */
export interface ReviewPost {
  id: number;
  booruId: number;
  booruName: string;
  booruKind: BooruKind;
  booruUrl: string;
  remoteId: number;
  rating: string | null;
  tags: string[];
  /** Category of each current tag the synced tag list knows (absent: unknown). */
  tagCategories: Record<string, number>;
  previewUrl: string | null;
  /** The largest image worth showing in the queue: the booru's sample variant, else its preview. */
  sampleUrl: string | null;
  width: number | null;
  height: number | null;
  state: PostState;
  lastError: string | null;
  skipReason: string | null;
}

export interface QueuePost extends ReviewPost {
  suggestions: ReviewSuggestion[];
}

interface PredictionView {
  modelId: number;
  modelName: string;
  modelVersion: string;
  createdAt: Date;
  tagsVersion: number;
  /** Highest first. */
  scores: { label: string; score: number }[];
}

interface TagEditView {
  id: number;
  suggestionIds: number[];
  oldTagString: string;
  newTagString: string;
  resultTags: string[];
  outcome: string;
  error: string | null;
  createdAt: Date;
}

/** A post with every suggestion, score set, decision and write-back it ever had. */
export interface PostDetail {
  post: ReviewPost;
  suggestions: ReviewSuggestion[];
  predictions: PredictionView[];
  decisions: AuditView[];
  tagEdits: TagEditView[];
}
