/**
 * The post aggregate's plain reads, which `PostRepository` exposes: a post by remote id; the post whose original has a
 * given md5 (the upload page); and, for the training-set export, crawled posts with their current tags in id order
 * (keyset pages, so a 10-million-post export never holds more than a page). Read-only.
 */
import type { Rating } from '../core/types.js';
import { Prisma, type PrismaClient } from './generated/client.js';
import type { StoredPost } from './post.types.js';

/** Which posts an export takes. Dates compare with the booru's last update of the post, else our first crawl. */
export interface DatasetPostFilter {
  booruId: number;
  /** Only these ratings (all when absent or empty). */
  ratings?: readonly Rating[];
  since?: Date;
  until?: Date;
}

export interface DatasetPost {
  /** Our row id (the keyset cursor). */
  id: number;
  /** The booru's post id: the dataset's `id`. */
  remoteId: number;
  md5: string;
  fileExt: string;
  /** The original file (its bytes hash to md5); null when the booru hid it. */
  fileUrl: string | null;
  rating: Rating | null;
  tags: string[];
}

export interface PostByMd5 {
  id: number;
  booruId: number;
  remoteId: number;
  booruName: string;
  rating: string | null;
  tags: string[];
}

/** How many posts {@link listExportable} would return in all (for a progress bar). */
export async function countExportable(prisma: PrismaClient, filter: DatasetPostFilter): Promise<number> {
  const [row] = await prisma.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM posts WHERE ${exportableWhere(filter, 0)}`;
  return row?.n ?? 0;
}

/** Up to `limit` exportable posts after row id `afterId`: visible, not deleted or banned, with md5 and extension. */
export async function listExportable(
  prisma: PrismaClient,
  filter: DatasetPostFilter,
  afterId: number,
  limit: number,
): Promise<DatasetPost[]> {
  const rows = await prisma.$queryRaw<
    {
      id: number;
      remote_id: number;
      md5: string;
      file_ext: string;
      file_url: string | null;
      rating: string | null;
      tags: string[];
    }[]
  >`
    SELECT id, remote_id, lower(md5) AS md5, lower(file_ext) AS file_ext, file_url, rating, tags
    FROM posts
    WHERE ${exportableWhere(filter, afterId)}
    ORDER BY id
    LIMIT ${limit}`;
  return rows.map((r) => ({
    id: r.id,
    remoteId: r.remote_id,
    md5: r.md5,
    fileExt: r.file_ext,
    fileUrl: r.file_url,
    rating: (r.rating as Rating | null) ?? null,
    tags: r.tags,
  }));
}

/** Visible, not deleted or banned, with a well-formed md5 and extension (both become file names), after `afterId`. */
function exportableWhere(filter: DatasetPostFilter, afterId: number): Prisma.Sql {
  const ratings = filter.ratings?.length
    ? Prisma.sql`AND rating IN (${Prisma.join([...filter.ratings])})`
    : Prisma.empty;
  const since = filter.since
    ? Prisma.sql`AND COALESCE(remote_updated_at, created_at) >= ${filter.since}`
    : Prisma.empty;
  const until = filter.until ? Prisma.sql`AND COALESCE(remote_updated_at, created_at) < ${filter.until}` : Prisma.empty;
  return Prisma.sql`booru_id = ${filter.booruId} AND id > ${afterId}
      AND md5 ~* '^[0-9a-f]{32}$' AND file_ext ~* '^[0-9a-z]{1,8}$'
      AND NOT is_deleted AND NOT is_banned
      ${ratings} ${since} ${until}`;
}

/** A post whose original has this md5 (the newest row when several boorus hold it), or null. */
export async function findPostByMd5(prisma: PrismaClient, md5: string): Promise<PostByMd5 | null> {
  const row = await prisma.post.findFirst({
    // Boorus write md5 in lowercase hex; both cases are matched exactly so the posts_md5 index serves the lookup.
    where: { md5: { in: [md5.toLowerCase(), md5.toUpperCase()] } },
    orderBy: { id: 'desc' },
    select: { id: true, booruId: true, remoteId: true, rating: true, tags: true, booru: { select: { name: true } } },
  });
  return row
    ? {
        id: row.id,
        booruId: row.booruId,
        remoteId: row.remoteId,
        booruName: row.booru.name,
        rating: row.rating,
        tags: row.tags,
      }
    : null;
}

/** The stored post with this remote id, or null. */
export async function findByRemoteId(
  prisma: PrismaClient,
  booruId: number,
  remoteId: number,
): Promise<StoredPost | null> {
  const row = await prisma.post.findUnique({ where: { booruId_remoteId: { booruId, remoteId } } });
  if (!row) return null;
  return {
    id: row.id,
    booruId: row.booruId,
    remoteId: row.remoteId,
    md5: row.md5,
    rating: row.rating as Rating | null,
    tags: row.tags,
    tagsVersion: row.tagsVersion,
    mediaUrl: row.mediaUrl,
    state: row.state,
    attempts: row.attempts,
    lastError: row.lastError,
    skipReason: row.skipReason,
    leaseOwner: row.leaseOwner,
    leaseExpiresAt: row.leaseExpiresAt,
    isDeleted: row.isDeleted,
    isBanned: row.isBanned,
    isPending: row.isPending,
  };
}
