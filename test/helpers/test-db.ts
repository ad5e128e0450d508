import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type Database, openDatabase } from '../../src/db/database.js';
import { PrismaClient } from '../../src/db/generated/client.js';
import { databaseUrl, ident, TEMPLATE_DB, withAdminClient } from './postgres.js';

/** A fresh PostgreSQL database cloned from the migrated template. */
export interface TestDatabase {
  name: string;
  url: string;
  prisma: PrismaClient;
  /** Disconnects, then drops the database, or with `keep` leaves it for inspection and logs its name. */
  drop(options?: { keep?: boolean }): Promise<void>;
}

/** A name no other worker or run will pick: pid, time and randomness. */
function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Creates a database from the template (call it in `beforeAll`). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = uniqueName('bt_test');
  await withAdminClient(async (client) => {
    // PostgreSQL refuses to clone a template while another session is connected to it; none should be after
    // global-setup, but retry briefly in case a concurrent CREATE DATABASE holds it.
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(TEMPLATE_DB)}`);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== '55006' || attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
  const url = databaseUrl(name);
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  return {
    name,
    url,
    prisma,
    drop: async (options = {}) => {
      await prisma.$disconnect();
      if (options.keep) {
        console.warn(`[test-db] kept database ${name} of a failed test file: ${url}`);
        return;
      }
      await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`));
    },
  };
}

/** An empty database (no template, no migrations), for migrator tests. */
export async function createEmptyDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = uniqueName('bt_empty');
  await withAdminClient((client) => client.query(`CREATE DATABASE ${ident(name)}`));
  return {
    name,
    url: databaseUrl(name),
    drop: () =>
      withAdminClient(async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
      }),
  };
}

/**
 * Registers `beforeAll`/`afterAll` hooks for a fresh database per file and returns a getter for it. The database
 * is dropped after the file only when every test passed.
 */
export function useTestDatabase(): () => TestDatabase {
  let db: TestDatabase | undefined;
  let failed = false;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      failed = true;
    });
  });
  afterAll(async () => {
    await db?.drop({ keep: failed });
  });
  return () => {
    if (!db) throw new Error('the test database is created in beforeAll: use it inside tests or hooks');
    return db;
  };
}

/** A logger that writes nothing, for code under test. */
export const silentLogger = pino({ level: 'silent' });

/** An embedded PGlite database in a fresh temporary folder (migrated), removed by `drop()`. */
export interface TestPgliteDatabase extends Database {
  dataDir: string;
  drop(): Promise<void>;
}

/** Opens a fresh, migrated embedded database in a temporary folder (≈5 s: PGlite initialises a data directory). */
export async function createTestPgliteDatabase(): Promise<TestPgliteDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'booru-tagger-pglite-'));
  const db = await openDatabase({ dataDir, logger: silentLogger });
  return {
    ...db,
    dataDir,
    drop: async () => {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
