/**
 * The test run's own PostgreSQL for machines without one (global-setup): started only when nothing answers at the
 * address, used as is when something does, and removed afterwards, folder and all.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { postgresAnswers, startPostgresIfNone } from '../helpers/embedded-postgres.js';
import { ADMIN_URL } from '../helpers/postgres.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('startPostgresIfNone', () => {
  it('should leave a server that answers alone', async () => {
    expect(await startPostgresIfNone(ADMIN_URL, () => {})).toBeNull();
  });

  it('should start a throwaway server where none answers, and remove it on stop', { timeout: 60_000 }, async () => {
    const url = `postgresql://postgres@127.0.0.1:${await freePort()}/postgres`;
    expect(await postgresAnswers(url)).toBe(false);
    const lines: string[] = [];
    const exitListeners = () => process.listenerCount('beforeExit') + process.listenerCount('exit');
    const listenersBefore = exitListeners();
    const sut = await startPostgresIfNone(url, (line) => lines.push(line));
    try {
      expect(sut).not.toBeNull();
      // The package's exit hook would call process.exit(0) and turn a failed test run green: it must be gone.
      expect(exitListeners()).toBe(listenersBefore);
      expect(lines.join('\n')).toMatch(/no server answered at 127\.0\.0\.1:\d+: started a throwaway one/);
      expect(await postgresAnswers(url)).toBe(true);
      expect(await startPostgresIfNone(url, () => {})).toBeNull();
    } finally {
      await sut?.stop();
    }
    expect(await postgresAnswers(url)).toBe(false);
    expect(existsSync(sut!.dataDir)).toBe(false);
  });

  it('should refuse to start one for a server on another machine', async () => {
    await expect(startPostgresIfNone('postgresql://postgres@192.0.2.1:1/postgres', () => {})).rejects.toThrow(
      /loopback/,
    );
  });
});
