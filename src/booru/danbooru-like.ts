/**
 * What the dialect clients share: the constructor (the injected {@link BooruHttp} and a logger scoped to the dialect),
 * the media pass-through, the page-size clamp, and for the Danbooru-like dialects (Danbooru, e621, Moebooru) the two
 * post listings (`tags=id:>N order:id` by id cursor, `tags=<change order>&page=N` by last change) and the `a<ID>`
 * cursor of tag and relation listings. Each dialect keeps its own envelope parsing (`postPage`).
 */
import type { BooruKind, BooruPost } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { MediaLimits, PostPage, TagListQuery } from './booru-client.js';
import type { BooruHttp } from './http.js';

/** A page size within 1..max (whole numbers). */
export function clamp(limit: number, max: number): number {
  return Math.max(1, Math.min(max, Math.floor(limit)));
}

/** The query of a Danbooru/e621 tag or relation listing: `page=a<ID>` (ids above), `search[updated_at]=>T`. */
export function cursorListQuery(query: TagListQuery, max: number): Record<string, string | number | undefined> {
  return {
    page: `a${Math.max(0, Math.floor(query.afterId))}`,
    limit: clamp(query.limit ?? max, max),
    'search[updated_at]': query.updatedSince ? `>${query.updatedSince.toISOString()}` : undefined,
  };
}

/** Runs a read of one post; BOORU_NOT_FOUND (unknown or expunged) ⇒ null. */
export async function nullWhenNotFound<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (thrown) {
    if (thrown instanceof AppError && thrown.code === 'BOORU_NOT_FOUND') return null;
    throw thrown;
  }
}

/** The constructor and media pass-through every dialect client shares. */
export abstract class BooruClientBase {
  protected readonly logger: Logger;

  constructor(
    protected readonly http: BooruHttp,
    options: { logger: Logger },
    booru: BooruKind,
  ) {
    this.logger = options.logger.child({ booru });
  }

  /** Streams the media through the shared helper's SSRF guard and size cap. */
  downloadMedia(url: string, limits: MediaLimits): Promise<Buffer> {
    return this.http.getBytes(url, limits);
  }
}

/** Where and how a Danbooru-like dialect lists posts. */
export interface PostListing {
  /** `/posts.json` (Danbooru, e621) or `/post.json` (Moebooru). */
  path: string;
  /** The largest `limit` the site accepts, also the default. */
  maxPage: number;
  /** The search term of the change listing: `order:change` or Moebooru's `order:change_desc`. */
  changeOrder: string;
  /** Send `page=1` with the id-cursor listing too (Moebooru). */
  firstPageParam?: boolean;
}

/** The two post listings of Danbooru, e621 and Moebooru; the dialect parses its own envelope in `postPage`. */
export abstract class DanbooruLikeClient extends BooruClientBase {
  protected abstract readonly listing: PostListing;

  /** `GET <path>?tags=id:>N order:id&limit=…`: posts above the cursor, ascending. */
  async listPostsSince(afterId: number, limit?: number): Promise<PostPage> {
    const { path, maxPage, firstPageParam } = this.listing;
    const json = await this.http.getJson(path, {
      tags: `id:>${Math.floor(afterId)} order:id`,
      limit: clamp(limit ?? maxPage, maxPage),
      ...(firstPageParam ? { page: 1 } : {}),
    });
    return this.postPage(json, (post) => post.remoteId > afterId);
  }

  /** `GET <path>?tags=<change order>&page=N`: newest change first. */
  async listPostsByChange(page: number, limit?: number): Promise<PostPage> {
    const { path, maxPage, changeOrder } = this.listing;
    const json = await this.http.getJson(path, {
      tags: changeOrder,
      limit: clamp(limit ?? maxPage, maxPage),
      page: Math.max(1, Math.floor(page)),
    });
    return this.postPage(json);
  }

  /** Parses one listing answer in the dialect's envelope, item by item. */
  protected abstract postPage(json: unknown, keep?: (post: BooruPost) => boolean): PostPage;
}
