/**
 * Reads for the training-set export and the upload page: crawled posts with their current tags in id order (keyset
 * pages, so a 10-million-post export never holds more than a page), tag categories, approved suggestions, and the
 * post whose original file has a given md5. Read-only: nothing here writes.
 */
import type { Rating } from '../core/types.js';
import { Prisma, type PrismaClient } from './generated/client.js';

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

/** An approved, not yet applied change of one post's tags or rating. */
export interface ApprovedChange {
  postId: number;
  tag: string;
  action: 'add' | 'remove' | 'rating';
}

export interface PostByMd5 {
  id: number;
  booruId: number;
  remoteId: number;
  booruName: string;
  rating: string | null;
  tags: string[];
}

export class DatasetRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** How many posts {@link listPosts} would return in all (for a progress bar). */
  async countPosts(filter: DatasetPostFilter): Promise<number> {
    const [row] = await this.prisma.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM posts WHERE ${this.where(filter, 0)}`;
    return row?.n ?? 0;
  }

  /** Up to `limit` exportable posts after row id `afterId`: visible, not deleted or banned, with md5 and extension. */
  async listPosts(filter: DatasetPostFilter, afterId: number, limit: number): Promise<DatasetPost[]> {
    const rows = await this.prisma.$queryRaw<
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
      WHERE ${this.where(filter, afterId)}
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
  private where(filter: DatasetPostFilter, afterId: number): Prisma.Sql {
    const ratings = filter.ratings?.length
      ? Prisma.sql`AND rating IN (${Prisma.join([...filter.ratings])})`
      : Prisma.empty;
    const since = filter.since
      ? Prisma.sql`AND COALESCE(remote_updated_at, created_at) >= ${filter.since}`
      : Prisma.empty;
    const until = filter.until
      ? Prisma.sql`AND COALESCE(remote_updated_at, created_at) < ${filter.until}`
      : Prisma.empty;
    return Prisma.sql`booru_id = ${filter.booruId} AND id > ${afterId}
        AND md5 ~* '^[0-9a-f]{32}$' AND file_ext ~* '^[0-9a-z]{1,8}$'
        AND NOT is_deleted AND NOT is_banned
        ${ratings} ${since} ${until}`;
  }

  /** Category of each named tag the booru's tag sync knows (names it does not know are absent). */
  async tagCategories(booruId: number, names: readonly string[]): Promise<Map<string, number>> {
    if (names.length === 0) return new Map();
    const rows = await this.prisma.tag.findMany({
      where: { booruId, name: { in: [...new Set(names)] } },
      select: { name: true, category: true },
    });
    return new Map(rows.map((r) => [r.name, r.category]));
  }

  /** Approved suggestions of these posts that are not applied yet, oldest decision first. */
  async approvedChanges(postIds: readonly number[]): Promise<ApprovedChange[]> {
    if (postIds.length === 0) return [];
    return this.prisma.suggestion.findMany({
      where: { postId: { in: [...postIds] }, status: 'approved' },
      select: { postId: true, tag: true, action: true },
      orderBy: [{ decidedAt: 'asc' }, { id: 'asc' }],
    });
  }

  /** A post whose original has this md5 (the newest row when several boorus hold it), or null. */
  async findPostByMd5(md5: string): Promise<PostByMd5 | null> {
    const row = await this.prisma.post.findFirst({
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
}
