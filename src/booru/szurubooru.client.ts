/**
 * Szurubooru adapter (rr-/szurubooru@22fd239e, `doc/API.md`): a JSON API under `/api/` that answers only
 * `Accept: application/json`, listings as `{query, offset, limit, total, results}` pages (offset/limit, limit ≤ 100)
 * searched with its own query language (`id-min:N sort:id,asc`, `last-edit-date-min:… sort:last-edit-date`), auth by
 * `Authorization: Token base64(user:token)`.
 *
 * Tags have no id and several names (the first canonical, the others aliases) and carry their implications; aliases
 * and implications are read from the tag listing. Writes are `PUT /api/post/<id>` with the post's `version` and its
 * whole tag list: a stale version is refused with 409, so the write re-reads the post, merges the change into its
 * current tags again and retries (bounded). Szurubooru applies no implication itself (its web client adds implied
 * tags as you type them, `client/js/controls/tag_input_control.js`), so the tags implied by each added tag go along.
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
import { BooruError } from './booru-error.js';
import { BooruClientBase, clamp } from './danbooru-like.js';
import type { BooruHttp } from './http.js';
import {
  canonicalName,
  parseSzurubooruPost,
  parseSzurubooruTag,
  SZURUBOORU_MAX_PAGE,
  SZURUBOORU_RATING_SCALE,
  type SzurubooruPostJson,
  type SzurubooruTagJson,
  szurubooruPage,
  szurubooruRelations,
  TO_SAFETY,
  toSzurubooruPost,
  toSzurubooruTag,
} from './szurubooru.schemas.js';

/** A write refused with 409 (someone else saved the post meanwhile) is re-read, re-merged and sent this often more. */
export const SZURUBOORU_CONFLICT_RETRIES = 3;
/** At most this many tags are looked up for the implications of one edit's additions (a cycle or a huge chain). */
const MAX_IMPLICATION_LOOKUPS = 100;
/** Only the post fields the adapter reads (`?fields=`): a post's comments, notes and pools can be large. */
const POST_FIELDS =
  'id,version,creationTime,lastEditTime,safety,type,mimeType,checksumMD5,fileSize,canvasWidth,canvasHeight,' +
  'contentUrl,thumbnailUrl,tags';
/** Tags in the order they were created: new tags only extend it, so a position is a usable page cursor. */
const TAG_ORDER = 'sort:creation-date,asc';

export class SzurubooruClient extends BooruClientBase implements BooruClient {
  readonly kind = 'szurubooru' as const;
  readonly capabilities: BooruCapabilities = {
    canEditTags: true,
    canListChanges: true,
    // A post never edited has no lastEditTime: the change listing cannot show it (see listPostsByChange).
    changesIncludeNewPosts: false,
    canSyncRelations: true,
    // Tags are read whole every sync (its filter is by day only, never-edited tags have no edit time); a full pass
    // also retires the aliases and implications it no longer lists (relations carry no status there).
    filtersTagsByChange: false,
    ratingScale: SZURUBOORU_RATING_SCALE,
  };
  constructor(http: BooruHttp, options: { logger: Logger }) {
    super(http, options, 'szurubooru');
  }

  /** `GET /api/posts/?query=id-min:N+1 sort:id,asc&offset=0&limit=…`; past the newest post `results` is `[]`. */
  async listPostsSince(afterId: number, limit = SZURUBOORU_MAX_PAGE): Promise<PostPage> {
    const query = `id-min:${Math.floor(afterId) + 1} sort:id,asc`;
    return this.postPage(query, 0, clamp(limit, SZURUBOORU_MAX_PAGE), (post) => post.remoteId > afterId);
  }

  /**
   * `GET /api/posts/?query=last-edit-date-min:1970 sort:last-edit-date&offset=…`: newest edit first. The date filter
   * is needed, not decoration: szurubooru sorts `last_edit_time DESC` in PostgreSQL, which puts the posts never
   * edited (NULL) first; they need no re-scan (the id crawl read them as uploaded).
   */
  async listPostsByChange(page: number, limit = SZURUBOORU_MAX_PAGE): Promise<PostPage> {
    const size = clamp(limit, SZURUBOORU_MAX_PAGE);
    const offset = (Math.max(1, Math.floor(page)) - 1) * size;
    return this.postPage('last-edit-date-min:1970 sort:last-edit-date', offset, size);
  }

