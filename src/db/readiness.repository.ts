/**
 * The facts readiness is judged on (`/readyz`, `booru-tagger status`), read from the database: that it answers, which
 * migrations it has, the workers alive with their model and provider and when the booru last answered them, and when
 * each booru's tag list was last synced. The judgement itself is `src/core/readiness.ts`.
 */
import { DEFAULT_MIGRATIONS_DIR, MIGRATIONS_TABLE, readMigrations } from './migrate.js';
import type { PrismaClient } from './generated/client.js';
import { WORKER_STALE_MS } from './worker.repository.js';

export interface MigrationState {
  /** On disk, not applied: this code needs a `db migrate` (or a start of the service) first. */
  pending: string[];
  /** Applied, not on disk: newer code migrated this database. */
  unknown: string[];
}

export interface LiveWorker {
  id: string;
  provider: string;
  model: string;
  lastSeenAt: Date;
  /** When the booru's API last answered this worker (null: not since it started). */
  booruOkAt: Date | null;
}

export interface TagSyncState {
  booru: string;
  /** When the latest finished tag sync (generation) of this booru finished (null: never). */
  syncedAt: Date | null;
  /** Why that sync failed (diffs wait until one succeeds); null when it succeeded. */
  error: string | null;
}

/** The latest finished tag-sync generation of a booru (a pass still running, or one whose process died, is not counted). */
export const LATEST_FINISHED_SYNC = {
  where: { status: { in: ['ok', 'failed'] }, finishedAt: { not: null } },
  orderBy: [{ finishedAt: 'desc' as const }, { id: 'desc' as const }],
  take: 1,
  select: { finishedAt: true, status: true, error: true },
};

export class ReadinessRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly migrationsDir = DEFAULT_MIGRATIONS_DIR,
  ) {}

  /** Resolves once the database answers a trivial query; rejects on error or after `timeoutMs`. */
  async ping(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.prisma.$queryRawUnsafe('SELECT 1'), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async migrationState(): Promise<MigrationState> {
    // A database never migrated has no migrations table: everything is pending.
    const [exists] = await this.prisma.$queryRawUnsafe<{ present: boolean }[]>(
      `SELECT to_regclass('${MIGRATIONS_TABLE}') IS NOT NULL AS present`,
    );
    const [files, rows] = await Promise.all([
      readMigrations(this.migrationsDir),
      exists?.present
        ? this.prisma.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM ${MIGRATIONS_TABLE}`)
        : Promise.resolve([]),
    ]);
    const applied = new Set(rows.map((r) => r.name));
    const onDisk = new Set(files.map((f) => f.name));
    return {
      pending: files.filter((f) => !applied.has(f.name)).map((f) => f.name),
      unknown: [...applied].filter((name) => !onDisk.has(name)).sort(),
    };
  }

  async liveWorkers(now = new Date()): Promise<LiveWorker[]> {
    return this.prisma.worker.findMany({
      where: { lastSeenAt: { gt: new Date(now.getTime() - WORKER_STALE_MS) } },
      select: { id: true, provider: true, model: true, lastSeenAt: true, booruOkAt: true },
      orderBy: { id: 'asc' },
    });
  }

  /**
   * The last complete tag sync of every booru that has an active model (the ones being tagged): the moment the
   * latest finished tag-sync generation (`tag_syncs`, the record the diff's freshness gate reads too).
   * (The one place that knows where sync completion is recorded.)
   */
  async lastTagSyncs(): Promise<TagSyncState[]> {
    const boorus = await this.prisma.booru.findMany({
      where: { activeModelId: { not: null } },
      select: { name: true, tagSyncs: LATEST_FINISHED_SYNC },
      orderBy: { id: 'asc' },
    });
    return boorus.map((b) => ({
      booru: b.name,
      syncedAt: b.tagSyncs[0]?.finishedAt ?? null,
      error: b.tagSyncs[0]?.status === 'failed' ? (b.tagSyncs[0].error ?? 'failed') : null,
    }));
  }
}
