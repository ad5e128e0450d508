import { mkdir } from 'node:fs/promises';
import { PrismaPg } from '@prisma/adapter-pg';
import type { Logger } from '../shared/logger.js';
import { AppError, coerceError } from '../shared/errors.js';
import { PrismaClient } from './generated/client.js';
import { migrate } from './migrate.js';

type DatabaseKind = 'postgres' | 'pglite';

export interface OpenDatabaseOptions {
  /** PostgreSQL connection URL; absent ⇒ the embedded PGlite database in `dataDir`. */
  url?: string | undefined;
  /** Folder of the embedded database (created if missing). Ignored when `url` is set. */
  dataDir: string;
  logger: Logger;
  /** Apply pending migrations before returning. (Default: true.) */
  migrate?: boolean;
  /** Override the migrations folder (tests). (Default: the package's `prisma/migrations`.) */
  migrationsDir?: string;
}

export interface Database {
  prisma: PrismaClient;
  kind: DatabaseKind;
  /** Migrations applied while opening (empty when up to date or when `migrate: false`). */
  migrations: string[];
  /** Disconnects (and closes the embedded database). Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Opens the service's database: PostgreSQL through `@prisma/adapter-pg` when a URL is given, else the embedded
 * PGlite database in `dataDir`. Pending migrations are applied first unless `migrate: false`.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const logger = options.logger.child({ component: 'db' });
  const shouldMigrate = options.migrate ?? true;
  const migrateOptions = { logger, ...(options.migrationsDir ? { migrationsDir: options.migrationsDir } : {}) };

  if (options.url) {
    const migrations = shouldMigrate ? await migrate({ url: options.url }, migrateOptions) : [];
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: options.url }) });
    try {
      await prisma.$queryRawUnsafe('SELECT 1');
    } catch (error) {
      await prisma.$disconnect().catch(() => undefined);
      throw new AppError('DB_UNAVAILABLE', `cannot connect to PostgreSQL: ${coerceError(error).message}`, {
        retryable: true,
        cause: error,
      });
    }
    logger.info({ kind: 'postgres', migrations }, 'database open');
    return { prisma, kind: 'postgres', migrations, close: () => prisma.$disconnect() };
  }

  await mkdir(options.dataDir, { recursive: true });
  const started = Date.now();
  // Loaded only here: PGlite's WebAssembly module is the costliest import of a start-up against PostgreSQL.
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('pglite-prisma-adapter'),
  ]);
  const pglite = await PGlite.create(options.dataDir);
  try {
    const migrations = shouldMigrate ? await migrate({ pglite }, migrateOptions) : [];
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
    logger.info(
      { kind: 'pglite', dataDir: options.dataDir, migrations, ms: Date.now() - started },
      'embedded database open',
    );
    return {
      prisma,
      kind: 'pglite',
      migrations,
      close: async () => {
        await prisma.$disconnect();
        if (!pglite.closed) await pglite.close();
      },
    };
  } catch (error) {
    await pglite.close().catch(() => undefined);
    throw error;
  }
}
