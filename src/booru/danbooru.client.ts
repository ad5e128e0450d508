/**
 * Danbooru adapter (BOORU-API §1): lists new posts by id cursor and recently changed posts, reads posts, tags,
 * aliases and implications, writes tag changes in the snapshot form and verifies them with a fresh read.
 */
import type { TagChange } from '../core/types.js';
import type { BooruPost } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { BooruError } from './booru-error.js';
import type {
  BooruCapabilities,
  BooruClient,
  BooruTag,
  BooruTagRelation,
  PostPage,
  TagEditResult,
  TagListQuery,
} from './booru-client.js';
import { badResponse, parsePostPage, runVerifiedEdit } from './adapter-support.js';
import { parseDanbooruRelations, parseDanbooruTags, toBooruPost } from './danbooru.schemas.js';
import { cursorListQuery, DanbooruLikeClient, nullWhenNotFound, type PostListing } from './danbooru-like.js';
import type { BooruHttp } from './http.js';

/** Danbooru's maximum `limit` for /posts.json. */
const DANBOORU_MAX_PAGE = 200;
/** Danbooru's maximum `limit` for other listings (tags, aliases, implications). */
const DANBOORU_MAX_LIST = 1000;

export interface DanbooruClientOptions {
  logger: Logger;
}

export class DanbooruClient extends DanbooruLikeClient implements BooruClient {
  readonly kind = 'danbooru' as const;
  readonly capabilities: BooruCapabilities = { canEditTags: true, canListChanges: true, canSyncRelations: true };
  /**
   * `GET /posts.json?tags=id:>N order:id&limit=…` (one search term for `order:`, within the anonymous 2-term limit).
   * Includes deleted, banned and pending posts: callers record and skip them. Sorted and de-duplicated here anyway.
   * `GET /posts.json?tags=order:change&page=N`: newest change first (updated_at DESC).
   */
  protected readonly listing: PostListing = {
    path: '/posts.json',
    maxPage: DANBOORU_MAX_PAGE,
    changeOrder: 'order:change',
  };

  constructor(http: BooruHttp, options: DanbooruClientOptions) {
    super(http, options, 'danbooru');
  }

  /** `GET /posts/<id>.json`; 404 (unknown or expunged) ⇒ null. */
  getPost(remoteId: number): Promise<BooruPost | null> {
    const path = `/posts/${remoteId}.json`;
    return nullWhenNotFound(async () => this.parsePost(await this.http.getJson(path), 'GET', path));
  }

  /** `GET /tags.json?page=a<ID>&limit=1000[&search[updated_at]=>T]` (a-pages come DESC: sorted here). */
  async listTags(query: TagListQuery): Promise<BooruTag[]> {
    const path = '/tags.json';
    const json = await this.http.getJson(path, cursorListQuery(query, DANBOORU_MAX_LIST));
    return parseDanbooruTags(json, `${this.http.baseUrl}${path}`, query.afterId);
  }

  /** `GET /tag_aliases.json` or `/tag_implications.json`, every status (retired ones must be un-applied too). */
  async listTagRelations(kind: 'alias' | 'implication', query: TagListQuery): Promise<BooruTagRelation[]> {
    const path = kind === 'alias' ? '/tag_aliases.json' : '/tag_implications.json';
    const json = await this.http.getJson(path, cursorListQuery(query, DANBOORU_MAX_LIST));
    return parseDanbooruRelations(json, `${this.http.baseUrl}${path}`, query.afterId);
  }

  /**
   * `PUT /posts/<id>.json` form-encoded with `post[old_tag_string]` and `post[tag_string]` (never a bare tag_string,
   * which would wipe every tag added since the snapshot; the snapshot form is idempotent, so the helper may retry it),
   * and `post[old_rating]` + `post[rating]` for a rating, merged the same way. Verified by a fresh read.
   */
  updateTags(remoteId: number, change: TagChange): Promise<TagEditResult> {
    const path = `/posts/${remoteId}.json`;
    return runVerifiedEdit(
      {
        kind: this.kind,
        logger: this.logger,
        url: `${this.http.baseUrl}${path}`,
        getPost: (id) => this.getPost(id),
        send: async (_id, edit, _change, rating) => {
          const ratingForm: Record<string, string> =
            rating === null ? {} : { 'post[old_rating]': change.rating?.from ?? '', 'post[rating]': rating };
          await this.http.requestJson('PUT', path, {
            form: { 'post[old_tag_string]': edit.oldTagString, 'post[tag_string]': edit.newTagString, ...ratingForm },
          });
          return edit;
        },
      },
      remoteId,
      change,
    );
  }

  protected postPage(json: unknown, keep?: (post: BooruPost) => boolean): PostPage {
    const path = this.listing.path;
    const url = `${this.http.baseUrl}${path}`;
    if (!Array.isArray(json)) throw badResponse('GET', url, `expected an array of posts, got ${typeof json}`);
    return parsePostPage(
      json,
      (item, index) => this.parsePost(item, 'GET', `${path}[${index}]`),
      { method: 'GET', url },
      keep,
    );
  }

  private parsePost(json: unknown, method: string, where: string): BooruPost {
    try {
      return toBooruPost(json, `${method} ${where}`);
    } catch (thrown) {
      if (thrown instanceof AppError && thrown.code === 'BOORU_BAD_RESPONSE') {
        throw new BooruError('BOORU_BAD_RESPONSE', thrown.message, {
          method,
          url: `${this.http.baseUrl}${where.replace(/\[\d+\]$/, '')}`,
          details: thrown.details,
          cause: thrown,
        });
      }
      throw thrown;
    }
  }
}
