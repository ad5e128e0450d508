/**
 * Moebooru adapter (yande.re, konachan; BOORU-API §2, read from moebooru/moebooru): `/post.json` with 1-based pages,
 * tags as a string, epoch times, bare arrays (`[]` when empty). Credentials go as query parameters, `login` +
 * `password_hash` or `username` + `api_key` (see `MOEBOORU_AUTH`; Moebooru reads no Basic auth). Tag edits use
 * `POST /post/update.json` with `post[tags]` and `post[old_tags]` in the snapshot form: Moebooru computes
 * `(current ∪ new) − old ∪ (current ∩ new)`, so a human's concurrent additions and removals survive, exactly as with
 * Danbooru's `old_tag_string`; it then applies aliases and implications itself.
 *
 * Changed posts: `order:change_desc` (post/sql_methods.rb; every tag edit bumps `change_seq` and `updated_at`).
 * Tags: `/tag.json` has no ascending id cursor (`after_id` keeps ids ≥ N, `order=date` is id DESC), so one call reads
 * every page above the cursor. Relations: `/tag_alias.json` (`{id, name, alias_id, pending}`) and
 * `/tag_implication.json` (`{id, predicate_id, consequent_id, pending}`) reference tags by id, 20 rows a page, with
 * no filter by change: one call reads them all, and ids are resolved to names from the tag listing this client read
 * (the sync reads tags first), else one `/tag.json?id=N` each. A `pending` row is not in force: listed as `pending`.
 * Their order (`is_pending DESC` only, for aliases) is not stable across pages on PostgreSQL, so a page boundary may
 * repeat or skip a row; repeats are dropped, a skipped row is read by the next pass.
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
import { clamp, DanbooruLikeClient, type PostListing } from './danbooru-like.js';
import type { BooruHttp } from './http.js';
import {
  parseMoebooruAliases,
  parseMoebooruImplications,
  parseMoebooruTags,
  TO_MOEBOORU,
  toMoebooruPost,
} from './moebooru.schemas.js';

/** Moebooru's page size for polling (the code allows 1000; sites cap lower). */
const MOEBOORU_MAX_PAGE = 100;
/** Tags per `/tag.json` page. */
const TAG_PAGE = 1000;
/** Safety stop for one listing (a million tags, 50 000 relation pages). */
const MAX_LIST_PAGES = 50_000;

export class MoebooruClient extends DanbooruLikeClient implements BooruClient {
  readonly kind = 'moebooru' as const;
  readonly capabilities: BooruCapabilities = {
    canEditTags: true,
    canListChanges: true,
    canSyncRelations: true,
    filtersTagsByChange: false,
  };
  /** Tag id → name, from the tag listings read (relations name tags by id). */
  private readonly tagNames = new Map<number, string>();
  /** The highest id of the last complete read of each relation listing (the sync's next call asks above it). */
  private readonly relationsRead = new Map<'alias' | 'implication', number>();

  /** `GET /post.json?tags=id:>N order:id&limit=…&page=1`; `GET /post.json?tags=order:change_desc&page=N`. */
  protected readonly listing: PostListing = {
    path: '/post.json',
    maxPage: MOEBOORU_MAX_PAGE,
    changeOrder: 'order:change_desc',
    firstPageParam: true,
  };

  constructor(http: BooruHttp, options: { logger: Logger }) {
    super(http, options, 'moebooru');
  }

  /** `GET /post.json?tags=id:N` (Moebooru has no per-post JSON route); an empty answer ⇒ null. */
  async getPost(remoteId: number): Promise<BooruPost | null> {
    const json = await this.http.getJson('/post.json', { tags: `id:${remoteId}`, limit: 1 });
    const page = this.postPage(json);
    if (page.rejected.length > 0) {
      throw badResponse('GET', `${this.http.baseUrl}/post.json`, page.rejected[0]!.message);
    }
    return page.posts.find((post) => post.remoteId === remoteId) ?? null;
  }

  /**
   * Every tag with id > `afterId`: `GET /tag.json?after_id=N+1&order=date&limit=1000&page=1,2…` (id DESC) until a
   * short page, ascending. Moebooru has no incremental filter: every pass reads all.
   */
  async listTags(query: TagListQuery): Promise<BooruTag[]> {
    const url = `${this.http.baseUrl}/tag.json`;
    const byId = new Map<number, BooruTag>();
    const limit = clamp(query.limit ?? TAG_PAGE, TAG_PAGE);
    for (let page = 1; page <= MAX_LIST_PAGES; page++) {
      const json = await this.http.getJson('/tag.json', {
        after_id: Math.max(0, Math.floor(query.afterId)) + 1,
        order: 'date',
        limit,
        page,
      });
      const rows = parseMoebooruTags(json, url, query.afterId);
      for (const tag of rows) {
        byId.set(tag.remoteId, tag);
        this.tagNames.set(tag.remoteId, tag.name);
      }
      if (!Array.isArray(json) || json.length < limit) break;
    }
    return [...byId.values()].sort((a, b) => a.remoteId - b.remoteId);
  }

