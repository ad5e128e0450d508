/**
 * Danbooru adapter (BOORU-API §1): lists new posts by id cursor, reads posts, writes tag changes in the snapshot form
 * and verifies them with a fresh read.
 */
import { buildSnapshotEdit, classifyEditOutcome, classifyRatingOutcome, ratingToSend } from '../core/tag-edit.js';
import type { BooruPost, TagChange } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { BooruError } from './booru-error.js';
import type { BooruClient, MediaLimits, TagEditResult } from './booru-client.js';
import { toBooruPost } from './danbooru.schemas.js';
import type { BooruHttp } from './http.js';

/** Danbooru's maximum `limit` for /posts.json. */
export const DANBOORU_MAX_PAGE = 200;

export interface DanbooruClientOptions {
  logger: Logger;
}

export class DanbooruClient implements BooruClient {
  readonly kind = 'danbooru' as const;
  private readonly logger: Logger;

  constructor(
    private readonly http: BooruHttp,
    options: DanbooruClientOptions,
  ) {
    this.logger = options.logger.child({ booru: 'danbooru' });
  }

  /**
   * `GET /posts.json?tags=id:>N order:id&limit=…` (one search term for `order:`, within the anonymous 2-term limit).
   * Includes deleted, banned and pending posts: callers record and skip them. Sorted and de-duplicated here anyway.
   */
  async listPostsSince(afterId: number, limit = DANBOORU_MAX_PAGE): Promise<BooruPost[]> {
    const path = '/posts.json';
    const pageSize = Math.max(1, Math.min(DANBOORU_MAX_PAGE, Math.floor(limit)));
    const json = await this.http.getJson(path, { tags: `id:>${Math.floor(afterId)} order:id`, limit: pageSize });
    if (!Array.isArray(json)) {
      throw this.badResponse('GET', path, `expected an array of posts, got ${typeof json}`);
    }
    const byId = new Map<number, BooruPost>();
    json.forEach((item, index) => {
      const post = this.parsePost(item, 'GET', `${path}[${index}]`);
      if (post.remoteId > afterId) byId.set(post.remoteId, post);
    });
    return [...byId.values()].sort((a, b) => a.remoteId - b.remoteId);
  }

  /** `GET /posts/<id>.json`; 404 (unknown or expunged) ⇒ null. */
  async getPost(remoteId: number): Promise<BooruPost | null> {
    const path = `/posts/${remoteId}.json`;
    try {
      return this.parsePost(await this.http.getJson(path), 'GET', path);
    } catch (thrown) {
      if (thrown instanceof AppError && thrown.code === 'BOORU_NOT_FOUND') return null;
      throw thrown;
    }
  }

  /**
   * 1. read the post (to know `updated_at` and which changes are already in place; nothing to do ⇒ no write);
   * 2. `PUT /posts/<id>.json` form-encoded with `post[old_tag_string]` and `post[tag_string]` (never a bare
   *    tag_string, which would wipe every tag added since the snapshot); the snapshot form is idempotent, so the
   *    helper may retry it;
   * 3. read the post again and classify each tag: HTTP 200 does not mean saved.
   */
  async updateTags(remoteId: number, change: TagChange): Promise<TagEditResult> {
    const path = `/posts/${remoteId}.json`;
    const edit = buildSnapshotEdit(change);
    const before = await this.getPost(remoteId);
    if (!before)
      throw new BooruError('BOORU_NOT_FOUND', `post ${remoteId} not found`, {
        method: 'GET',
        url: `${this.http.baseUrl}${path}`,
      });

    const beforeTags = new Set(before.tags);
    const rating = ratingToSend(change, before.rating);
    const nothingToDo =
      change.add.every((tag) => beforeTags.has(tag)) &&
      change.remove.every((tag) => !beforeTags.has(tag)) &&
      rating === null;
    if (nothingToDo) {
      const outcomes = classifyEditOutcome(change, before.tags, { before: before.tags });
      const ratingOutcome = classifyRatingOutcome(change, before.rating, before.rating);
      if (ratingOutcome) outcomes.push(ratingOutcome);
      return { oldTagString: '', newTagString: '', before, after: before, sent: false, saved: false, outcomes };
    }

    // The rating uses the same merge as tags: `old_rating` is what the diff saw, so Danbooru changes only that.
    const ratingForm: Record<string, string> =
      rating === null ? {} : { 'post[old_rating]': change.rating?.from ?? '', 'post[rating]': rating };
    await this.http.requestJson('PUT', path, {
      form: { 'post[old_tag_string]': edit.oldTagString, 'post[tag_string]': edit.newTagString, ...ratingForm },
    });
    const after = await this.getPost(remoteId);
    if (!after)
      throw new BooruError('BOORU_NOT_FOUND', `post ${remoteId} vanished during the edit`, {
        method: 'GET',
        url: path,
      });

    const saved =
      (after.updatedAt !== null && before.updatedAt !== null && after.updatedAt > before.updatedAt) ||
      after.tags.join(' ') !== before.tags.join(' ') ||
      after.rating !== before.rating;
    const outcomes = classifyEditOutcome(change, after.tags, { before: before.tags, saved });
    const ratingOutcome = classifyRatingOutcome(change, before.rating, after.rating);
    if (ratingOutcome) outcomes.push(ratingOutcome);
    const refused = outcomes.filter((o) => o.outcome === 'refused');
    if (refused.length > 0) {
      this.logger.warn(
        { postId: remoteId, saved, refused: refused.map((o) => `${o.action === 'add' ? '' : '-'}${o.tag}`) },
        'tag edit partly refused by the booru',
      );
    }
    return { ...edit, before, after, sent: true, saved, outcomes };
  }

  downloadMedia(url: string, limits: MediaLimits): Promise<Buffer> {
    return this.http.getBytes(url, limits);
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

  private badResponse(method: string, path: string, message: string): BooruError {
    return new BooruError('BOORU_BAD_RESPONSE', message, { method, url: `${this.http.baseUrl}${path}` });
  }
}
