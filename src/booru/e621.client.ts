/**
 * e621 adapter (e621ng, BOORU-API §2): Danbooru-like URLs with wrapped JSON, e621's tag categories, a mandatory
 * descriptive User-Agent and a hard 2 requests/s (answered with 503 beyond it). Tag edits use
 * `post[tag_string_diff]` ("add -remove"): a pure delta that cannot wipe a human's concurrent edit, idempotent, with
 * aliases applied by the site; verified by a fresh read like every edit.
 */
import type { BooruPost, TagChange } from '../core/types.js';
import type { Logger } from '../shared/logger.js';
import { badResponse, parsePostPage, runVerifiedEdit } from './adapter-support.js';
import type {
  BooruCapabilities,
  BooruClient,
  BooruTag,
  BooruTagRelation,
  PostPage,
  TagEditResult,
  TagListQuery,
} from './booru-client.js';
import { parseDanbooruRelations, parseDanbooruTags } from './danbooru.schemas.js';
import {
  E621_CATEGORIES,
  e621CategoryToDanbooru,
  e621ListItems,
  e621PostItems,
  e621SinglePost,
  TO_E621,
  toE621Post,
} from './e621.schemas.js';
import { cursorListQuery, DanbooruLikeClient, nullWhenNotFound, type PostListing } from './danbooru-like.js';
import type { BooruHttp } from './http.js';

/** e621's maximum `limit` for /posts.json. */
const E621_MAX_PAGE = 320;
/** e621 answers 503 beyond 2 requests per second: never configure the helper faster. */
export const E621_MAX_RATE = 2;

export class E621Client extends DanbooruLikeClient implements BooruClient {
  readonly kind = 'e621' as const;
  readonly capabilities: BooruCapabilities = { canEditTags: true, canListChanges: true, canSyncRelations: true };
  /** `GET /posts.json?tags=id:>N order:id&limit=…` → `{"posts":[…]}`; `GET /posts.json?tags=order:change&page=N`. */
  protected readonly listing: PostListing = {
    path: '/posts.json',
    maxPage: E621_MAX_PAGE,
    changeOrder: 'order:change',
  };

  constructor(http: BooruHttp, options: { logger: Logger }) {
    super(http, options, 'e621');
  }

  getPost(remoteId: number): Promise<BooruPost | null> {
    const path = `/posts/${remoteId}.json`;
    return nullWhenNotFound(async () => toE621Post(e621SinglePost(await this.http.getJson(path)), `GET ${path}`));
  }

  /**
   * `GET /tags.json?page=a<N>`: rows as an array, an empty page as `{"tags":[]}`. Tags of e621's `invalid` category
   * are the site's "do not use" names: recorded as deprecated, so they are never suggested.
   */
  async listTags(query: TagListQuery): Promise<BooruTag[]> {
    const path = '/tags.json';
    const rows = await this.listRows(path, 'tags', query);
    const categories = new Map<number, number>();
    for (const row of rows) {
      const raw = (row as { id?: unknown; category?: unknown } | null) ?? {};
      if (typeof raw.id === 'number' && typeof raw.category === 'number') categories.set(raw.id, raw.category);
    }
    return parseDanbooruTags(rows, `${this.http.baseUrl}${path}`, query.afterId, e621CategoryToDanbooru).map((tag) =>
      categories.get(tag.remoteId) === E621_CATEGORIES.invalid ? { ...tag, isDeprecated: true } : tag,
    );
  }

  /** `GET /tag_aliases.json` / `/tag_implications.json`: an empty page is `{"tag_aliases":[]}` and the like. */
  async listTagRelations(kind: 'alias' | 'implication', query: TagListQuery): Promise<BooruTagRelation[]> {
    const [path, key] =
      kind === 'alias' ? ['/tag_aliases.json', 'tag_aliases'] : ['/tag_implications.json', 'tag_implications'];
    const rows = await this.listRows(path, key, query);
    return parseDanbooruRelations(rows, `${this.http.baseUrl}${path}`, query.afterId);
  }

  private async listRows(path: string, key: string, query: TagListQuery): Promise<unknown[]> {
    const json = await this.http.getJson(path, cursorListQuery(query, E621_MAX_PAGE));
    const rows = e621ListItems(json, key);
    if (!rows) {
      throw badResponse('GET', `${this.http.baseUrl}${path}`, `expected an array or {"${key}":[]} from ${path}`);
    }
    return rows;
  }

  /** `PATCH /posts/<id>.json` with `post[tag_string_diff]` (and `post[old_rating]` + `post[rating]`). */
  updateTags(remoteId: number, change: TagChange): Promise<TagEditResult> {
    const path = `/posts/${remoteId}.json`;
    return runVerifiedEdit(
      {
        kind: this.kind,
        logger: this.logger,
        url: `${this.http.baseUrl}${path}`,
        getPost: (id) => this.getPost(id),
        send: async (_id, _edit, wanted, rating) => {
          const diff = [...wanted.add, ...wanted.remove.map((tag) => `-${tag}`)].join(' ');
          const form: Record<string, string> = { 'post[tag_string_diff]': diff };
          if (rating !== null) {
            form['post[old_rating]'] = wanted.rating?.from ? (TO_E621[wanted.rating.from] ?? '') : '';
            form['post[rating]'] = TO_E621[rating as keyof typeof TO_E621] ?? rating;
          }
          await this.http.requestJson('PATCH', path, { form });
          return { oldTagString: '', newTagString: diff };
        },
      },
      remoteId,
      change,
    );
  }

  protected postPage(json: unknown, keep?: (post: BooruPost) => boolean): PostPage {
    const url = `${this.http.baseUrl}/posts.json`;
    const items = e621PostItems(json);
    if (!items) throw badResponse('GET', url, 'expected {"posts":[…]}');
    return parsePostPage(items, (item, i) => toE621Post(item, `GET /posts.json[${i}]`), { method: 'GET', url }, keep);
  }
}
