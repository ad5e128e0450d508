/**
 * Liveness, readiness and the metrics listener of a real `serve` process (issue 18). A private PostgreSQL cluster
 * (never the shared server) is stopped under it: `/readyz` answers 503 naming the database, `status` exits 1 saying
 * the same, `/healthz` still answers; once the server is back, both recover without a restart of the service.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadinessReport } from '../../src/core/readiness.js';
import { migrate } from '../../src/db/migrate.js';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { exitOf, spawnCli, waitFor } from '../helpers/cli-process.js';
import { makeSolidPng } from '../helpers/images.js';
import {
  createPrivatePostgres,
  type PrivatePostgres,
  privatePostgresUnavailable,
} from '../helpers/private-postgres.js';
import { parseExposition } from '../helpers/prometheus-text.js';

const run = promisify(execFile);
const TOKEN = 'readiness-metrics-token-42';

const unavailable = privatePostgresUnavailable();
if (unavailable) console.warn(`[readiness] skipped: ${unavailable}`);

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

describe.skipIf(unavailable !== null)('readiness of a running service', () => {
  let server: PrivatePostgres | undefined;
  let started: StartedFakeDanbooru | undefined;
  const children: ReturnType<typeof spawnCli>[] = [];

  beforeAll(async () => {
    server = await createPrivatePostgres();
    await server.start();
  }, 60_000);

  afterAll(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await started?.close();
    await server?.destroy();
  });

  it('should fail /readyz and `status` while the database is down, and recover after', {
    timeout: 120_000,
  }, async () => {
    const admin = new pg.Client({ connectionString: server!.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE bt');
    await admin.end();
    const url = server!.url('bt');
    await migrate({ url });

    const booru = new FakeDanbooruServer();
    const png = await makeSolidPng(64, 64, [230, 20, 20]);
    for (let id = 1; id <= 4; id++) {
      booru.addPostWithMedia({ id, tag_string: '1girl solo', rating: 's', md5: `m${id}` }, [
        { type: 'original', ext: 'png', width: 64, height: 64, bytes: png },
      ]);
    }
    booru.addTags([{ name: 'red_theme' }]);
    started = await booru.start();
    const [port, metricsPort] = [await freePort(), await freePort()];
    const env = {
      PATH: process.env['PATH'],
      DATABASE_URL: url,
      BOORU_URL: started.url,
      DEVICE: 'cpu',
      TAGGER_LOG_LEVEL: 'warn',
      TAGGER_POLL_MS: '100',
      TAGGER_READY_TIMEOUT_MS: '1500',
      PORT: String(port),
      TAGGER_METRICS_PORT: String(metricsPort),
      TAGGER_METRICS_TOKEN: TOKEN,
    };
    const status = async (): Promise<{ code: number; report: ReadinessReport; stderr: string }> => {
      try {
        const { stdout, stderr } = await run(process.execPath, ['bin/booru-tagger.js', 'status', '--json'], {
          env,
          timeout: 30_000,
        });
        return { code: 0, report: JSON.parse(stdout).readiness, stderr };
      } catch (thrown) {
        const error = thrown as { code: number; stdout: string; stderr: string };
        return { code: error.code, report: JSON.parse(error.stdout).readiness, stderr: error.stderr };
      }
    };
    const get = (path: string, headers: Record<string, string> = {}, onPort = port) =>
      fetch(`http://127.0.0.1:${onPort}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
    const readyz = async () => {
      const response = await get('/readyz');
      return { code: response.status, report: (await response.json()) as ReadinessReport };
    };
    const failing = (report: ReadinessReport) => report.checks.filter((c) => !c.ok).map((c) => c.name);

    // Before the first tag sync, nothing runs: not ready, and `status` says which checks fail.
    const cold = await status();
    expect(cold.code).toBe(1);
    expect(failing(cold.report)).toEqual(['model', 'tag-sync', 'booru']);
    expect(cold.stderr).toContain('not ready: model, tag-sync, booru');

    await run(process.execPath, ['bin/booru-tagger.js', 'sync-tags'], { env, timeout: 30_000 });
    const service = spawnCli(['serve'], env);
    children.push(service);
    await waitFor(
      async () => {
        if (service.exitCode !== null) throw new Error(`serve exited: ${service.stderrText()}`);
        return (await readyz().catch(() => ({ code: 0 }))).code === 200;
      },
      { timeoutMs: 60_000, what: '/readyz 200' },
    );
    const ready = await readyz();
    expect(ready.report.checks.map((c) => [c.name, c.ok])).toEqual([
      ['database', true],
      ['migrations', true],
      ['model', true],
      ['tag-sync', true],
      ['booru', true],
    ]);
    expect(ready.report.checks.find((c) => c.name === 'model')?.detail).toMatch(/on cpu \(this process\)$/);
    // `status` reads what the workers reported to the database (a heartbeat after the first crawl).
    await waitFor(async () => (await status()).code === 0, { timeoutMs: 30_000, what: '`status` ready' });
    const warm = await status();
    expect(warm.code, warm.stderr).toBe(0);
    expect(warm.report.ready).toBe(true);

    // The metrics: their own listener without a token; on PORT only with it.
    const scraped = await get('/metrics', {}, metricsPort);
    expect(scraped.status).toBe(200);
    expect(parseExposition(await scraped.text()).value('booru_tagger_database_up')).toBe(1);
    expect((await get('/metrics')).status).toBe(401);
    expect((await get('/metrics', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);

    await server!.stop('fast');
    const down = await readyz();
    expect(down.code).toBe(503);
    expect(down.report.ready).toBe(false);
    expect(failing(down.report)).toContain('database');
    expect(down.report.checks.find((c) => c.name === 'database')?.detail).toMatch(/^unreachable: /);
    expect((await get('/healthz')).status).toBe(200);
    const downStatus = await status();
    expect(downStatus.code).toBe(1);
    expect(failing(downStatus.report)).toContain('database');
    const downMetrics = parseExposition(await (await get('/metrics', {}, metricsPort)).text());
    expect(downMetrics.value('booru_tagger_database_up')).toBe(0);

    await server!.start();
    await waitFor(async () => (await readyz()).code === 200, { timeoutMs: 30_000, what: '/readyz 200 again' });
    const back = await status();
    expect(back.code, back.stderr).toBe(0);
    expect(back.report.ready).toBe(true);

    service.kill('SIGTERM');
    expect(await exitOf(service), service.stderrText()).toEqual({ code: 0, signal: null });
  });
});
