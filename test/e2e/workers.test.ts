/**
 * Real worker processes on one PostgreSQL database and one loopback booru: several at once tag every post exactly
 * once between them; a worker killed with SIGKILL mid-run loses nothing and duplicates nothing after a restart; a
 * worker stopped with SIGTERM finishes or releases what it holds and exits on its own.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { makeSolidPng, type Rgb } from '../helpers/images.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db.js';
import { countWrites, installWriteLog } from '../helpers/write-log.js';

const run = promisify(execFile);
/** Colour, the tag the model adds for it, and the rating the model agrees with (so no rating suggestion). */
const COLORS: [Rgb, string, string][] = [
  [[230, 20, 20], 'red_theme', 's'],
  [[20, 220, 30], 'green_theme', 'g'],
  [[20, 30, 230], 'blue_theme', 'g'],
];

interface Setup {
  db: TestDatabase;
  booru: FakeDanbooruServer;
  started: StartedFakeDanbooru;
  env: NodeJS.ProcessEnv;
}

/** `n` posts, each a solid colour the test model recognises and a tag string lacking it: one addition per post. */
async function setUp(n: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<Setup> {
  const db = await createTestDatabase();
  // Counts committed writes: the final rows alone (upserts) would hide a post scored twice.
  await installWriteLog(db.url);
  const booru = new FakeDanbooruServer();
  // The site has the tags the model adds (the cycle syncs them before diffing).
  booru.addTags(COLORS.map(([, tag]) => ({ name: tag })));
  const pngs = await Promise.all(COLORS.map(([rgb]) => makeSolidPng(96, 96, rgb)));
  for (let i = 0; i < n; i++) {
    const rating = COLORS[i % COLORS.length]![2];
    booru.addPostWithMedia({ id: 1 + i, tag_string: '1girl solo', rating, md5: `m${i}` }, [
      { type: 'original', ext: 'png', width: 96, height: 96, bytes: pngs[i % pngs.length]! },
    ]);
  }
  const started = await booru.start();
  const env = {
    PATH: process.env['PATH'],
    DATABASE_URL: db.url,
    BOORU_URL: started.url,
    DEVICE: 'cpu',
    TAGGER_LOG_LEVEL: 'warn',
    TAGGER_BATCH_SIZE: '4',
    ...extraEnv,
  };
  return { db, booru, started, env };
}

/**
 * Every post tagged once, one prediction and exactly its one expected suggestion each, no lease left; and the write
 * log agrees: n score writes, n suggestion inserts, n transitions to `tagged`, none of them twice for a post.
 */
async function expectEveryPostTaggedOnce(setup: Setup, n: number): Promise<void> {
  const { prisma } = setup.db;
  expect(await countWrites(setup.db.url)).toEqual({
    predictionWritesOver1: 0,
    suggestionInsertsOver1: 0,
    taggedTransitionsOver1: 0,
    predictionWrites: n,
    suggestionInserts: n,
    taggedTransitions: n,
  });
  expect(await prisma.post.groupBy({ by: ['state'], _count: { _all: true } })).toEqual([
    { state: 'tagged', _count: { _all: n } },
  ]);
  expect(await prisma.post.count({ where: { leaseOwner: { not: null } } })).toBe(0);
  expect(await prisma.prediction.count()).toBe(n);
  const suggestions = await prisma.suggestion.findMany({ include: { post: { select: { remoteId: true } } } });
  expect(suggestions).toHaveLength(n);
  for (const s of suggestions) {
    expect(s).toMatchObject({
      action: 'add',
      status: 'pending',
      tag: COLORS[(s.post.remoteId - 1) % COLORS.length]![1],
    });
  }
}

function mediaDownloads(booru: FakeDanbooruServer): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of booru.requests) if (r.path.startsWith('/media/')) counts.set(r.path, (counts.get(r.path) ?? 0) + 1);
  return counts;
}

