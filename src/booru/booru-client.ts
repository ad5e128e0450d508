/**
 * The domain interface every booru adapter implements. Callers (crawl, tag, apply jobs) speak these words only;
 * transport, pagination quirks and JSON shapes stay inside the adapter.
 */
import type { TagEditOutcome } from '../core/tag-edit.js';
import type { BooruKind, BooruPost, Rating, TagChange } from '../core/types.js';

/** Limits for one media download. */
export interface MediaLimits {
  /** Abort past this many bytes (MEDIA_TOO_LARGE). */
  maxBytes: number;
  /** Whole-download deadline in ms. */
  timeoutMs: number;
  /** When given, only these host names may be fetched. */
  allowedHosts?: readonly string[];
  /**
   * A URL a dashboard viewer typed, not one the booru gave: no credentials are sent (not even to the booru's own
   * origin), and only ports 80 and 443, or the booru's own origin, are fetched. (Default: false)
   */
  untrusted?: boolean;
}

/**
 * What an edit did. The booru's PUT reply is never trusted (Danbooru answers 200 with the unsaved post when
 * validation fails): `after` is a fresh read, and each requested tag is classified against it.
 */
export interface TagEditResult {
  /** `post[old_tag_string]` as sent ('' when nothing was sent). */
  oldTagString: string;
  /** `post[tag_string]` as sent ('' when nothing was sent). */
  newTagString: string;
  /** The post read just before the edit. */
  before: BooruPost | null;
  /** The post read again after the edit. */
  after: BooruPost;
  /** False when nothing needed changing (every tag already as requested), so no write was sent. */
  sent: boolean;
  /** True when the booru stored a change: `updated_at` advanced or the tags differ from `before`. */
  saved: boolean;
  /** One entry per requested add, then per requested remove (sorted by tag). */
  outcomes: TagEditOutcome[];
}

/** What a dialect can do; callers (apply, rescan, tag sync, the dashboard) branch on these, never on `kind`. */
export interface BooruCapabilities {
  /** False where the booru has no tag-edit API (Gelbooru): its suggestions are report-only. */
  canEditTags: boolean;
  /** {@link BooruClient.listPostsByChange} works (the booru can order posts by last change). */
  canListChanges: boolean;
  /**
   * False where the change listing leaves out posts never edited since upload (Szurubooru: no last-edit time until
   * the first edit), so the re-scan cannot find a post the id listing skipped and the crawl must look below its
   * cursor itself. (Default: true wherever `canListChanges`)
   */
  changesIncludeNewPosts?: boolean;
  /** {@link BooruClient.listTagRelations} works (aliases and implications are readable by name). */
  canSyncRelations: boolean;
  /**
   * Tag and relation listings honour `TagListQuery.updatedSince`, so later syncs read only what changed. False where
   * every sync must re-read everything (Moebooru, Gelbooru). (Default: true)
   */
  filtersTagsByChange?: boolean;
  /**
   * Absent where the booru keeps all four of Danbooru's ratings; else the rating each is stored and read back as
   * (Szurubooru: s is kept as g), for the diff's `ratingScale`.
   */
  ratingScale?: Readonly<Partial<Record<Rating, Rating>>>;
}

/** A post of a listing that could not be read; recorded by id so the crawl can account for it. */
export interface RejectedPost {
  remoteId: number;
  message: string;
}

/** One page of a post listing. */
export interface PostPage {
  /** Parsed posts, without duplicates. */
  posts: BooruPost[];
  /** Items with a readable id whose other fields did not parse. An item without any id fails the whole page. */
  rejected: RejectedPost[];
}

/** A tag as the booru describes it, mapped onto Danbooru's categories (0 general, 1 artist, 3, 4, 5 meta). */
export interface BooruTag {
  /** The booru's tag id (the sync cursor). */
  remoteId: number;
  name: string;
  category: number;
  postCount: number;
  isDeprecated: boolean;
  updatedAt: Date | null;
}

/** An alias or implication as the booru lists it (every status: only active ones are applied). */
export interface BooruTagRelation {
  remoteId: number;
  antecedent: string;
  consequent: string;
  /** active, deleted, retired, pending, processing, queued… */
  status: string;
  updatedAt: Date | null;
}

/** One page of a tag or relation listing: ascending by id, ids > `afterId`. */
export interface TagListQuery {
  afterId: number;
  /** Only rows the booru changed after this instant (incremental sync); null/absent = all. */
  updatedSince?: Date | null;
  limit?: number;
}

export interface BooruClient {
  readonly kind: BooruKind;
  readonly capabilities: BooruCapabilities;
  /**
   * One page of posts with id > `afterId`, ascending by id, without duplicates; at most `limit` (booru maximum
   * applies). An empty page means there is nothing newer.
   */
  listPostsSince(afterId: number, limit?: number): Promise<PostPage>;
  /**
   * Page `page` (1-based) of posts ordered by last change, newest first. Callers stop paging once a page holds
   * posts changed before the instant they care about.
   * @throws AppError USAGE when `capabilities.canListChanges` is false.
   */
  listPostsByChange(page: number, limit?: number): Promise<PostPage>;
  /** Tags with id > `query.afterId`, ascending by id. */
  listTags(query: TagListQuery): Promise<BooruTag[]>;
  /**
   * Aliases or implications with id > `query.afterId`, ascending by id.
   * @throws AppError USAGE when `capabilities.canSyncRelations` is false.
   */
  listTagRelations(kind: 'alias' | 'implication', query: TagListQuery): Promise<BooruTagRelation[]>;
  /** One post, or null when the booru does not know it (404, expunged). */
  getPost(remoteId: number): Promise<BooruPost | null>;
  /**
   * Writes a tag change so that concurrent human edits are merged, not overwritten, then verifies it.
   * @throws BooruError BOORU_NOT_FOUND when the post is gone; other BooruErrors from the transport; AppError USAGE
   *   when `capabilities.canEditTags` is false.
   */
  updateTags(remoteId: number, change: TagChange): Promise<TagEditResult>;
  /** Media bytes of one of a post's variant URLs. */
  downloadMedia(url: string, limits: MediaLimits): Promise<Buffer>;
}
