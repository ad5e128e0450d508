/**
 * PostgreSQL restarted under a running worker (issue 9, Database). A private cluster (never the shared server) is
 * crashed with `pg_ctl stop -m immediate` while a `worker` process is tagging, kept down for a few seconds, then
 * started again. The worker must not die: it waits, reconnects and finishes. Nothing half-written stays visible:
 * the batched write is one transaction, so the test-only write log (test/helpers/write-log.ts) shows every post
 * scored, suggested and tagged exactly once, and no lease is left.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../src/db/generated/client.js';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { exitOf, spawnCli, waitFor } from '../helpers/cli-process.js';
import { makeSolidPng, type Rgb } from '../helpers/images.js';
import {
  createPrivatePostgres,
  type PrivatePostgres,
  privatePostgresUnavailable,
} from '../helpers/private-postgres.js';
import { countWrites, installWriteLog } from '../helpers/write-log.js';

const COLORS: [Rgb, string, string][] = [
  [[230, 20, 20], 'red_theme', 's'],
  [[20, 220, 30], 'green_theme', 'g'],
  [[20, 30, 230], 'blue_theme', 'g'],
];
const POSTS = 200;
const DOWN_MS = 3_000;

const unavailable = privatePostgresUnavailable();
if (unavailable) console.warn(`[pg-restart] skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('worker across a PostgreSQL restart', () => {
  let server: PrivatePostgres | undefined;
  let started: StartedFakeDanbooru | undefined;
  let prisma: PrismaClient | undefined;
  const children: ReturnType<typeof spawnCli>[] = [];

  beforeAll(async () => {
    server = await createPrivatePostgres();
    await server.start();
  }, 60_000);

  afterAll(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await prisma?.$disconnect();
    await started?.close();
    await server?.destroy();
  });

  it('should wait, reconnect and finish every post exactly once when the server crashes mid-run', {
    timeout: 180_000,
  }, async () => {
    const admin = new pg.Client({ connectionString: server!.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE bt');
    await admin.end();
    const url = server!.url('bt');
    await migrate({ url });
    await installWriteLog(url);

    const booru = new FakeDanbooruServer();
    // The site has the tags the model adds (every cycle syncs them before diffing).
    booru.addTags(COLORS.map(([, tag]) => ({ name: tag })));
    const pngs = await Promise.all(COLORS.map(([rgb]) => makeSolidPng(64, 64, rgb)));
    for (let i = 0; i < POSTS; i++) {
      booru.addPostWithMedia({ id: 1 + i, tag_string: '1girl solo', rating: COLORS[i % 3]![2], md5: `m${i}` }, [
        { type: 'original', ext: 'png', width: 64, height: 64, bytes: pngs[i % 3]! },
      ]);
    }
    started = await booru.start();
    const worker = spawnCli(['worker'], {
      PATH: process.env['PATH'],
      DATABASE_URL: url,
      BOORU_URL: started.url,
      DEVICE: 'cpu',
      TAGGER_LOG_LEVEL: 'warn',
      TAGGER_BATCH_SIZE: '4',
      TAGGER_LEASE_MS: '3000',
      TAGGER_POLL_MS: '100',
      TAGGER_DRAIN_TIMEOUT_MS: '5000',
    });
    children.push(worker);
    let exited = false;
    void exitOf(worker).then(() => {
      exited = true;
    });

    // A fresh connection per poll: the server goes away underneath, and a pooled client would only add noise.
    const count = async (sql: string): Promise<number> => {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
      try {
        await client.connect();
        const { rows } = await client.query<{ n: string }>(sql);
        return Number(rows[0]!.n);
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    const tagged = () => count(`SELECT count(*) AS n FROM posts WHERE state = 'tagged'`);

    await waitFor(async () => exited || (await tagged()) >= 30, { timeoutMs: 60_000, what: '30 posts tagged' });
    expect(exited, worker.stderrText()).toBe(false);
    const taggedAtCrash = await tagged();
    await server!.stop('immediate');
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    expect(exited, `the worker died while the database was down: ${worker.stderrText()}`).toBe(false);
    await server!.start();
    expect(await tagged()).toBeLessThan(POSTS);

    await waitFor(async () => exited || (await tagged()) === POSTS, { timeoutMs: 120_000, what: 'every post tagged' });
    expect(exited, `the worker exited instead of finishing: ${worker.stderrText()}`).toBe(false);
    // Leases of the batch in flight at the crash expire and are taken again; once all is tagged, none may remain.
    worker.kill('SIGTERM');
    expect(await exitOf(worker), worker.stderrText()).toEqual({ code: 0, signal: null });

    prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
    expect(await prisma.post.groupBy({ by: ['state'], _count: { _all: true } })).toEqual([
      { state: 'tagged', _count: { _all: POSTS } },
    ]);
    expect(await prisma.post.count({ where: { leaseOwner: { not: null } } })).toBe(0);
    expect(await prisma.prediction.count()).toBe(POSTS);
    const suggestions = await prisma.suggestion.findMany({ include: { post: { select: { remoteId: true } } } });
    expect(suggestions).toHaveLength(POSTS);
    for (const s of suggestions) {
      expect(s).toMatchObject({ action: 'add', status: 'pending', tag: COLORS[(s.post.remoteId - 1) % 3]![1] });
    }
    expect(await countWrites(url)).toEqual({
      predictionWritesOver1: 0,
      suggestionInsertsOver1: 0,
      taggedTransitionsOver1: 0,
      predictionWrites: POSTS,
      suggestionInserts: POSTS,
      taggedTransitions: POSTS,
    });
    console.info(
      `[pg-restart] crashed PostgreSQL at ${taggedAtCrash}/${POSTS} tagged, down ${DOWN_MS} ms; the worker ` +
        'reconnected and finished: every post once, no lease left',
    );
    // It noticed: the tag loop failed with the server and started over, rather than sleeping through the outage.
    expect(worker.stderrText()).toMatch(/tag loop failed; restarting in 5 s/);
  });
});
