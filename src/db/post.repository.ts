import type { BooruPost, Rating } from '../core/types.js';
import type { PrismaClient } from './generated/client.js';
import { findPostDetail } from './post-detail.js';
import * as reads from './post-reads.js';
import type { DatasetPost, DatasetPostFilter, PostByMd5 } from './post-reads.js';
import { inList, POST_MOVES } from './state-guards.js';
import {
  type ClaimedPost,
  type ClaimOptions,
  type MarkFailedOptions,
  POST_STATES,
  type PostDetail,
  type PostState,
  type PostUpsert,
  type StoredPost,
  type UpsertResult,
} from './post.types.js';

export * from './post.types.js';

/** Sorted and unique, so stored arrays compare as sets. */
function normaliseTags(tags: readonly string[]): string[] {
  return [...new Set(tags)].sort();
}

function sameTagSet(a: readonly string[], b: readonly string[]): boolean {
  const x = normaliseTags(a);
  const y = normaliseTags(b);
  return x.length === y.length && x.every((t, i) => t === y[i]);
}

export class PostRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Inserts or refreshes crawled posts in one statement. New posts start `new`, or `skipped` with the crawler's
   * reason. A stored post whose tag set or rating changed gets its tagsVersion bumped; a post skipped by the crawl
   * that became taggable (its media or flags changed and it has no skip reason now) goes back to `new`; a `new`
   * post that is now untaggable becomes `skipped`. A tagged, failed or queued post whose file was replaced (its md5
   * changed) goes back to `new` with its attempts reset: its scores describe a file the post no longer has, and a
   * worker still scoring the old file loses its lease, so its write is dropped.
   */
  async upsertMany(booruId: number, rows: readonly PostUpsert[]): Promise<UpsertResult> {
    if (rows.length === 0) return { inserted: 0, updated: 0, changed: 0 };
    // The last occurrence wins when a page lists the same post twice: ON CONFLICT cannot touch a row twice.
    const byRemoteId = new Map(rows.map((r) => [r.remoteId, r]));
    const payload = JSON.stringify(
      [...byRemoteId.values()].map((r) => ({
        remote_id: r.remoteId,
        md5: r.md5,
        rating: r.rating,
        tags: normaliseTags(r.tags),
        file_url: r.fileUrl,
        preview_url: r.previewUrl,
        media_url: r.mediaUrl,
        variants: r.variants,
        width: r.width,
        height: r.height,
        file_ext: r.fileExt,
        file_size: r.fileSize,
        is_deleted: r.isDeleted,
        is_banned: r.isBanned,
        is_pending: r.isPending,
        remote_updated_at: r.updatedAt?.toISOString() ?? null,
        skip_reason: r.skipReason,
      })),
    );
    // `old` reads the pre-statement snapshot (all CTEs share one), so comparing its tags_version with the one
    // RETURNING reports tells which rows really changed without a second round trip.
    const result = await this.prisma.$queryRaw<{ inserted: boolean; changed: boolean }[]>`
      WITH input AS (
        SELECT r.remote_id, r.md5, r.rating, ARRAY(SELECT jsonb_array_elements_text(r.tags)) AS tags, r.file_url,
               r.preview_url, r.media_url, r.variants, r.width, r.height, r.file_ext, r.file_size, r.is_deleted,
               r.is_banned, r.is_pending, r.remote_updated_at, r.skip_reason
        FROM jsonb_to_recordset(${payload}::jsonb) AS r(
          remote_id int, md5 text, rating text, tags jsonb, file_url text, preview_url text, media_url text,
          variants jsonb, width int, height int, file_ext text, file_size int, is_deleted boolean, is_banned boolean,
          is_pending boolean, remote_updated_at timestamptz, skip_reason text)
      ),
      old AS (
        SELECT p.remote_id, p.tags_version FROM posts p
        WHERE p.booru_id = ${booruId} AND p.remote_id IN (SELECT remote_id FROM input)
      ),
      up AS (
        INSERT INTO posts AS p (booru_id, remote_id, md5, rating, tags, file_url, preview_url, media_url, variants,
          width, height, file_ext, file_size, is_deleted, is_banned, is_pending, remote_updated_at, state, skip_reason,
          updated_at)
        SELECT ${booruId}, i.remote_id, i.md5, i.rating, i.tags, i.file_url, i.preview_url, i.media_url, i.variants,
          i.width, i.height, i.file_ext, i.file_size, i.is_deleted, i.is_banned, i.is_pending, i.remote_updated_at,
          CASE WHEN i.skip_reason IS NULL THEN 'new' ELSE 'skipped' END::"PostState", i.skip_reason, now()
        FROM input i
        ON CONFLICT (booru_id, remote_id) DO UPDATE SET
          md5 = EXCLUDED.md5, rating = EXCLUDED.rating, tags = EXCLUDED.tags, file_url = EXCLUDED.file_url,
          preview_url = EXCLUDED.preview_url, media_url = EXCLUDED.media_url, variants = EXCLUDED.variants,
          width = EXCLUDED.width, height = EXCLUDED.height, file_ext = EXCLUDED.file_ext,
          file_size = EXCLUDED.file_size, is_deleted = EXCLUDED.is_deleted, is_banned = EXCLUDED.is_banned,
          is_pending = EXCLUDED.is_pending, remote_updated_at = EXCLUDED.remote_updated_at,
          tags_version = p.tags_version + CASE
            WHEN NOT (coalesce(p.tags, '{}') @> EXCLUDED.tags AND coalesce(p.tags, '{}') <@ EXCLUDED.tags)
              OR p.rating IS DISTINCT FROM EXCLUDED.rating THEN 1 ELSE 0 END,
          -- A post the worker skipped (undecodable image…) has unchanged media: it must not bounce back to new on
          -- every crawl. Only a change of media or flags re-opens a skipped post.
          state = CASE
            WHEN p.state IN (${inList(POST_MOVES.mediaChanged.from)}) AND EXCLUDED.skip_reason IS NULL
              AND p.md5 IS DISTINCT FROM EXCLUDED.md5
              THEN 'new'
            WHEN p.state IN (${inList(POST_MOVES.reopenSkipped.from)}) AND EXCLUDED.skip_reason IS NULL
              AND (p.md5, p.media_url, p.file_ext, p.is_deleted, p.is_banned, p.is_pending) IS DISTINCT FROM
                  (EXCLUDED.md5, EXCLUDED.media_url, EXCLUDED.file_ext, EXCLUDED.is_deleted, EXCLUDED.is_banned,
                   EXCLUDED.is_pending)
              THEN 'new'
            WHEN p.state IN (${inList(POST_MOVES.crawlSkip.from)}) AND EXCLUDED.skip_reason IS NOT NULL THEN 'skipped'
            ELSE p.state END::"PostState",
          skip_reason = CASE
            WHEN p.state IN ('new', 'skipped') AND EXCLUDED.skip_reason IS NOT NULL THEN EXCLUDED.skip_reason
            WHEN p.state = 'skipped' AND EXCLUDED.skip_reason IS NULL
              AND (p.md5, p.media_url, p.file_ext, p.is_deleted, p.is_banned, p.is_pending) IS DISTINCT FROM
                  (EXCLUDED.md5, EXCLUDED.media_url, EXCLUDED.file_ext, EXCLUDED.is_deleted, EXCLUDED.is_banned,
                   EXCLUDED.is_pending)
              THEN NULL
            ELSE p.skip_reason END,
          attempts = CASE
            WHEN p.state IN ('tagged', 'failed', 'queued') AND EXCLUDED.skip_reason IS NULL
              AND p.md5 IS DISTINCT FROM EXCLUDED.md5
              THEN 0
            ELSE p.attempts END,
          -- A worker scoring the old file loses its lease: its write is dropped (it checks state and owner) and the
          -- post is claimed again for the new file.
          lease_owner = CASE
            WHEN p.state = 'queued' AND EXCLUDED.skip_reason IS NULL AND p.md5 IS DISTINCT FROM EXCLUDED.md5 THEN NULL
            ELSE p.lease_owner END,
          lease_expires_at = CASE
            WHEN p.state = 'queued' AND EXCLUDED.skip_reason IS NULL AND p.md5 IS DISTINCT FROM EXCLUDED.md5 THEN NULL
            ELSE p.lease_expires_at END,
          updated_at = now()
        WHERE (p.md5, p.rating, p.file_url, p.preview_url, p.media_url, p.variants, p.width, p.height, p.file_ext,
               p.file_size, p.is_deleted, p.is_banned, p.is_pending, p.remote_updated_at)
            IS DISTINCT FROM
              (EXCLUDED.md5, EXCLUDED.rating, EXCLUDED.file_url, EXCLUDED.preview_url, EXCLUDED.media_url,
               EXCLUDED.variants, EXCLUDED.width, EXCLUDED.height, EXCLUDED.file_ext, EXCLUDED.file_size,
               EXCLUDED.is_deleted, EXCLUDED.is_banned, EXCLUDED.is_pending, EXCLUDED.remote_updated_at)
          OR (p.state = 'new' AND EXCLUDED.skip_reason IS NOT NULL)
          OR NOT (coalesce(p.tags, '{}') @> EXCLUDED.tags AND coalesce(p.tags, '{}') <@ EXCLUDED.tags)
        RETURNING p.remote_id, p.tags_version, (xmax = 0) AS inserted
      )
      SELECT up.inserted, coalesce(up.tags_version <> old.tags_version, false) AS changed
      FROM up LEFT JOIN old ON old.remote_id = up.remote_id`;
    let inserted = 0;
    let changed = 0;
    for (const row of result) {
      if (row.inserted) inserted++;
      else if (row.changed) changed++;
    }
    return { inserted, updated: result.length - inserted, changed };
  }

  /**
   * Leases up to `limit` posts that need tagging (state `new`, or `queued` with an expired lease), lowest remote id
   * first. Concurrent callers never receive the same post: rows another claimer has locked are skipped.
   */
  async claimBatch(options: ClaimOptions): Promise<ClaimedPost[]> {
    const maxAttempts = options.maxAttempts ?? 2 ** 31 - 1;
    await this.prisma.$executeRaw`
      UPDATE posts SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
        last_error = 'lease expired after attempt ' || attempts || ': the worker stopped or hung while holding this post'
      WHERE booru_id = ${options.booruId} AND state IN (${inList(POST_MOVES.expireLease.from)})
        AND lease_expires_at < now() AND attempts >= ${maxAttempts}`;
    const rows = await this.prisma.$queryRaw<
      {
        id: number;
        remote_id: number;
        md5: string | null;
        rating: string | null;
        tags: string[] | null;
        tags_version: number;
        media_url: string | null;
        attempts: number;
      }[]
    >`
      UPDATE posts SET state = 'queued', lease_owner = ${options.owner},
        lease_expires_at = now() + ${options.leaseMs} * interval '1 millisecond', attempts = attempts + 1,
        updated_at = now()
      WHERE id IN (
        SELECT id FROM posts
        WHERE booru_id = ${options.booruId}
          -- POST_MOVES.claim: new (never tagged first) or queued with an expired lease.
          AND ((state = 'new' AND tagged_at IS NULL) OR (state = 'queued' AND lease_expires_at < now()))
        ORDER BY remote_id
        LIMIT ${options.limit}
        FOR UPDATE SKIP LOCKED
      )
      RETURNING id, remote_id, md5, rating, tags, tags_version, media_url, attempts`;
    // Posts never tagged (and expired leases) come first; posts queued again for a newer model fill the rest, so a
    // model change re-scores the archive in the background without holding up new uploads.
    if (rows.length < options.limit) {
      rows.push(
        ...(await this.prisma.$queryRaw<typeof rows>`
        UPDATE posts SET state = 'queued', lease_owner = ${options.owner},
          lease_expires_at = now() + ${options.leaseMs} * interval '1 millisecond', attempts = attempts + 1,
          updated_at = now()
        WHERE id IN (
          SELECT id FROM posts
          WHERE booru_id = ${options.booruId} AND state = 'new' AND tagged_at IS NOT NULL
          ORDER BY remote_id DESC
          LIMIT ${options.limit - rows.length}
          FOR UPDATE SKIP LOCKED
        )
        RETURNING id, remote_id, md5, rating, tags, tags_version, media_url, attempts`),
      );
    }
    return rows
      .map((r) => ({
        id: r.id,
        remoteId: r.remote_id,
        md5: r.md5,
        rating: r.rating as Rating | null,
        tags: r.tags ?? [],
        tagsVersion: r.tags_version,
        mediaUrl: r.media_url,
        attempts: r.attempts,
      }))
      .sort((a, b) => a.remoteId - b.remoteId);
  }

  /**
   * After a model change: every tagged post without scores from `modelId` goes back to the pool to be scored again
   * (behind posts never tagged, see {@link claimBatch}). Its suggestions stay until the new scores replace them.
   * Returns how many posts were queued.
   */
  async queueRescore(booruId: number, modelId: number): Promise<number> {
    return this.prisma.$executeRaw`
      UPDATE posts p SET state = 'new', attempts = 0, updated_at = now()
      WHERE p.booru_id = ${booruId} AND p.state IN (${inList(POST_MOVES.rescore.from)})
        AND NOT EXISTS (SELECT 1 FROM predictions pr WHERE pr.post_id = p.id AND pr.model_id = ${modelId})`;
  }

  /** Extends the leases this worker still holds on `ids`; returns how many it still held. */
  async heartbeat(ids: readonly number[], owner: string, leaseMs: number): Promise<number> {
    if (ids.length === 0) return 0;
    return this.prisma.$executeRaw`
      UPDATE posts SET lease_expires_at = now() + ${leaseMs} * interval '1 millisecond'
      WHERE id = ANY(${[...ids]}::int[]) AND state = 'queued' AND lease_owner = ${owner}`;
  }

  /**
   * Gives leased posts back to the pool untouched (graceful shutdown): state `new`, lease cleared, and the attempt
   * that never ran is not counted.
   */
  async release(ids: readonly number[], owner: string): Promise<number> {
    if (ids.length === 0) return 0;
    return this.prisma.$executeRaw`
      UPDATE posts SET state = 'new', lease_owner = NULL, lease_expires_at = NULL,
        attempts = GREATEST(attempts - 1, 0), updated_at = now()
      WHERE id = ANY(${[...ids]}::int[]) AND state IN (${inList(POST_MOVES.release.from)}) AND lease_owner = ${owner}`;
  }

  /** Marks a leased post tagged. Returns false when the lease is no longer ours (expired and taken over). */
  async markTagged(id: number, owner: string): Promise<boolean> {
    const { count } = await this.prisma.post.updateMany({
      where: { id, state: { in: [...POST_MOVES.tag.from] }, leaseOwner: owner },
      data: { state: 'tagged', taggedAt: new Date(), lastError: null, leaseOwner: null, leaseExpiresAt: null },
    });
    return count === 1;
  }

  /**
   * Marks a post skipped with a reason (unsupported media…). With `owner`, only while the lease is ours.
   * Returns false when nothing was changed.
   */
  async markSkipped(id: number, reason: string, owner?: string): Promise<boolean> {
    const { count } = await this.prisma.post.updateMany({
      where: owner === undefined ? { id } : { id, state: { in: [...POST_MOVES.skipOwned.from] }, leaseOwner: owner },
      data: { state: 'skipped', skipReason: reason, leaseOwner: null, leaseExpiresAt: null },
    });
    return count === 1;
  }

  /**
   * Records a failed attempt. With `retry` and attempts left the post returns to `new` (lease cleared) for another
   * worker; otherwise it becomes `failed`. Returns the new state, or null when the lease was not ours.
   */
  async markFailed(id: number, error: string, options: MarkFailedOptions): Promise<'new' | 'failed' | null> {
    const owner = options.owner ?? null;
    const rows = await this.prisma.$queryRaw<{ state: 'new' | 'failed' }[]>`
      UPDATE posts SET
        state = CASE WHEN ${options.retry} AND attempts < ${options.maxAttempts} THEN 'new' ELSE 'failed' END::"PostState",
        last_error = ${error}, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
      WHERE id = ${id} AND (${owner}::text IS NULL OR (state IN (${inList(POST_MOVES.failOwned.from)}) AND lease_owner = ${owner}::text))
      RETURNING state::text AS state`;
    return rows[0]?.state ?? null;
  }

  /** The stored post with this remote id, or null. */
  findByRemoteId(booruId: number, remoteId: number): Promise<StoredPost | null> {
    return reads.findByRemoteId(this.prisma, booruId, remoteId);
  }

  /** The newest post whose original has this md5 (the upload page's known post), or null. */
  findByMd5(md5: string): Promise<PostByMd5 | null> {
    return reads.findPostByMd5(this.prisma, md5);
  }

  /** How many posts {@link listExportable} would return in all (a progress bar). */
  countExportable(filter: DatasetPostFilter): Promise<number> {
    return reads.countExportable(this.prisma, filter);
  }

  /** Up to `limit` exportable posts after row id `afterId`, in id order (the training-set export's keyset pages). */
  listExportable(filter: DatasetPostFilter, afterId: number, limit: number): Promise<DatasetPost[]> {
    return reads.listExportable(this.prisma, filter, afterId, limit);
  }

  /**
   * Stores what the booru now says about a post (after an edit was applied). Bumps tagsVersion when the tag set or
   * rating changed. Returns whether it changed and the resulting version; null when the post does not exist.
   */
  async refreshFromBooru(postId: number, post: BooruPost): Promise<{ changed: boolean; tagsVersion: number } | null> {
    return this.prisma.$transaction(async (tx) => {
      // Row lock: a concurrent crawl upsert of the same post must not interleave between the read and the write.
      const current = await tx.$queryRaw<{ tags: string[] | null; rating: string | null; tags_version: number }[]>`
        SELECT tags, rating, tags_version FROM posts WHERE id = ${postId} FOR UPDATE`;
      const row = current[0];
      if (!row) return null;
      const changed = !sameTagSet(row.tags ?? [], post.tags) || row.rating !== post.rating;
      const tagsVersion = row.tags_version + (changed ? 1 : 0);
      await tx.post.update({
        where: { id: postId },
        data: {
          md5: post.md5,
          rating: post.rating,
          tags: normaliseTags(post.tags),
          tagsVersion,
          fileUrl: post.fileUrl,
          previewUrl: post.previewUrl,
          variants: post.variants.map((v) => ({ ...v })),
          width: post.width,
          height: post.height,
          fileExt: post.fileExt,
          fileSize: post.fileSize,
          isDeleted: post.isDeleted,
          isBanned: post.isBanned,
          isPending: post.isPending,
          remoteUpdatedAt: post.updatedAt,
        },
      });
      return { changed, tagsVersion };
    });
  }

  /**
   * Accounts for listed posts whose JSON could not be read (BOORU-API: banned or odd posts of a real site): a post
   * not stored yet is inserted as `skipped` with the reason, so the crawl cursor may pass it; a stored post keeps its
   * data and only gets `last_error`. A later re-scan that can read it refreshes it like any post.
   * @returns How many were newly inserted.
   */
  async recordUnreadable(booruId: number, rows: readonly { remoteId: number; reason: string }[]): Promise<number> {
    if (rows.length === 0) return 0;
    const payload = JSON.stringify(rows.map((r) => ({ remote_id: r.remoteId, reason: `unreadable: ${r.reason}` })));
    const result = await this.prisma.$queryRaw<{ inserted: boolean }[]>`
      INSERT INTO posts AS p (booru_id, remote_id, tags, state, skip_reason, last_error, updated_at)
      SELECT ${booruId}, r.remote_id, '{}', 'skipped'::"PostState", left(r.reason, 500), left(r.reason, 500), now()
      FROM jsonb_to_recordset(${payload}::jsonb) AS r(remote_id int, reason text)
      ON CONFLICT (booru_id, remote_id) DO UPDATE SET last_error = EXCLUDED.last_error, updated_at = now()
      RETURNING (xmax = 0) AS inserted`;
    return result.filter((r) => r.inserted).length;
  }

  /**
   * Stored posts among `remoteIds` with their tags version, for the re-scan to tell which ones a refresh changed.
   */
  async tagsVersions(
    booruId: number,
    remoteIds: readonly number[],
  ): Promise<Map<number, { id: number; tagsVersion: number }>> {
    if (remoteIds.length === 0) return new Map();
    const rows = await this.prisma.post.findMany({
      where: { booruId, remoteId: { in: [...remoteIds] } },
      select: { id: true, remoteId: true, tagsVersion: true },
    });
    return new Map(rows.map((r) => [r.remoteId, { id: r.id, tagsVersion: r.tagsVersion }]));
  }

  /** How many posts of the booru are in each state (every state present, zero when none). */
  async countByState(booruId: number): Promise<Record<PostState, number>> {
    const groups = await this.prisma.post.groupBy({ by: ['state'], where: { booruId }, _count: { _all: true } });
    const counts = Object.fromEntries(POST_STATES.map((s) => [s, 0])) as Record<PostState, number>;
    for (const g of groups) counts[g.state] = g._count._all;
    return counts;
  }

  /** A post with every suggestion, score set, decision and write-back it ever had (the review pages). */
  async findDetail(postId: number): Promise<PostDetail | null> {
    return findPostDetail(this.prisma, postId);
  }
}
