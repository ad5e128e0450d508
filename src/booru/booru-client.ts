/**
 * The domain interface every booru adapter implements. Callers (crawl, tag, apply jobs) speak these words only;
 * transport, pagination quirks and JSON shapes stay inside the adapter.
 */
import type { TagEditOutcome } from '../core/tag-edit.js';
import type { BooruKind, BooruPost, TagChange } from '../core/types.js';

export type { TagEditOutcome } from '../core/tag-edit.js';

/** Limits for one media download. */
export interface MediaLimits {
  /** Abort past this many bytes (MEDIA_TOO_LARGE). */
  maxBytes: number;
  /** Whole-download deadline in ms. */
  timeoutMs: number;
  /** When given, only these host names may be fetched. */
  allowedHosts?: readonly string[];
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

export interface BooruClient {
  readonly kind: BooruKind;
  /** Posts with id > `afterId`, ascending by id, without duplicates; at most `limit` (booru maximum applies). */
  listPostsSince(afterId: number, limit?: number): Promise<BooruPost[]>;
  /** One post, or null when the booru does not know it (404, expunged). */
  getPost(remoteId: number): Promise<BooruPost | null>;
  /**
   * Writes a tag change so that concurrent human edits are merged, not overwritten, then verifies it.
   * @throws BooruError BOORU_NOT_FOUND when the post is gone; other BooruErrors from the transport.
   */
  updateTags(remoteId: number, change: TagChange): Promise<TagEditResult>;
  /** Media bytes of one of a post's variant URLs. */
  downloadMedia(url: string, limits: MediaLimits): Promise<Buffer>;
}
