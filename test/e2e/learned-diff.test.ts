/**
 * Learned thresholds in the real pipeline: a local Danbooru, the test model in onnxruntime-node, a fresh PostgreSQL
 * database. With a learned add threshold for white_background above the model's score (0.97) switched on, a cycle
 * suggests red_theme but not white_background; switched off, the next cycle suggests white_background again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCycle } from '../../src/bin/commands.js';

import { openService } from '../../src/bin/service.js';
import { openRepositories, type Repositories } from '../../src/bin/context.js';
import { loadConfig } from '../../src/config/config.js';
import type { Database } from '../../src/db/database.js';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { crawlNewPosts } from '../../src/worker/crawl-posts.job.js';
import { tagPendingPosts } from '../../src/worker/tag-posts.job.js';
import { makeSolidPng, type Rgb } from '../helpers/images.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

const RED: Rgb = [230, 20, 20];
const WHITE: Rgb = [252, 252, 252];

describe('learned thresholds in the diff', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;
  let db: Database;
  let repos: Repositories;
  const add = async (id: number, colour: Rgb) => {
    booru.addPostWithMedia({ id, tag_string: '1girl solo', rating: 'g', md5: `m${id}` }, [
      { type: 'original', ext: 'png', width: 64, height: 64, bytes: await makeSolidPng(64, 64, colour) },
    ]);
  };

  beforeAll(async () => {
    // The site has the tags the model suggests (a synced vocabulary drops labels the booru does not have).
    booru.addTags([{ name: 'red_theme' }, { name: 'white_background' }]);
    for (const id of [1, 2]) await add(id, RED);
    for (const id of [3, 4]) await add(id, WHITE);
    started = await booru.start();
  });

  afterAll(async () => {
    await db?.close();
    await started?.close();
  });

  const config = () =>
    loadConfig({ DATABASE_URL: database().url, BOORU_URL: started.url, DEVICE: 'cpu', TAGGER_LOG_LEVEL: 'silent' });
  const additions = async () =>
    (
      await database().prisma.suggestion.findMany({
        where: { action: 'add' },
        select: { tag: true, post: { select: { remoteId: true } } },
        orderBy: [{ post: { remoteId: 'asc' } }, { tag: 'asc' }],
      })
    ).map((s) => `${s.post.remoteId} ${s.tag}`);

  it('should use a learned threshold only while learned thresholds are switched on', { timeout: 120_000 }, async () => {
    ({ db, repos } = await openRepositories(config(), silentLogger));
    const { id: booruId } = await repos.boorus.ensure({
      name: new URL(started.url).host,
      kind: 'danbooru',
      baseUrl: started.url,
    });
    const learned = { threshold: 0.99, decided: 40, approved: 38, precision: 0.95, lowerBound: 0.83 };
    await repos.thresholds.saveLearned(booruId, [
      { tag: 'white_background', action: 'add', learned, note: '', decided: 40, precision: null, buckets: [] },
    ]);
    await repos.thresholds.setLearnedEnabled(booruId, true, { userId: null, actor: 'test' });

    await runCycle(config(), silentLogger, repos, started.url);
    expect(await additions()).toEqual(['1 red_theme', '2 red_theme']);

    await repos.thresholds.setLearnedEnabled(booruId, false, { userId: null, actor: 'test' });
    for (const id of [5, 6]) await add(id, WHITE);
    await runCycle(config(), silentLogger, repos, started.url);
    expect(await additions()).toEqual(['1 red_theme', '2 red_theme', '5 white_background', '6 white_background']);
  });

  it('should let the continuous tag loop end its round after maxRunMs, so the next round reads the switch', {
    timeout: 120_000,
  }, async () => {
    // Continues from the test above: learned thresholds are off, posts 1-6 tagged.
    const booruId = (
      await repos.boorus.ensure({ name: new URL(started.url).host, kind: 'danbooru', baseUrl: started.url })
    ).id;
    const service = await openService(config(), silentLogger, repos, started.url);
    try {
      const round = async () => {
        await crawlNewPosts(
          { booru: service.booru, posts: repos.posts, cursors: repos.cursors, logger: silentLogger },
          { booruId, minMediaSize: service.tagger.inputSize, maxPosts: 0 },
        );
        // As the worker's loop does at the start of every round: the context carries the learned thresholds in force.
        const options = await service.tagOptions({ follow: true, pollMs: 50, maxRunMs: 500 });
        const started = Date.now();
        const summary = await tagPendingPosts(
          {
            ...repos,
            booru: service.booru,
            tagger: service.tagger,
            ratingModel: service.ratingModel,
            logger: silentLogger,
          },
          options,
        );
        // A following loop without maxRunMs would never return.
        expect(Date.now() - started).toBeLessThan(30_000);
        return summary;
      };
      await repos.thresholds.setLearnedEnabled(booruId, true, { userId: null, actor: 'test' });
      for (const id of [7, 8]) await add(id, WHITE);
      expect((await round()).tagged).toBe(2);
      await repos.thresholds.setLearnedEnabled(booruId, false, { userId: null, actor: 'test' });
      await add(9, WHITE);
      expect((await round()).tagged).toBe(1);
      expect((await additions()).filter((a) => Number(a.split(' ')[0]) >= 7)).toEqual(['9 white_background']);
    } finally {
      await service.close();
    }
  });
});
