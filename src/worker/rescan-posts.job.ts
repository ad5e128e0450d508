/**
 * Re-scan: read the posts the booru changed since the last pass (humans edit tags all the time), refresh the stored
 * tags, and settle the open suggestions those edits answered: a change a human already made is closed as
 * `already_applied`, one the post no longer warrants (deleted, banned, now implied) as `superseded`. Needs a booru
 * that can list posts by last change (`capabilities.canListChanges`); others are reported as unsupported.
 *
 * The cursor is the newest `updated_at` seen by a completed pass; a pass reads pages newest-first until it reaches
 * posts older than that (minus a small overlap for clock skew), so a post edited while the pass runs is seen by the
 * next one at the latest.
 */
import type { BooruClient } from '../booru/booru-client.js';
import { reconcileSuggestion } from '../core/tag-edit.js';
import type { BooruPost } from '../core/types.js';
import type { CursorRepository } from '../db/cursor.repository.js';
import type { PostRepository } from '../db/post.repository.js';
import type { SuggestionRepository } from '../db/suggestion.repository.js';
import type { TagRepository } from '../db/tag.repository.js';
import { type Clock, systemClock } from '../shared/clock.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { toPostUpsert } from './crawl-posts.job.js';

export const CHANGES_CURSOR = 'changes';
/** Re-read this much before the cursor: booru clocks and our pass may disagree by a little. */
const OVERLAP_MS = 60_000;

export interface RescanDeps {
  booru: BooruClient;
  posts: PostRepository;
  suggestions: SuggestionRepository;
  tags: TagRepository;
  cursors: CursorRepository;
  logger: Logger;
  clock?: Clock;
}

export interface RescanOptions {
  booruId: number;
  minMediaSize: number;
  /** On the first pass, how far back to look, in ms. */
  windowMs: number;
  pageSize?: number;
  /** Safety stop (Danbooru refuses numbered pages past 1000). (Default: 1000) */
  maxPages?: number;
}

export interface RescanSummary {
  supported: boolean;
  pages: number;
  /** Changed posts read and stored. */
  refreshed: number;
  /** Of those, stored posts whose tags or rating changed. */
  changed: number;
  alreadyApplied: number;
  superseded: number;
  /** The new cursor (ISO), or null when nothing was read yet. */
  cursor: string | null;
  interrupted: { code: string; message: string } | null;
}

export async function rescanChangedPosts(deps: RescanDeps, options: RescanOptions): Promise<RescanSummary> {
  const logger = deps.logger.child({ stage: 'rescan', booruId: options.booruId });
  const clock = deps.clock ?? systemClock;
  const stored = await deps.cursors.get(options.booruId, CHANGES_CURSOR);
  const summary: RescanSummary = {
    supported: deps.booru.capabilities.canListChanges,
    pages: 0,
    refreshed: 0,
    changed: 0,
    alreadyApplied: 0,
    superseded: 0,
    cursor: stored,
    interrupted: null,
  };
  if (!summary.supported) {
    logger.info('this booru cannot list posts by change; re-scan skipped');
    return summary;
  }
  const since = stored ? new Date(Date.parse(stored) - OVERLAP_MS) : new Date(clock.now().getTime() - options.windowMs);
  let newest = stored ? Date.parse(stored) : 0;
  const maxPages = options.maxPages ?? 1000;
  const { implications } = await deps.tags.loadFacts(options.booruId);

  for (let pageNo = 1; pageNo <= maxPages; pageNo++) {
    let page: Awaited<ReturnType<BooruClient['listPostsByChange']>>;
    try {
      page = await deps.booru.listPostsByChange(pageNo, options.pageSize);
    } catch (thrown) {
      const error = coerceError(thrown);
      if (!(error instanceof AppError) || !error.retryable) throw error;
      summary.interrupted = { code: error.code, message: error.message };
      logger.warn(
        { err: error.message, page: pageNo },
        're-scan interrupted; the cursor stays, the next pass redoes it',
      );
      return summary;
    }
    summary.pages++;
    const recent = page.posts.filter((p) => p.updatedAt === null || p.updatedAt >= since);
    if (recent.length > 0) {
      await refresh(deps, options, recent, implications, summary);
      for (const post of recent) if (post.updatedAt) newest = Math.max(newest, post.updatedAt.getTime());
    }
    const reachedOld = page.posts.some((p) => p.updatedAt !== null && p.updatedAt < since);
    if (reachedOld || page.posts.length + page.rejected.length === 0) break;
  }
  if (newest > 0) {
    summary.cursor = new Date(newest).toISOString();
    await deps.cursors.set(options.booruId, CHANGES_CURSOR, summary.cursor);
  }
  logger.info(summary, 're-scan finished');
  return summary;
}

async function refresh(
  deps: RescanDeps,
  options: RescanOptions,
  posts: BooruPost[],
  implications: [string, string][],
  summary: RescanSummary,
): Promise<void> {
  const ids = posts.map((p) => p.remoteId);
  const before = await deps.posts.tagsVersions(options.booruId, ids);
  await deps.posts.upsertMany(
    options.booruId,
    posts.map((post) => toPostUpsert(post, options.minMediaSize)),
  );
  const after = await deps.posts.tagsVersions(options.booruId, ids);
  summary.refreshed += posts.length;
  // Only posts already stored can have suggestions; among them, those whose tags or flags may have changed.
  const touched = posts.filter((post) => {
    const was = before.get(post.remoteId);
    const now = after.get(post.remoteId);
    if (!was || !now) return false;
    if (now.tagsVersion !== was.tagsVersion) summary.changed++;
    return now.tagsVersion !== was.tagsVersion || post.isDeleted || post.isBanned;
  });
  if (touched.length === 0) return;
  const postIdOf = new Map(touched.map((post) => [after.get(post.remoteId)!.id, post]));
  const open = await deps.suggestions.listOpenForPosts([...postIdOf.keys()]);
  const closing: { id: number; status: 'already_applied' | 'superseded'; reason: string }[] = [];
  for (const suggestion of open) {
    const post = postIdOf.get(suggestion.postId)!;
    const verdict = reconcileSuggestion(suggestion, post, implications);
    if (verdict.verdict !== 'keep')
      closing.push({ id: suggestion.id, status: verdict.verdict, reason: verdict.reason });
  }
  const changed = new Set(await deps.suggestions.closeOpen(closing));
  for (const row of closing) {
    if (!changed.has(row.id)) continue;
    if (row.status === 'already_applied') summary.alreadyApplied++;
    else summary.superseded++;
  }
}
