import pg from 'pg';

/** The PostgreSQL server the database tests use; any database on it serves as the admin connection. */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Migrated once per test run by global-setup; every test file clones it. */
/**
 * The migrated template every test database is cloned from. `BT_TEST_TEMPLATE` gives concurrent `vitest run`s
 * on one server (several checkouts, several developers) their own template, so one run's global-setup cannot
 * drop the template another run is cloning.
 */
export const TEMPLATE_DB = process.env.BT_TEST_TEMPLATE ?? 'booru_tagger_test_template';

/** The URL of database `name` on the test server. */
export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs `fn` with a connection to the admin database, closed afterwards. */
export async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `PostgreSQL is unreachable at ${redact(ADMIN_URL)} (${reason}). The database tests need a running server: ` +
        'start it (e.g. `service postgresql start`) or point TEST_DATABASE_URL at one.',
      { cause: error },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Quotes an identifier for SQL. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