  /**
   * Every alias or implication with id > `afterId`, names resolved, ascending: `GET /tag_alias.json?page=N` or
   * `/tag_implication.json?page=N` until an empty page.
   */
  async listTagRelations(kind: 'alias' | 'implication', query: TagListQuery): Promise<BooruTagRelation[]> {
    // One call reads every page: the sync's next call, for ids above the highest returned, needs no second read.
    const readUpTo = this.relationsRead.get(kind);
    if (readUpTo !== undefined && query.afterId > 0 && query.afterId >= readUpTo) return [];
    const path = kind === 'alias' ? '/tag_alias.json' : '/tag_implication.json';
    const url = `${this.http.baseUrl}${path}`;
    const byId = new Map<number, BooruTagRelation>();
    let highest = 0;
    for (let page = 1; page <= MAX_LIST_PAGES; page++) {
      const json = await this.http.getJson(path, { page });
      if (!Array.isArray(json)) throw badResponse('GET', url, `expected an array from ${path}`);
      if (json.length === 0) break;
      const rows =
        kind === 'alias'
          ? await Promise.all(
              parseMoebooruAliases(json, url).map(async (row) => ({
                remoteId: row.id,
                antecedent: row.name,
                consequent: await this.tagName(row.aliasId),
                status: row.pending ? 'pending' : 'active',
                updatedAt: null,
              })),
            )
          : await Promise.all(
              parseMoebooruImplications(json, url).map(async (row) => ({
                remoteId: row.id,
                antecedent: await this.tagName(row.predicateId),
                consequent: await this.tagName(row.consequentId),
                status: row.pending ? 'pending' : 'active',
                updatedAt: null,
              })),
            );
      for (const row of rows) {
        highest = Math.max(highest, row.remoteId);
        if (row.remoteId > query.afterId) byId.set(row.remoteId, row);
      }
    }
    this.relationsRead.set(kind, highest);
    return [...byId.values()].sort((a, b) => a.remoteId - b.remoteId);
  }

  /** The name of a tag id: from the listings read, else `GET /tag.json?id=N`. */
  private async tagName(id: number): Promise<string> {
    const known = this.tagNames.get(id);
    if (known) return known;
    const url = `${this.http.baseUrl}/tag.json`;
    const [tag] = parseMoebooruTags(await this.http.getJson('/tag.json', { id, limit: 1 }), url, 0);
    if (!tag || tag.remoteId !== id)
      throw badResponse('GET', url, `a relation names tag id ${id}, which /tag.json does not know`);
    this.tagNames.set(id, tag.name);
    return tag.name;
  }

  /** `POST /post/update.json` with `id`, `post[old_tags]`, `post[tags]` (and `post[rating]`). */
  updateTags(remoteId: number, change: TagChange): Promise<TagEditResult> {
    return runVerifiedEdit(
      {
        kind: this.kind,
        logger: this.logger,
        url: `${this.http.baseUrl}/post/update.json`,
        getPost: (id) => this.getPost(id),
        send: async (id, edit, _change, rating) => {
          const form: Record<string, string> = {
            id: String(id),
            'post[old_tags]': edit.oldTagString,
            'post[tags]': edit.newTagString,
          };
          if (rating !== null) form['post[rating]'] = TO_MOEBOORU[rating as keyof typeof TO_MOEBOORU] ?? rating;
          await this.http.requestJson('POST', '/post/update.json', { form });
          return edit;
        },
      },
      remoteId,
      change,
    );
  }

  protected postPage(json: unknown, keep?: (post: BooruPost) => boolean): PostPage {
    const url = `${this.http.baseUrl}/post.json`;
    // `api_version=2` answers {posts:[…]}; the default is a bare array.
    const items = Array.isArray(json)
      ? json
      : typeof json === 'object' && json !== null && Array.isArray((json as { posts?: unknown }).posts)
        ? (json as { posts: unknown[] }).posts
        : null;
    if (!items) throw badResponse('GET', url, 'expected an array of posts');
    return parsePostPage(
      items,
      (item, i) => toMoebooruPost(item, `GET /post.json[${i}]`),
      { method: 'GET', url },
      keep,
    );
  }
}