/** Waits for `check`; on a timeout the error carries `context()` (the worker's last log lines). */
async function waitFor(check: () => Promise<boolean>, timeoutMs: number, context = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A `worker` process whose stderr (its JSON logs) is kept, the last 8 KiB, for a failure message. */
function spawnWorker(env: NodeJS.ProcessEnv): { child: ChildProcess; logTail: () => string } {
  const child = spawn(process.execPath, ['bin/booru-tagger.js', 'worker'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8192);
  });
  return { child, logTail: () => `worker log (last 8 KiB):\n${tail}` };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('worker processes', () => {
  let setup: Setup | undefined;
  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await setup?.started.close();
    await setup?.db.drop();
    setup = undefined;
  });

  it('should tag every post exactly once between three concurrent processes', { timeout: 240_000 }, async () => {
    const n = 150;
    setup = await setUp(n);
    const env = setup.env;
    const outputs = await Promise.all(
      [1, 2, 3].map(() =>
        run(process.execPath, ['bin/booru-tagger.js', 'run', '--once', '--json'], { env, timeout: 120_000 }),
      ),
    );
    const summaries = outputs.map((o) => JSON.parse(o.stdout));
    expect(summaries.reduce((sum, s) => sum + s.tagged, 0)).toBe(n);
    await expectEveryPostTaggedOnce(setup, n);
    expect(mediaDownloads(setup.booru).size).toBe(n);
    // Each post was written by exactly one process (the writes above), and every image was fetched; a transient
    // transport failure under load may legitimately fetch one twice, so fetch counts are not asserted to be 1.
  });

  it('should lose and duplicate nothing when a worker is killed mid-run and another finishes', {
    timeout: 240_000,
  }, async () => {
    const n = 240;
    setup = await setUp(n, { TAGGER_LEASE_MS: '1500' });
    const { prisma } = setup.db;
    const { child: worker, logTail } = spawnWorker(setup.env);
    children.push(worker);
    await waitFor(async () => (await prisma.post.count({ where: { state: 'tagged' } })) >= 20, 60_000, logTail);
    worker.kill('SIGKILL');
    await exitOf(worker);
    const taggedAtKill = await prisma.post.count({ where: { state: 'tagged' } });
    expect(taggedAtKill).toBeLessThan(n);
    // The dead worker's leases expire (1.5 s); a new process takes the posts over.
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', 'run', '--once', '--json'], {
      env: setup.env,
      timeout: 120_000,
    });
    expect(JSON.parse(stdout).tagged).toBe(n - taggedAtKill);
    await expectEveryPostTaggedOnce(setup, n);
  });

  it('should finish or release its posts and exit on SIGTERM', { timeout: 240_000 }, async () => {
    const n = 240;
    setup = await setUp(n, { TAGGER_DRAIN_TIMEOUT_MS: '5000' });
    const { prisma } = setup.db;
    const { child: worker, logTail } = spawnWorker(setup.env);
    children.push(worker);
    await waitFor(async () => (await prisma.post.count({ where: { state: 'tagged' } })) >= 20, 60_000, logTail);
    const started = Date.now();
    worker.kill('SIGTERM');
    expect(await exitOf(worker)).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    // Nothing is left leased: every post is tagged or back in the pool, with its attempt uncounted.
    expect(await prisma.post.count({ where: { state: 'queued' } })).toBe(0);
    expect(await prisma.post.count({ where: { leaseOwner: { not: null } } })).toBe(0);
    expect(await prisma.worker.count()).toBe(0);
    const notTagged = await prisma.post.findMany({ where: { state: { not: 'tagged' } }, select: { attempts: true } });
    expect(notTagged.filter((p) => p.attempts !== 0)).toEqual([]);
    const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', 'run', '--once', '--json'], {
      env: setup.env,
      timeout: 120_000,
    });
    expect(JSON.parse(stdout).failed).toBe(0);
    await expectEveryPostTaggedOnce(setup, n);
  });

  it('should release the posts it holds with their attempt uncounted when SIGTERM leaves no drain time', {
    timeout: 240_000,
  }, async () => {
    const n = 120;
    setup = await setUp(n, { TAGGER_DRAIN_TIMEOUT_MS: '0' });
    const { prisma } = setup.db;
    const { child: worker, logTail } = spawnWorker(setup.env);
    children.push(worker);
    await waitFor(async () => (await prisma.post.count({ where: { state: 'tagged' } })) >= 8, 60_000, logTail);
    // Waits until the worker holds posts, then stops it at once: they are released, not finished.
    await waitFor(
      async () => (await prisma.post.count({ where: { leaseOwner: { not: null } } })) >= 4,
      60_000,
      logTail,
    );
    worker.kill('SIGTERM');
    expect(await exitOf(worker)).toEqual({ code: 0, signal: null });

    expect(await prisma.post.count({ where: { leaseOwner: { not: null } } })).toBe(0);
    const back = await prisma.post.findMany({
      where: { state: { not: 'tagged' } },
      select: { state: true, attempts: true },
    });
    expect(back.length).toBeGreaterThan(0);
    // A released post is `new` with attempts 0 (claiming counted 1; releasing takes it back), never a failure.
    expect(back.filter((p) => p.state !== 'new' || p.attempts !== 0)).toEqual([]);
    const logged = await prisma.post.count({ where: { lastError: { not: null } } });
    expect(logged).toBe(0);
    await run(process.execPath, ['bin/booru-tagger.js', 'run', '--once', '--json'], {
      env: setup.env,
      timeout: 120_000,
    });
    await expectEveryPostTaggedOnce(setup, n);
  });
});
