/**
 * Moebooru adapter (yande.re, konachan; BOORU-API §2): `/post.json` with 1-based pages, tags as a string, epoch
 * times. Credentials go as `login` + `password_hash` query parameters (Moebooru reads no Basic auth). Tag edits use
 * `POST /post/update.json` with `post[tags]` and `post[old_tags]` in the snapshot form: Moebooru computes
 * `(current ∪ new) − old ∪ (current ∩ new)`, so a human's concurrent additions and removals survive, exactly as with
 * Danbooru's `old_tag_string`.
 */
import type { BooruPost, TagChange } from '../core/types.js';
import type { Logger } from '../shared/logger.js';
import { badResponse, parsePostPage, runVerifiedEdit, unsupported } from './adapter-support.js';
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
import type { BooruHttp } from './http.js';
import { parseMoebooruTags, TO_MOEBOORU, toMoebooruPost } from './moebooru.schemas.js';

/** Moebooru's page size for polling (the code allows 1000; sites cap lower). */
export const MOEBOORU_MAX_PAGE = 100;

export class MoebooruClient implements BooruClient {
  readonly kind = 'moebooru' as const;
  readonly capabilities: BooruCapabilities = { canEditTags: true, canListChanges: false, canSyncRelations: false };
  private readonly logger: Logger;

  constructor(
    private readonly http: BooruHttp,
    options: { logger: Logger },
  ) {
    this.logger = options.logger.child({ booru: 'moebooru' });
  }

  /** `GET /post.json?tags=id:>N order:id&limit=…&page=1`. */
  async listPostsSince(afterId: number, limit = MOEBOORU_MAX_PAGE): Promise<PostPage> {
    const json = await this.http.getJson('/post.json', {
      tags: `id:>${Math.floor(afterId)} order:id`,
      limit: clamp(limit, MOEBOORU_MAX_PAGE),
      page: 1,
    });
    return this.postPage(json, (post) => post.remoteId > afterId);
  }

  listPostsByChange(): Promise<PostPage> {
    return Promise.reject(unsupported(this.kind, 'list posts by last change'));
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

  /** `GET /tag.json?after_id=N&limit=…&order=date`. Moebooru has no incremental filter: every pass reads all. */
  async listTags(query: TagListQuery): Promise<BooruTag[]> {
    const json = await this.http.getJson('/tag.json', {
      after_id: Math.max(0, Math.floor(query.afterId)),
      limit: clamp(query.limit ?? 1000, 1000),
      order: 'date',
    });
    return parseMoebooruTags(json, `${this.http.baseUrl}/tag.json`, query.afterId);
  }

  listTagRelations(): Promise<BooruTagRelation[]> {
    // Moebooru lists aliases by tag id, not by name; not worth a second tag-id index for now.
    return Promise.reject(unsupported(this.kind, 'list aliases and implications by name'));
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

  downloadMedia(url: string, limits: MediaLimits): Promise<Buffer> {
    return this.http.getBytes(url, limits);
  }

  private postPage(json: unknown, keep?: (post: BooruPost) => boolean): PostPage {
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
