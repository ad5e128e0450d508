/**
 * The booru's tag metadata as the diff needs it: active aliases, deprecated tags, categories and active
 * implications. Filled by tag sync (a later stage); empty tables simply mean "nothing known yet".
 */
import type { BooruTagFacts } from '../core/tag-vocabulary.js';
import type { TagSyncRecord } from '../core/vocabulary-freshness.js';
import type { PrismaClient } from './generated/client.js';

export interface TagFactsSnapshot {
  facts: BooruTagFacts;
  implications: [string, string][];
}

export class TagRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Loads everything the diff needs for one booru. Categories are null when no tag list was synced. */
  async loadFacts(booruId: number): Promise<TagFactsSnapshot> {
    const [tags, aliases, implications] = await Promise.all([
      this.prisma.tag.findMany({ where: { booruId }, select: { name: true, category: true, isDeprecated: true } }),
      this.prisma.tagAlias.findMany({
        where: { booruId, status: 'active' },
        select: { antecedent: true, consequent: true },
      }),
      this.prisma.tagImplication.findMany({
        where: { booruId, status: 'active' },
        select: { antecedent: true, consequent: true },
      }),
    ]);
    return {
      facts: {
        aliases: new Map(aliases.map((a) => [a.antecedent, a.consequent])),
        deprecated: new Set(tags.filter((t) => t.isDeprecated).map((t) => t.name)),
        categories: tags.length === 0 ? null : new Map(tags.map((t) => [t.name, t.category])),
      },
      implications: implications.map((i) => [i.antecedent, i.consequent]),
    };
  }

  /**
   * Upserts tags (name, category, post count, deprecation) in one statement per chunk of 5 000 rows (a full Danbooru
   * sync is about a million tags: one round trip per row would take hours). Rows that did not change are not written.
   * @returns How many rows were inserted or changed.
   */
  async upsertTags(
    booruId: number,
    tags: readonly {
      name: string;
      category: number;
      postCount: number;
      isDeprecated: boolean;
      remoteUpdatedAt?: Date | null;
    }[],
  ): Promise<number> {
    let written = 0;
    // The last occurrence of a name wins: ON CONFLICT cannot touch one row twice in a statement.
    const unique = [...new Map(tags.map((t) => [t.name, t])).values()];
    for (let i = 0; i < unique.length; i += CHUNK) {
      const payload = JSON.stringify(
        unique.slice(i, i + CHUNK).map((t) => ({
          name: t.name,
          category: t.category,
          post_count: t.postCount,
          is_deprecated: t.isDeprecated,
          remote_updated_at: t.remoteUpdatedAt?.toISOString() ?? null,
        })),
      );
      written += await this.prisma.$executeRaw`
        INSERT INTO tags AS t (booru_id, name, category, post_count, is_deprecated, remote_updated_at, updated_at)
        SELECT ${booruId}, r.name, r.category, r.post_count, r.is_deprecated, r.remote_updated_at, now()
        FROM jsonb_to_recordset(${payload}::jsonb)
          AS r(name text, category int, post_count int, is_deprecated boolean, remote_updated_at timestamptz)
        ON CONFLICT (booru_id, name) DO UPDATE SET
          category = EXCLUDED.category, post_count = EXCLUDED.post_count, is_deprecated = EXCLUDED.is_deprecated,
          remote_updated_at = coalesce(EXCLUDED.remote_updated_at, t.remote_updated_at), updated_at = now()
        WHERE (t.category, t.post_count, t.is_deprecated) IS DISTINCT FROM
              (EXCLUDED.category, EXCLUDED.post_count, EXCLUDED.is_deprecated)`;
    }
    return written;
  }

  /**
   * Records aliases or implications with their status (only active ones are applied), batched like
   * {@link upsertTags}. A relation the booru retired or deleted keeps its row with the new status.
   * @returns How many rows were inserted or changed.
   */
  async upsertRelations(
    booruId: number,
    kind: 'alias' | 'implication',
    rows: readonly { antecedent: string; consequent: string; status: string }[],
  ): Promise<number> {
    let written = 0;
    const unique = [...new Map(rows.map((r) => [`${r.antecedent}\u0000${r.consequent}`, r])).values()];
    for (let i = 0; i < unique.length; i += CHUNK) {
      const payload = JSON.stringify(unique.slice(i, i + CHUNK));
      written +=
        kind === 'alias'
          ? await this.prisma.$executeRaw`
              INSERT INTO tag_aliases AS a (booru_id, antecedent, consequent, status, updated_at)
              SELECT ${booruId}, r.antecedent, r.consequent, r.status, now()
              FROM jsonb_to_recordset(${payload}::jsonb) AS r(antecedent text, consequent text, status text)
              ON CONFLICT (booru_id, antecedent, consequent) DO UPDATE SET status = EXCLUDED.status, updated_at = now()
              WHERE a.status IS DISTINCT FROM EXCLUDED.status`
          : await this.prisma.$executeRaw`
              INSERT INTO tag_implications AS a (booru_id, antecedent, consequent, status, updated_at)
              SELECT ${booruId}, r.antecedent, r.consequent, r.status, now()
              FROM jsonb_to_recordset(${payload}::jsonb) AS r(antecedent text, consequent text, status text)
              ON CONFLICT (booru_id, antecedent, consequent) DO UPDATE SET status = EXCLUDED.status, updated_at = now()
              WHERE a.status IS DISTINCT FROM EXCLUDED.status`;
    }
    return written;
  }

  /**
   * After a complete full pass: active relations the booru no longer lists (Moebooru deletes rows outright, where
   * Danbooru keeps them with a status) are marked `deleted`, so they stop being applied.
   * @returns How many rows were retired.
   */
  async retireUnlisted(
    booruId: number,
    kind: 'alias' | 'implication',
    listed: readonly { antecedent: string; consequent: string }[],
  ): Promise<number> {
    const payload = JSON.stringify(listed.map((r) => ({ antecedent: r.antecedent, consequent: r.consequent })));
    return kind === 'alias'
      ? this.prisma.$executeRaw`
          UPDATE tag_aliases a SET status = 'deleted', updated_at = now()
          WHERE a.booru_id = ${booruId} AND a.status = 'active' AND NOT EXISTS (
            SELECT 1 FROM jsonb_to_recordset(${payload}::jsonb) AS r(antecedent text, consequent text)
            WHERE r.antecedent = a.antecedent AND r.consequent = a.consequent)`
      : this.prisma.$executeRaw`
          UPDATE tag_implications a SET status = 'deleted', updated_at = now()
          WHERE a.booru_id = ${booruId} AND a.status = 'active' AND NOT EXISTS (
            SELECT 1 FROM jsonb_to_recordset(${payload}::jsonb) AS r(antecedent text, consequent text)
            WHERE r.antecedent = a.antecedent AND r.consequent = a.consequent)`;
  }

  /** Opens a tag-sync pass (a vocabulary generation); {@link finishSync} closes it. */
  async startSync(booruId: number, at: Date): Promise<number> {
    const row = await this.prisma.tagSync.create({ data: { booruId, startedAt: at }, select: { id: true } });
    return row.id;
  }

  async finishSync(id: number, at: Date, error: string | null): Promise<void> {
    await this.prisma.tagSync.update({
      where: { id },
      data: { finishedAt: at, status: error === null ? 'ok' : 'failed', error },
    });
  }

  /** The latest finished sync of a booru (a pass still running, or one whose process died, is not counted). */
  async latestSync(booruId: number): Promise<TagSyncRecord | null> {
    const row = await this.prisma.tagSync.findFirst({
      where: { booruId, status: { in: ['ok', 'failed'] }, finishedAt: { not: null } },
      orderBy: [{ finishedAt: 'desc' }, { id: 'desc' }],
    });
    if (!row?.finishedAt) return null;
    return {
      id: row.id,
      status: row.status === 'ok' ? 'ok' : 'failed',
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
      error: row.error,
    };
  }

  /** Category of each named tag the booru's tag sync knows (names it does not know are absent). */
  async categoriesOf(booruId: number, names: readonly string[]): Promise<Map<string, number>> {
    if (names.length === 0) return new Map();
    const rows = await this.prisma.tag.findMany({
      where: { booruId, name: { in: [...new Set(names)] } },
      select: { name: true, category: true },
    });
    return new Map(rows.map((r) => [r.name, r.category]));
  }

  /** How many tags, active aliases and active implications are stored for a booru. */
  async counts(booruId: number): Promise<{ tags: number; aliases: number; implications: number }> {
    const [tags, aliases, implications] = await Promise.all([
      this.prisma.tag.count({ where: { booruId } }),
      this.prisma.tagAlias.count({ where: { booruId, status: 'active' } }),
      this.prisma.tagImplication.count({ where: { booruId, status: 'active' } }),
    ]);
    return { tags, aliases, implications };
  }
}

/** Rows per upsert statement. */
const CHUNK = 5_000;
