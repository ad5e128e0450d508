/**
 * e621 adapter (e621ng, BOORU-API §2): Danbooru-like URLs with wrapped JSON, e621's tag categories, a mandatory
 * descriptive User-Agent and a hard 2 requests/s (answered with 503 beyond it). Tag edits use
 * `post[tag_string_diff]` ("add -remove"): a pure delta that cannot wipe a human's concurrent edit, idempotent, with
 * aliases applied by the site; verified by a fresh read like every edit.
 */
import type { BooruPost, TagChange } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { badResponse, parsePostPage, runVerifiedEdit } from './adapter-support.js';
import type {
  BooruCapabilities,
  BooruClient,
  BooruTag,
  BooruTagRelation,
  MediaLimits,
  PostPage,
  TagEditResult,
  TagListQuery,
} from './booru-client.js';
import { clamp } from './danbooru.client.js';
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
import type { BooruHttp } from './http.js';

/** e621's maximum `limit` for /posts.json. */
export const E621_MAX_PAGE = 320;
/** e621 answers 503 beyond 2 requests per second: never configure the helper faster. */
export const E621_MAX_RATE = 2;

export class E621Client implements BooruClient {
  readonly kind = 'e621' as const;
  readonly capabilities: BooruCapabilities = { canEditTags: true, canListChanges: true, canSyncRelations: true };
  private readonly logger: Logger;

  constructor(
    private readonly http: BooruHttp,
    options: { logger: Logger },
  ) {
    this.logger = options.logger.child({ booru: 'e621' });
  }

  /** `GET /posts.json?tags=id:>N order:id&limit=…` → `{"posts":[…]}`. */
  async listPostsSince(afterId: number, limit = E621_MAX_PAGE): Promise<PostPage> {
    const json = await this.http.getJson('/posts.json', {
      tags: `id:>${Math.floor(afterId)} order:id`,
      limit: clamp(limit, E621_MAX_PAGE),
    });
    return this.postPage(json, (post) => post.remoteId > afterId);
  }

  /** `GET /posts.json?tags=order:change&page=N`. */
  async listPostsByChange(page: number, limit = E621_MAX_PAGE): Promise<PostPage> {
    const json = await this.http.getJson('/posts.json', {
      tags: 'order:change',
      limit: clamp(limit, E621_MAX_PAGE),
      page: Math.max(1, Math.floor(page)),
    });
    return this.postPage(json);
  }

  async getPost(remoteId: number): Promise<BooruPost | null> {
    const path = `/posts/${remoteId}.json`;
    try {
      return toE621Post(e621SinglePost(await this.http.getJson(path)), `GET ${path}`);
    } catch (thrown) {
      if (thrown instanceof AppError && thrown.code === 'BOORU_NOT_FOUND') return null;
      throw thrown;
    }
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
    const json = await this.http.getJson(path, listQuery(query));
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

  downloadMedia(url: string, limits: MediaLimits): Promise<Buffer> {
    return this.http.getBytes(url, limits);
  }

  private postPage(json: unknown, keep?: (post: BooruPost) => boolean): PostPage {
    const url = `${this.http.baseUrl}/posts.json`;
    const items = e621PostItems(json);
    if (!items) throw badResponse('GET', url, 'expected {"posts":[…]}');
    return parsePostPage(items, (item, i) => toE621Post(item, `GET /posts.json[${i}]`), { method: 'GET', url }, keep);
  }
}

function listQuery(query: TagListQuery): Record<string, string | number | undefined> {
  return {
    page: `a${Math.max(0, Math.floor(query.afterId))}`,
    limit: clamp(query.limit ?? 320, 320),
    'search[updated_at]': query.updatedSince ? `>${query.updatedSince.toISOString()}` : undefined,
  };
}
