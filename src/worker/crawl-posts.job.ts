/**
 * Crawl: list the booru's posts newer than the stored cursor, page by page (ascending ids), and upsert them with
 * their current tags and the media URL the tagger will read. Every listed post is accounted for: stored, recorded
 * as skipped with a reason (deleted, banned, pending, no media, or unreadable JSON), and the cursor moves only after
 * a page is stored, so it is never past a post the database has not seen. A transient failure (429 after the
 * back-off, 5xx or timeouts after the retries) ends the crawl early with what was stored, and says so; the next run
 * continues from the cursor. Blocked, unauthorised or misconfigured ⇒ thrown, an operator must act.
 *
 * A listing may skip a post (a lagging replica shows a higher id before a lower one commits), and the cursor then
 * passes it. Danbooru and e621 recover it through the re-scan of changed posts; boorus that cannot list by change
 * (Moebooru, Gelbooru), or whose change listing leaves out posts never edited (Szurubooru), re-read the
 * {@link SKIP_WINDOW_IDS} ids below the cursor at the start of each crawl and store the posts found there that the
 * database has never seen.
 */
import type { BooruClient, PostPage } from '../booru/booru-client.js';
import { chooseMediaVariant } from '../core/media-variant.js';
import type { BooruPost } from '../core/types.js';
import type { CursorRepository } from '../db/cursor.repository.js';
import type { PostRepository } from '../db/post.repository.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

export const POSTS_CURSOR = 'posts';
/** How many ids below the cursor a crawl re-reads for skipped posts, where the re-scan cannot find them. */
const SKIP_WINDOW_IDS = 100;

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
  /** Posts listed and accounted for (stored, skipped or unreadable). */
  seen: number;
  inserted: number;
  updated: number;
  skipped: number;
  /** Listed posts whose JSON could not be read, recorded as skipped by id. */
  unreadable: number;
  /** Posts below the cursor that an earlier listing skipped, found and stored now. */
  recovered: number;
  cursor: number;
  /** Set when a transient failure ended the crawl early (the next run continues from `cursor`). */
  interrupted: { code: string; message: string } | null;
}

/** Why a post will not be tagged, or null when it will. Deleted, banned and pending posts are recorded, not fetched. */
function skipReasonOf(post: BooruPost, mediaSkip: string | null): string | null {
  if (post.isDeleted) return 'deleted';
  if (post.isBanned) return 'banned';
  if (post.isPending) return 'pending';
  return mediaSkip;
}

/** A listed post with the crawler's verdict, ready for `PostRepository.upsertMany`. */
export function toPostUpsert(post: BooruPost, minMediaSize: number) {
  const choice = chooseMediaVariant(post, minMediaSize);
  const mediaSkip = 'skipReason' in choice ? choice.message : null;
  return { ...post, mediaUrl: 'url' in choice ? choice.url : null, skipReason: skipReasonOf(post, mediaSkip) };
}

export async function crawlNewPosts(deps: CrawlDeps, options: CrawlOptions): Promise<CrawlSummary> {
  const { booru, posts, cursors } = deps;
  const logger = deps.logger.child({ stage: 'crawl', booruId: options.booruId });
  let cursor = Number((await cursors.get(options.booruId, POSTS_CURSOR)) ?? '0');
  const summary: CrawlSummary = {
    pages: 0,
    seen: 0,
    inserted: 0,
    updated: 0,
    skipped: 0,
    unreadable: 0,
    recovered: 0,
    cursor,
    interrupted: null,
  };
  const rescanFindsSkipped = booru.capabilities.canListChanges && booru.capabilities.changesIncludeNewPosts !== false;
  if (cursor > 0 && !rescanFindsSkipped) {
    try {
      summary.recovered = await storeSkipped(deps, options, cursor);
    } catch (thrown) {
      const error = coerceError(thrown);
      if (!(error instanceof AppError) || !error.retryable) throw error;
      summary.interrupted = { code: error.code, message: error.message };
      logger.warn({ err: error.message, cursor }, 'crawl interrupted by a transient failure; the next run continues');
      return summary;
    }
    if (summary.recovered > 0) logger.warn({ recovered: summary.recovered }, 'stored posts an earlier listing skipped');
  }
  for (;;) {
    let page: PostPage;
    try {
      page = await booru.listPostsSince(cursor, options.pageSize);
    } catch (thrown) {
      const error = coerceError(thrown);
      if (!(error instanceof AppError) || !error.retryable) throw error;
      summary.interrupted = { code: error.code, message: error.message };
      logger.warn({ err: error.message, cursor }, 'crawl interrupted by a transient failure; the next run continues');
      break;
    }
    // Everything listed above the cursor, in id order: parsed posts and unreadable ones alike count toward the limit.
    const listed = [
      ...page.posts.filter((p) => p.remoteId > cursor).map((post) => ({ id: post.remoteId, post })),
      ...page.rejected.filter((r) => r.remoteId > cursor).map((rejected) => ({ id: rejected.remoteId, rejected })),
    ].sort((a, b) => a.id - b.id);
    if (listed.length === 0) break;
    const taken = options.maxPosts > 0 ? listed.slice(0, options.maxPosts - summary.seen) : listed;
    const rows = taken.flatMap((item) =>
      'post' in item && item.post ? [toPostUpsert(item.post, options.minMediaSize)] : [],
    );
    const unreadable = taken.flatMap((item) =>
      'rejected' in item && item.rejected ? [{ remoteId: item.id, reason: item.rejected.message }] : [],
    );
    const stored = await posts.upsertMany(options.booruId, rows);
    await posts.recordUnreadable(options.booruId, unreadable);
    if (unreadable.length > 0) {
      logger.warn({ ids: unreadable.map((u) => u.remoteId) }, 'listed posts with unreadable JSON recorded as skipped');
    }
    cursor = taken.at(-1)!.id;
    await cursors.set(options.booruId, POSTS_CURSOR, String(cursor));
    summary.pages++;
    summary.seen += taken.length;
    summary.skipped += rows.filter((r) => r.skipReason !== null).length + unreadable.length;
    summary.unreadable += unreadable.length;
    summary.inserted += stored.inserted;
    summary.updated += stored.updated;
    summary.cursor = cursor;
    logger.debug({ page: summary.pages, posts: taken.length, cursor }, 'stored page');
    if (options.maxPosts > 0 && summary.seen >= options.maxPosts) break;
  }
  logger.info(summary, 'crawl finished');
  return summary;
}

/** Stores the posts of the {@link SKIP_WINDOW_IDS} ids up to `cursor` that the database has never seen. */
async function storeSkipped(deps: CrawlDeps, options: CrawlOptions, cursor: number): Promise<number> {
  const page = await deps.booru.listPostsSince(Math.max(0, cursor - SKIP_WINDOW_IDS), SKIP_WINDOW_IDS);
  const listed = [...page.posts.map((p) => p.remoteId), ...page.rejected.map((r) => r.remoteId)];
  const stored = await deps.posts.tagsVersions(options.booruId, listed);
  const missing = (id: number) => id <= cursor && !stored.has(id);
  const rows = page.posts.filter((p) => missing(p.remoteId)).map((p) => toPostUpsert(p, options.minMediaSize));
  const unreadable = page.rejected
    .filter((r) => missing(r.remoteId))
    .map((r) => ({ remoteId: r.remoteId, reason: r.message }));
  await deps.posts.upsertMany(options.booruId, rows);
  await deps.posts.recordUnreadable(options.booruId, unreadable);
  return rows.length + unreadable.length;
}
