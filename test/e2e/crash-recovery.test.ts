/**
 * The crash test (issue 9, Process): real worker processes on PostgreSQL and a loopback booru, killed with SIGKILL
 * at seeded random points of a 300-post run, 20 times, restarted after each kill. The kill points fall at start-up,
 * inside the crawl, and anywhere in the tag pipeline (downloads, inference, the batched write). Test-only triggers
 * log every committed write (test/helpers/write-log.ts), so "exactly once" is checked on the writes themselves, not
 * only on the final rows: every post becomes tagged exactly once, its scores are written exactly once, no
 * suggestion row is inserted twice, and no lease is left.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { exitOf, seededRandom, spawnCli, waitFor } from '../helpers/cli-process.js';
import { makeSolidPng, type Rgb } from '../helpers/images.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db.js';
import { countWrites, installWriteLog } from '../helpers/write-log.js';

/** Colour, the tag the test model adds for it, and the rating it agrees with (so no rating suggestion). */
const COLORS: [Rgb, string, string][] = [
  [[230, 20, 20], 'red_theme', 's'],
  [[20, 220, 30], 'green_theme', 'g'],
  [[20, 30, 230], 'blue_theme', 'g'],
];
const POSTS = 300;
const KILLS = 20;
const SEED = 20_261_127;
const LEASE_MS = 1_000;

describe('crash recovery', () => {
  let db: TestDatabase | undefined;
  let started: StartedFakeDanbooru | undefined;
  const children: ReturnType<typeof spawnCli>[] = [];

  afterEach(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await started?.close();
    await db?.drop();
  });

  it(`should tag every post exactly once after ${KILLS} SIGKILLs at random points of a ${POSTS}-post run`, {
    timeout: 300_000,
  }, async () => {
    const t0 = Date.now();
    db = await createTestDatabase();
    await installWriteLog(db.url);
    const booru = new FakeDanbooruServer();
    // The site has the tags the model adds (every cycle syncs them before diffing).
    booru.addTags(COLORS.map(([, tag]) => ({ name: tag })));
    const pngs = await Promise.all(COLORS.map(([rgb]) => makeSolidPng(64, 64, rgb)));
    for (let i = 0; i < POSTS; i++) {
      const [, , rating] = COLORS[i % COLORS.length]!;
      booru.addPostWithMedia({ id: 1 + i, tag_string: '1girl solo', rating, md5: `m${i}` }, [
        { type: 'original', ext: 'png', width: 64, height: 64, bytes: pngs[i % pngs.length]! },
      ]);
    }
    started = await booru.start();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      DATABASE_URL: db.url,
      BOORU_URL: started.url,
      DEVICE: 'cpu',
      TAGGER_LOG_LEVEL: 'warn',
      TAGGER_BATCH_SIZE: '4',
      TAGGER_LEASE_MS: String(LEASE_MS),
      TAGGER_POLL_MS: '100',
      // A post may be in flight at several kills; with the default (5) it could end `failed` by bad luck, which is
      // the right verdict for a post that really crashes workers, but not what this test is about.
      TAGGER_MAX_ATTEMPTS: '100',
    };
    const { prisma } = db;
    const tagged = () => prisma.post.count({ where: { state: 'tagged' } });
    const random = seededRandom(SEED);
    const kills: { command: string; taggedBefore: number; taggedAfter: number }[] = [];

    for (let k = 0; k < KILLS; k++) {
      // Alternate the long-running worker and the one-shot cycle: both must survive a kill anywhere.
      const command = k % 2 === 0 ? ['run', '--once', '--json'] : ['worker'];
      const taggedBefore = await tagged();
      const listed = booru.requests.filter((r) => r.path === '/posts.json').length;
      const child = spawnCli(command, env);
      children.push(child);
      let exited = false;
      void exitOf(child).then(() => {
        exited = true;
      });
      if (k === 0) {
        // The first kill lands inside the crawl: after the first page is requested, before the cursor settles.
        await waitFor(async () => exited || booru.requests.filter((r) => r.path === '/posts.json').length > listed, {
          timeoutMs: 60_000,
          intervalMs: 5,
          what: 'the first listing',
        });
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 60)));
      } else {
        // Let it tag a random number of posts (0: killed at start-up or at its first claim), then a random extra
        // 0–300 ms so the kill falls anywhere in the pipeline, the batched write included. The step shrinks as the
        // run advances so that a fifth of the posts are still left for the last kills, however fast the machine.
        const maxStep = Math.max(0, Math.floor((POSTS * 0.8 - taggedBefore) / (KILLS - k)));
        const target = taggedBefore + Math.floor(random() * (maxStep + 1));
        await waitFor(async () => exited || (await tagged()) >= target, {
          timeoutMs: 60_000,
          intervalMs: 20,
          what: `post ${target} tagged`,
        });
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 300)));
      }
      expect(exited, `cycle ${k} finished before its kill; stderr: ${child.stderrText()}`).toBe(false);
      child.kill('SIGKILL');
      expect(await exitOf(child)).toEqual({ code: null, signal: 'SIGKILL' });
      kills.push({ command: command[0]!, taggedBefore, taggedAfter: await tagged() });
    }

    const taggedAtLastKill = await tagged();
    expect(taggedAtLastKill).toBeLessThan(POSTS);
    // The last victim's leases expire; a clean cycle takes everything left over.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 200));
    const final = spawnCli(['run', '--once', '--json'], env);
    children.push(final);
    expect(await exitOf(final), final.stderrText()).toEqual({ code: 0, signal: null });

    const states = await prisma.post.groupBy({ by: ['state'], _count: { _all: true } });
    expect(states).toEqual([{ state: 'tagged', _count: { _all: POSTS } }]);
    expect(
      await prisma.post.count({ where: { OR: [{ leaseOwner: { not: null } }, { leaseExpiresAt: { not: null } }] } }),
    ).toBe(0);
    expect(await prisma.prediction.count()).toBe(POSTS);
    const suggestions = await prisma.suggestion.findMany({ include: { post: { select: { remoteId: true } } } });
    expect(suggestions).toHaveLength(POSTS);
    for (const s of suggestions) {
      expect(s).toMatchObject({
        action: 'add',
        status: 'pending',
        tag: COLORS[(s.post.remoteId - 1) % COLORS.length]![1],
      });
    }
    const writes = await countWrites(db.url);
    expect(writes).toEqual({
      predictionWritesOver1: 0,
      suggestionInsertsOver1: 0,
      taggedTransitionsOver1: 0,
      predictionWrites: POSTS,
      suggestionInserts: POSTS,
      taggedTransitions: POSTS,
    });
    const duringKills = kills.filter((c) => c.taggedAfter > c.taggedBefore).length;
    console.info(
      `[crash-recovery] ${kills.length} SIGKILLs over ${POSTS} posts (${taggedAtLastKill} tagged by killed processes, ` +
        `${duringKills} kills after progress, the rest at start-up or first claim), then one clean run: ` +
        `lost 0, duplicated 0 (${writes.predictionWrites} score writes, ${writes.suggestionInserts} suggestion inserts), ` +
        `leases left 0, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(kills).toHaveLength(KILLS);
  });
});