  async getPost(remoteId: number): Promise<BooruPost | null> {
    const json = await this.readPost(remoteId);
    return json === null ? null : toSzurubooruPost(json, this.http.baseUrl, `GET /api/post/${remoteId}`);
  }

  /**
   * Tags ascending by creation, from position `afterId` (the listing's offset). Szurubooru can filter tags by
   * last-edit date only to the day, and a tag created by a post edit has no last-edit time at all, so every pass
   * reads the whole listing (`updatedSince` is not used); tags are cheap, one page holds 100.
   */
  async listTags(query: TagListQuery): Promise<BooruTag[]> {
    const offset = Math.max(0, Math.floor(query.afterId));
    const tags = await this.tagPage(TAG_ORDER, offset, clamp(query.limit ?? SZURUBOORU_MAX_PAGE, SZURUBOORU_MAX_PAGE));
    return tags.map((tag, i) => toSzurubooruTag(tag, offset + i + 1));
  }

  /**
   * Aliases (a tag's names after the first) or implications (its `implications`), read from the tag listing:
   * implications from the tags that have any (`implication-count-min:1`), aliases from every tag (szurubooru has no
   * filter on the number of names). Pages without any relation are read through, so an empty answer means the end.
   */
  async listTagRelations(kind: 'alias' | 'implication', query: TagListQuery): Promise<BooruTagRelation[]> {
    const search = kind === 'implication' ? `implication-count-min:1 ${TAG_ORDER}` : TAG_ORDER;
    const limit = clamp(query.limit ?? SZURUBOORU_MAX_PAGE, SZURUBOORU_MAX_PAGE);
    let offset = Math.max(0, Math.floor(query.afterId));
    for (;;) {
      const tags = await this.tagPage(search, offset, limit);
      if (tags.length === 0) return [];
      const relations = tags.flatMap((tag, i) => szurubooruRelations(tag, kind, offset + i + 1));
      if (relations.length > 0) return relations;
      offset += tags.length;
    }
  }

  /**
   * `PUT /api/post/<id>` with `{version, tags, safety?}`: the post's current tags (read just before) with the
   * change merged in, so a human's edit made before the read survives, and one made after it makes the site answer
   * 409, upon which the post is read and merged again ({@link SZURUBOORU_CONFLICT_RETRIES} times at most).
   */
  updateTags(remoteId: number, change: TagChange): Promise<TagEditResult> {
    const path = `/api/post/${remoteId}`;
    return runVerifiedEdit(
      {
        kind: this.kind,
        logger: this.logger,
        url: `${this.http.baseUrl}${path}`,
        getPost: (id) => this.getPost(id),
        send: async (id, _edit, wanted, rating) => {
          const implied = await this.impliedBy(wanted.add);
          for (let attempt = 0; ; attempt++) {
            const current = await this.readPost(id);
            if (!current) {
              throw new BooruError('BOORU_NOT_FOUND', `post ${id} vanished during the edit`, {
                method: 'GET',
                url: `${this.http.baseUrl}${path}`,
              });
            }
            const before = current.tags.map((tag) => tag.names[0] ?? '');
            const tags = mergeTags(current, [...wanted.add, ...implied], wanted.remove);
            const body: Record<string, unknown> = { version: current.version, tags };
            const safety = rating === null ? null : (TO_SAFETY[rating as keyof typeof TO_SAFETY] ?? rating);
            if (safety !== null) body['safety'] = safety;
            // After a lost answer the retry meets 409 and this read finds the change saved: nothing left to send.
            if (
              attempt > 0 &&
              tags.join(' ') === [...before].sort().join(' ') &&
              (safety ?? current.safety) === current.safety
            ) {
              return { oldTagString: before.join(' '), newTagString: tags.join(' ') };
            }
            try {
              await this.http.requestJson('PUT', path, { json: body, query: { fields: POST_FIELDS } });
              return { oldTagString: before.join(' '), newTagString: tags.join(' ') };
            } catch (thrown) {
              if (!(thrown instanceof BooruError && thrown.status === 409) || attempt >= SZURUBOORU_CONFLICT_RETRIES) {
                throw thrown;
              }
              this.logger.info(
                { postId: id, version: current.version, attempt: attempt + 1 },
                'post changed while we wrote it (409); re-reading and merging again',
              );
            }
          }
        },
      },
      remoteId,
      change,
    );
  }

