import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MIGRATIONS_DIR, MIGRATIONS_TABLE, migrate, readMigrations } from '../../src/db/migrate.js';
import { AppError } from '../../src/shared/errors.js';
import { createEmptyDatabase } from '../helpers/test-db.js';

type EmptyDatabase = Awaited<ReturnType<typeof createEmptyDatabase>>;

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('migrate', () => {
  const sut = migrate;
  let db: EmptyDatabase;
  let migrationsDir: string;
  let shippedNames: string[];

  beforeAll(async () => {
    shippedNames = (await readMigrations(DEFAULT_MIGRATIONS_DIR)).map((m) => m.name);
  });

  beforeEach(async () => {
    db = await createEmptyDatabase();
    // A private copy of the shipped migrations that tests may extend or tamper with.
    migrationsDir = await mkdtemp(join(tmpdir(), 'booru-tagger-migrations-'));
    await cp(DEFAULT_MIGRATIONS_DIR, migrationsDir, { recursive: true });
  });

  afterEach(async () => {
    await db.drop();
    await rm(migrationsDir, { recursive: true, force: true });
  });

  async function addMigration(name: string, sql: string): Promise<void> {
    await mkdir(join(migrationsDir, name));
    await writeFile(join(migrationsDir, name, 'migration.sql'), sql);
  }

  describe('on an empty database', () => {
    it('should apply every shipped migration in name order and record each with its checksum', async () => {
      const applied = await sut({ url: db.url });

      expect(applied).toEqual(shippedNames);
      expect(applied.length).toBeGreaterThan(0);
      const rows = await query<{ name: string; checksum: string }>(
        db.url,
        `SELECT name, checksum FROM ${MIGRATIONS_TABLE} ORDER BY name`,
      );
      expect(rows.map((r) => r.name)).toEqual(shippedNames);
      expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
      const tables = await query<{ t: string | null }>(db.url, `SELECT to_regclass('public.posts')::text AS t`);
      expect(tables[0]?.t).toBe('posts');
    });
  });

  describe('when run again', () => {
    it('should apply nothing and change nothing', async () => {
      await sut({ url: db.url }, { migrationsDir });

      const second = await sut({ url: db.url }, { migrationsDir });

      expect(second).toEqual([]);
      const rows = await query<{ n: string }>(db.url, `SELECT count(*)::text AS n FROM ${MIGRATIONS_TABLE}`);
      expect(Number(rows[0]?.n)).toBe(shippedNames.length);
    });

    it('should apply only a migration added since, after the applied ones', async () => {
      await sut({ url: db.url }, { migrationsDir });
      await addMigration('29990101000000_extra', 'CREATE TABLE extra_thing (id int PRIMARY KEY);');

      const applied = await sut({ url: db.url }, { migrationsDir });

      expect(applied).toEqual(['29990101000000_extra']);
      const tables = await query<{ t: string | null }>(db.url, `SELECT to_regclass('public.extra_thing')::text AS t`);
      expect(tables[0]?.t).toBe('extra_thing');
    });
  });

  describe('when an applied migration was edited', () => {
    it('should fail with DB_MIGRATION_FAILED naming the migration', async () => {
      await sut({ url: db.url }, { migrationsDir });
      const first = shippedNames[0]!;
      const file = join(migrationsDir, first, 'migration.sql');
      await writeFile(file, `${await readFile(file, 'utf8')}\n-- edited after release\n`);

      const error = await sut({ url: db.url }, { migrationsDir }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('DB_MIGRATION_FAILED');
      expect((error as AppError).message).toContain(first);
      expect((error as AppError).message).toContain('changed after it was applied');
    });

    it('should not count a change of line endings as an edit', async () => {
      await sut({ url: db.url }, { migrationsDir });
      const file = join(migrationsDir, shippedNames[0]!, 'migration.sql');
      await writeFile(file, (await readFile(file, 'utf8')).replace(/\n/g, '\r\n'));

      await expect(sut({ url: db.url }, { migrationsDir })).resolves.toEqual([]);
    });
  });

  describe('when a migration fails', () => {
    it('should roll it back, leave it unrecorded, and keep the earlier ones', async () => {
      await addMigration('29990101000000_broken', 'CREATE TABLE half_done (id int);\nSELECT no_such_function();');

      const error = await sut({ url: db.url }, { migrationsDir }).catch((e: unknown) => e);

      expect((error as AppError).code).toBe('DB_MIGRATION_FAILED');
      expect((error as AppError).message).toContain('29990101000000_broken');
      const names = await query<{ name: string }>(db.url, `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY name`);
      expect(names.map((r) => r.name)).toEqual(shippedNames);
      const tables = await query<{ t: string | null }>(db.url, `SELECT to_regclass('public.half_done')::text AS t`);
      expect(tables[0]?.t).toBeNull();
    });
  });

  describe('when several processes migrate at once', () => {
    it('should apply each migration exactly once without errors', async () => {
      // A slow extra migration widens the window in which the others must wait on the advisory lock.
      await addMigration('29990101000000_slow', 'SELECT pg_sleep(0.3); CREATE TABLE slow_thing (id int);');

      const results = await Promise.all(Array.from({ length: 5 }, () => sut({ url: db.url }, { migrationsDir })));

      const all = results.flat();
      expect(all.sort()).toEqual([...shippedNames, '29990101000000_slow'].sort());
      expect(results.filter((r) => r.length > 0)).toHaveLength(1);
    });
  });

  describe('when PostgreSQL is unreachable', () => {
    it('should fail with DB_UNAVAILABLE', async () => {
      const error = await sut({ url: 'postgresql://postgres@127.0.0.1:1/nowhere' }).catch((e: unknown) => e);

      expect((error as AppError).code).toBe('DB_UNAVAILABLE');
    });
  });
});
