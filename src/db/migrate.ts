import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Logger } from '../shared/logger.js';
import { AppError, coerceError } from '../shared/errors.js';

/** The package's own migrations: `prisma/migrations` two levels above this file (src/db → package root). */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));

/** The table where applied migrations are recorded (kept apart from Prisma's `_prisma_migrations`). */
export const MIGRATIONS_TABLE = 'booru_tagger_migrations';

/** Arbitrary fixed key of the session-level advisory lock that serialises migrators on one PostgreSQL database. */
const MIGRATION_LOCK_KEY = 7_204_118_339;

/** Where to migrate: a PostgreSQL URL, an open PGlite database, or a PGlite data directory. */
export type MigrationTarget = { url: string } | { pglite: PGlite } | { dataDir: string };

export interface MigrateOptions {
  /** Folder holding `<name>/migration.sql`. (Default: the package's `prisma/migrations`.) */
  migrationsDir?: string;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

/** One migration found on disk. */
export interface MigrationFile {
  name: string;
  sql: string;
  /** sha256 of the SQL with line endings normalised to `\n`, so a checkout with CRLF does not count as a change. */
  checksum: string;
}

/** The minimum a migrator needs from a connection; implemented for `pg` and PGlite below. */
interface MigrationSession {
  exec(sql: string): Promise<void>;
  query<T>(sql: string, params: unknown[]): Promise<T[]>;
  /** Runs `fn` in one transaction, rolled back if it throws. */
  transaction(fn: (tx: Omit<MigrationSession, 'transaction'>) => Promise<void>): Promise<void>;
}

/**
 * Applies every migration under `prisma/migrations` that this database has not seen yet, in name order, each in its
 * own transaction, and records it in {@link MIGRATIONS_TABLE}. Safe to run from several processes at once on
 * PostgreSQL (an advisory lock serialises them). Throws `DB_MIGRATION_FAILED` when a migration fails or an applied
 * migration's file has changed since.
 *
 * @returns the names of the migrations applied by this call (empty when the database was up to date).
 */
export async function migrate(target: MigrationTarget, options: MigrateOptions = {}): Promise<string[]> {
  const files = await readMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  if ('url' in target) return migratePostgres(target.url, files, options);
  if ('pglite' in target) return applyPending(pgliteSession(target.pglite), files, options);
  await mkdir(target.dataDir, { recursive: true });
  // Loaded on use only: PGlite's module is costly to import for a process that talks to PostgreSQL.
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(target.dataDir);
  try {
    return await applyPending(pgliteSession(db), files, options);
  } finally {
    await db.close();
  }
}

/** Reads `<dir>/<name>/migration.sql` for every sub-folder, sorted by name. */
export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new AppError('DB_MIGRATION_FAILED', `cannot read the migrations folder ${dir}`, { cause: error });
  }
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const files: MigrationFile[] = [];
  for (const name of names) {
    const sql = await readFile(`${dir}/${name}/migration.sql`, 'utf8').catch(() => null);
    if (sql === null) continue;
    files.push({ name, sql, checksum: checksumOf(sql) });
  }
  return files;
}

function checksumOf(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

async function migratePostgres(url: string, files: MigrationFile[], options: MigrateOptions): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw new AppError('DB_UNAVAILABLE', `cannot connect to PostgreSQL to migrate: ${coerceError(error).message}`, {
      retryable: true,
      cause: error,
    });
  }
  try {
    // Session-level lock on this one connection: a second process waits here until the first has finished, then
    // finds everything applied. It also covers the CREATE TABLE IF NOT EXISTS below, which is not race-safe alone.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await applyPending(pgSession(client), files, options);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function applyPending(
  session: MigrationSession,
  files: MigrationFile[],
  options: MigrateOptions,
): Promise<string[]> {
  await session.exec(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
       name TEXT PRIMARY KEY,
       checksum TEXT NOT NULL,
       applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
     )`,
  );
  const rows = await session.query<{ name: string; checksum: string }>(
    `SELECT name, checksum FROM ${MIGRATIONS_TABLE}`,
    [],
  );
  const applied = new Map(rows.map((r) => [r.name, r.checksum]));

  for (const file of files) {
    const recorded = applied.get(file.name);
    if (recorded !== undefined && recorded !== file.checksum) {
      throw new AppError(
        'DB_MIGRATION_FAILED',
        `migration ${file.name} was changed after it was applied (checksum ${recorded.slice(0, 12)}… in the database, ` +
          `${file.checksum.slice(0, 12)}… on disk); restore the file and add a new migration instead`,
        { details: { migration: file.name } },
      );
    }
  }
  const known = new Set(files.map((f) => f.name));
  const unknown = [...applied.keys()].filter((name) => !known.has(name));
  if (unknown.length > 0) {
    options.logger?.warn({ migrations: unknown }, 'database has migrations this version does not know (newer code?)');
  }

  const done: string[] = [];
  for (const file of files.filter((f) => !applied.has(f.name))) {
    try {
      await session.transaction(async (tx) => {
        await tx.exec(file.sql);
        await tx.query(`INSERT INTO ${MIGRATIONS_TABLE} (name, checksum) VALUES ($1, $2)`, [file.name, file.checksum]);
      });
    } catch (error) {
      throw new AppError('DB_MIGRATION_FAILED', `migration ${file.name} failed: ${coerceError(error).message}`, {
        cause: error,
        details: { migration: file.name, applied: done },
      });
    }
    options.logger?.info({ migration: file.name }, 'migration applied');
    done.push(file.name);
  }
  return done;
}

function pgSession(client: pg.Client): MigrationSession {
  const base = {
    exec: async (sql: string) => {
      await client.query(sql);
    },
    query: async <T>(sql: string, params: unknown[]) => (await client.query(sql, params)).rows as T[],
  };
  return {
    ...base,
    transaction: async (fn) => {
      await client.query('BEGIN');
      try {
        await fn(base);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    },
  };
}

function pgliteSession(db: PGlite): MigrationSession {
  // One connection per PGlite instance and one process per data directory: no lock is needed.
  return {
    exec: async (sql) => {
      await db.exec(sql);
    },
    query: async <T>(sql: string, params: unknown[]) => (await db.query<T>(sql, params)).rows,
    transaction: async (fn) => {
      await db.transaction(async (tx) => {
        await fn({
          exec: async (sql) => {
            await tx.exec(sql);
          },
          query: async <T>(sql: string, params: unknown[]) => (await tx.query<T>(sql, params)).rows,
        });
      });
    },
  };
}
