/**
 * Crawl: list the booru's posts newer than the stored cursor, page by page (ascending ids), and upsert them with
 * their current tags and the media URL the tagger will read. The cursor moves only after a page is stored, so it is
 * never past a post the database has not seen.
 */
import type { BooruClient } from '../booru/booru-client.js';
import { chooseMediaVariant } from '../core/media-variant.js';
import type { BooruPost } from '../core/types.js';
import type { CursorRepository } from '../db/cursor.repository.js';
import type { PostRepository } from '../db/post.repository.js';
import type { Logger } from '../shared/logger.js';

export const POSTS_CURSOR = 'posts';

export interface CrawlDeps {
  booru: BooruClient;
  posts: PostRepository;
  cursors: CursorRepository;
  logger: Logger;
}

export interface CrawlOptions {
  booruId: number;
  /** The model's input edge: the media variant chosen is the smallest at least this large. */
  minMediaSize: number;
  /** Stop after this many posts (0 = no limit). */
  maxPosts: number;
  pageSize?: number;
}

export interface CrawlSummary {
  pages: number;
  seen: number;
  inserted: number;
  updated: number;
  skipped: number;
  cursor: number;
}

/** Why a post will not be tagged, or null when it will. Deleted, banned and pending posts are recorded, not fetched. */
export function skipReasonOf(post: BooruPost, mediaSkip: string | null): string | null {
  if (post.isDeleted) return 'deleted';
  if (post.isBanned) return 'banned';
  if (post.isPending) return 'pending';
  return mediaSkip;
}

export async function crawlNewPosts(deps: CrawlDeps, options: CrawlOptions): Promise<CrawlSummary> {
  const { booru, posts, cursors } = deps;
  const logger = deps.logger.child({ stage: 'crawl', booruId: options.booruId });
  let cursor = Number((await cursors.get(options.booruId, POSTS_CURSOR)) ?? '0');
  const summary: CrawlSummary = { pages: 0, seen: 0, inserted: 0, updated: 0, skipped: 0, cursor };
  for (;;) {
    const page = await booru.listPostsSince(cursor, options.pageSize ?? 200);
    const fresh = page.filter((post) => post.remoteId > cursor);
    if (fresh.length === 0) break;
    const limited = options.maxPosts > 0 ? fresh.slice(0, options.maxPosts - summary.seen) : fresh;
    const rows = limited.map((post) => {
      const choice = chooseMediaVariant(post, options.minMediaSize);
      const mediaSkip = 'skipReason' in choice ? choice.message : null;
      const skipReason = skipReasonOf(post, mediaSkip);
      if (skipReason !== null) summary.skipped++;
      return { ...post, mediaUrl: 'url' in choice ? choice.url : null, skipReason };
    });
    const stored = await posts.upsertMany(options.booruId, rows);
    cursor = Math.max(...limited.map((post) => post.remoteId));
    await cursors.set(options.booruId, POSTS_CURSOR, String(cursor));
    summary.pages++;
    summary.seen += limited.length;
    summary.inserted += stored.inserted;
    summary.updated += stored.updated;
    summary.cursor = cursor;
    logger.debug({ page: summary.pages, posts: limited.length, cursor }, 'stored page');
    if (options.maxPosts > 0 && summary.seen >= options.maxPosts) break;
  }
  logger.info(summary, 'crawl finished');
  return summary;
}
