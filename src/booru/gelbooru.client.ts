/**
 * Gelbooru adapter (gelbooru.com and Gelbooru 0.2 sites such as safebooru.org; BOORU-API §2), read-only: the dapi
 * has no tag-edit API, so `capabilities.canEditTags` is false and suggestions for a Gelbooru are report-only.
 * Listing: `index.php?page=dapi&s=post&q=index&json=1&tags=id:>N sort:id:asc&limit=100&pid=0` (0-based `pid`, at
 * most 100 a page, deep offsets refused, hence the id cursor instead of pages). Credentials are the `user_id` and
 * `api_key` query parameters.
 */
import type { BooruPost } from '../core/types.js';
import type { Logger } from '../shared/logger.js';
import { badResponse, parsePostPage, unsupported } from './adapter-support.js';
import type {
  BooruCapabilities,
  BooruClient,
  BooruTag,
  BooruTagRelation,
  PostPage,
  TagEditResult,
  TagListQuery,
} from './booru-client.js';
import { BooruClientBase, clamp } from './danbooru-like.js';
import { dapiItems, parseGelbooruTags, toGelbooruPost } from './gelbooru.schemas.js';
import type { BooruHttp } from './http.js';

const GELBOORU_MAX_PAGE = 100;

/** The items of a dapi post listing; throws (so the helper retries) when the body is not one. */
function postItems(text: string): unknown[] {
  const items = dapiItems(text, 'post');
  if (!items) throw new Error('not a dapi post listing');
  return items;
}
const DAPI = '/index.php';

export class GelbooruClient extends BooruClientBase implements BooruClient {
  readonly kind = 'gelbooru' as const;
  readonly capabilities: BooruCapabilities = {
    canEditTags: false,
    canListChanges: false,
    canSyncRelations: false,
    filtersTagsByChange: false,
  };

  constructor(http: BooruHttp, options: { logger: Logger }) {
    super(http, options, 'gelbooru');
  }

  async listPostsSince(afterId: number, limit = GELBOORU_MAX_PAGE): Promise<PostPage> {
    const items = await this.http.getParsed(
      DAPI,
      {
        page: 'dapi',
        s: 'post',
        q: 'index',
        json: 1,
        tags: `id:>${Math.floor(afterId)} sort:id:asc`,
        limit: clamp(limit, GELBOORU_MAX_PAGE),
        pid: 0,
      },
      postItems,
    );
    return this.postPage(items, (post) => post.remoteId > afterId);
  }

  listPostsByChange(): Promise<PostPage> {
    return Promise.reject(unsupported(this.kind, 'list posts by last change'));
  }

  async getPost(remoteId: number): Promise<BooruPost | null> {
    const items = await this.http.getParsed(
      DAPI,
      { page: 'dapi', s: 'post', q: 'index', json: 1, id: remoteId },
      postItems,
    );
    const page = this.postPage(items);
    if (page.rejected.length > 0) throw badResponse('GET', `${this.http.baseUrl}${DAPI}`, page.rejected[0]!.message);
    return page.posts.find((post) => post.remoteId === remoteId) ?? null;
  }

  /** `s=tag&q=index&after_id=N`; Gelbooru has no incremental filter, every pass reads all. */
  async listTags(query: TagListQuery): Promise<BooruTag[]> {
    const url = `${this.http.baseUrl}${DAPI}`;
    const items = await this.http.getParsed(
      DAPI,
      {
        page: 'dapi',
        s: 'tag',
        q: 'index',
        json: 1,
        after_id: Math.max(0, Math.floor(query.afterId)),
        limit: clamp(query.limit ?? GELBOORU_MAX_PAGE, GELBOORU_MAX_PAGE),
      },
      (text) => {
        const rows = dapiItems(text, 'tag');
        if (!rows) throw new Error('not a dapi tag listing');
        return rows;
      },
    );
    return parseGelbooruTags(items, url, query.afterId);
  }

  listTagRelations(): Promise<BooruTagRelation[]> {
    return Promise.reject(unsupported(this.kind, 'list aliases and implications'));
  }

  updateTags(): Promise<TagEditResult> {
    this.logger.debug('tag edit asked of a read-only Gelbooru');
    return Promise.reject(unsupported(this.kind, 'edit tags (its suggestions are report-only)'));
  }

  private postPage(items: unknown[], keep?: (post: BooruPost) => boolean): PostPage {
    const url = `${this.http.baseUrl}${DAPI}`;
    return parsePostPage(
      items,
      (item, i) => toGelbooruPost(item, this.http.baseUrl, `GET ${DAPI}[${i}]`),
      { method: 'GET', url },
      keep,
    );
  }
}
