// Creates the migrated template database every database test file clones (see test-db.ts). Runs once per
// `vitest run`, before any worker starts. On a machine where no PostgreSQL answers at the test address, it first starts
// a throwaway server (embedded-postgres.ts) and returns its teardown, which vitest runs after the last file.
import { migrate } from '../../src/db/migrate.js';
import { startPostgresIfNone } from './embedded-postgres.js';
import { ADMIN_URL, databaseUrl, ident, TEMPLATE_DB, withAdminClient } from './postgres.js';

export default async function setup(): Promise<() => Promise<void>> {
  const throwaway = await startPostgresIfNone(ADMIN_URL, (line) => console.info(line));
  try {
    await createTemplate();
  } catch (error) {
    await throwaway?.stop();
    throw error;
  }
  return async () => {
    await throwaway?.stop();
  };
}

async function createTemplate(): Promise<void> {
  const started = Date.now();
  await withAdminClient(async (client) => {
    // FORCE ends connections a crashed earlier run may have left open on the old template.
    await client.query(`DROP DATABASE IF EXISTS ${ident(TEMPLATE_DB)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${ident(TEMPLATE_DB)}`);
  });
  const applied = await migrate({ url: databaseUrl(TEMPLATE_DB) });
  console.info(
    `[global-setup] template ${TEMPLATE_DB} on ${new URL(ADMIN_URL).host}: ${applied.length} migration(s), ` +
      `${Date.now() - started} ms`,
  );
}