  /** The raw post, or null on 404 (szurubooru deletes posts outright). */
  private async readPost(remoteId: number): Promise<SzurubooruPostJson | null> {
    const path = `/api/post/${remoteId}`;
    try {
      return parseSzurubooruPost(await this.http.getJson(path, { fields: POST_FIELDS }), `GET ${path}`);
    } catch (thrown) {
      if (thrown instanceof BooruError && thrown.code === 'BOORU_NOT_FOUND') return null;
      throw thrown;
    }
  }

  /** Every tag implied by `names`, transitively (GET /api/tag/<name>), without `names` themselves. */
  private async impliedBy(names: readonly string[]): Promise<string[]> {
    const seen = new Set(names.map((name) => name.toLowerCase()));
    const queue = [...seen];
    const implied: string[] = [];
    for (let lookups = 0; queue.length > 0 && lookups < MAX_IMPLICATION_LOOKUPS; lookups++) {
      const name = queue.shift()!;
      const tag = await this.readTag(name);
      for (const implication of tag?.implications ?? []) {
        const consequent = canonicalName(implication);
        if (seen.has(consequent)) continue;
        seen.add(consequent);
        implied.push(consequent);
        queue.push(consequent);
      }
    }
    return implied;
  }

  private async readTag(name: string): Promise<SzurubooruTagJson | null> {
    const path = `/api/tag/${encodeURIComponent(name)}`;
    try {
      return parseSzurubooruTag(await this.http.getJson(path), `GET ${path}`);
    } catch (thrown) {
      if (thrown instanceof BooruError && thrown.code === 'BOORU_NOT_FOUND') return null;
      throw thrown;
    }
  }

  private async tagPage(search: string, offset: number, limit: number): Promise<SzurubooruTagJson[]> {
    const path = '/api/tags/';
    const where = `GET ${path}?query=${search}&offset=${offset}`;
    const page = szurubooruPage(await this.http.getJson(path, { query: search, offset, limit }), where);
    return page.results.map((item, i) => parseSzurubooruTag(item, `${where}[${i}]`));
  }

  private async postPage(
    search: string,
    offset: number,
    limit: number,
    keep?: (post: BooruPost) => boolean,
  ): Promise<PostPage> {
    const path = '/api/posts/';
    const url = `${this.http.baseUrl}${path}`;
    const json = await this.http.getJson(path, { query: search, offset, limit, fields: POST_FIELDS });
    let items: unknown[];
    try {
      items = szurubooruPage(json, `GET ${path}`).results;
    } catch (thrown) {
      throw badResponse('GET', url, (thrown as Error).message, thrown);
    }
    return parsePostPage(
      items,
      (item, i) => toSzurubooruPost(item, this.http.baseUrl, `GET ${path}[${i}]`),
      { method: 'GET', url },
      keep,
    );
  }
}

/**
 * The whole tag list to PUT: the post's current tags (by their canonical names, as the site spells them) without
 * those named in `remove` (by any of their names, case-insensitively, as szurubooru matches names), plus each of
 * `add` that no current tag already answers to. Sorted, unique.
 */
export function mergeTags(post: SzurubooruPostJson, add: readonly string[], remove: readonly string[]): string[] {
  const removing = new Set(remove.map((name) => name.toLowerCase()));
  const kept = post.tags.filter((tag) => !tag.names.some((name) => removing.has(name.toLowerCase())));
  const known = new Set(post.tags.flatMap((tag) => tag.names.map((name) => name.toLowerCase())));
  const added = add.map((name) => name.toLowerCase()).filter((name) => !known.has(name));
  const names = [...kept.map((tag) => tag.names[0] ?? ''), ...added].filter(Boolean);
  return [...new Set(names)].sort();
}
