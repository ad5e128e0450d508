/**
 * Vocabulary freshness as a precondition of diffing, end to end through the real CLI against a local Danbooru: a
 * tag sync that fails leaves posts scored but undiffed (zero suggestions, a clear message, exit 1 from `run --once`,
 * STALE in `status`); the next good sync lets the re-diff make the suggestions from the stored scores, without
 * re-inference; a sync older than TAGGER_SYNC_MAX_AGE_HOURS is stale too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { makeSolidPng, type Rgb } from '../helpers/images.js';
import { useTestDatabase } from '../helpers/test-db.js';

const run = promisify(execFile);
const RED: Rgb = [230, 20, 20];
const GREEN: Rgb = [20, 220, 30];
const AQUA: Rgb = [10, 230, 240];

interface SuggestionJson {
  post: number;
  tag: string;
  action: string;
  status: string;
}

describe('vocabulary freshness', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;

  const cli = async (args: string[], env: Record<string, string> = {}) => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['bin/booru-tagger.js', ...args], {
        env: {
          PATH: process.env['PATH'],
          DATABASE_URL: database().url,
          BOORU_URL: started.url,
          TAGGER_LOG_LEVEL: 'warn',
          TAGGER_BATCH_SIZE: '4',
          TAGGER_HTTP_RETRIES: '0',
          ...env,
        },
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (thrown) {
      const failure = thrown as { code?: number; stdout?: string; stderr?: string };
      return { code: failure.code ?? -1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
    }
  };
  const suggestions = async (): Promise<string[]> => {
    const rows: SuggestionJson[] = JSON.parse((await cli(['suggestions', '--json', '--limit', '1000'])).stdout);
    return rows.map((r) => `${r.post} ${r.action} ${r.tag}`).sort();
  };

  beforeAll(async () => {
    booru.addTags([
      { name: 'hatsune_miku', category: 4 },
      { name: 'cyan_theme', category: 0 },
    ]);
    // The site's name for the model's aqua_theme: suggesting aqua_theme would be the wrong suggestion.
    booru.setAliases({ aqua_theme: 'cyan_theme' });
    for (const [id, color, tags] of [
      [4001, RED, '1girl'],
      [4002, GREEN, 'green_theme red_theme'],
      [4003, AQUA, '1girl'],
    ] as const) {
      const png = await makeSolidPng(512, 512, color);
      booru.addPostWithMedia({ id, tag_string: tags, rating: 's', md5: `md5-${id}` }, [
        { type: 'original', ext: 'png', width: 512, height: 512, bytes: png },
      ]);
    }
    started = await booru.start();
  });

  afterAll(async () => {
    await started?.close();
  });

  it('should score but not diff when the tag sync fails, say why, and exit 1', async () => {
    booru.failNext(1, 503, { path: '/tag_aliases.json' });
    const result = await cli(['run', '--once', '--json']);
    expect(result.code).toBe(1);
    const summary = JSON.parse(result.stdout);
    expect(summary.tagged).toBe(3);
    expect(summary.suggestions.created).toBe(0);
    expect(summary.vocabulary).toMatchObject({ fresh: false, generation: null });
    expect(summary.vocabulary.waitReason).toMatch(/last tag sync \(#1, .*\) failed: BOORU_/);
    expect(result.stderr).toContain('posts were scored but not diffed');
    expect(result.stderr).toContain('[VOCABULARY_STALE]');
    // Said once in the log, not once per post.
    expect(result.stderr.match(/tag vocabulary stale/g)).toHaveLength(1);
    expect(await suggestions()).toEqual([]);

    const status = await cli(['status']);
    expect(status.stdout).toMatch(/tag sync {5}127\.0\.0\.1:\d+: STALE, suggestions wait: the last tag sync \(#1/);

    // `sync-tags` on its own says so too, and exits 1.
    booru.failNext(1, 503, { path: '/tag_implications.json' });
    const sync = await cli(['sync-tags']);
    expect(sync.code).toBe(1);
    expect(sync.stdout).toContain('generation   #2 FAILED: suggestions wait until a sync succeeds');
  });

  it('should make the suggestions from the stored scores once a sync succeeds, without re-inference', async () => {
    const result = await cli(['run', '--once', '--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary.tagged).toBe(0);
    expect(summary.vocabulary).toMatchObject({ fresh: true, generation: 3, waitReason: null });
    const expected = [
      '4001 add red_theme',
      '4002 remove red_theme',
      // aqua_theme reaches the queue under the site's name, and the character with it.
      '4003 add cyan_theme',
      '4003 add hatsune_miku',
      // Rating suggestions: red is sensitive, the others general (the posts say sensitive).
      '4002 rating rating:g',
      '4003 rating rating:g',
    ].sort();
    expect(await suggestions()).toEqual(expected);
    expect(summary.suggestions.created).toBe(expected.length);
    const generations = await database().prisma.prediction.findMany({ select: { syncGeneration: true } });
    expect(generations.map((g) => g.syncGeneration)).toEqual([3, 3, 3]);
  });

  it('should call a sync older than TAGGER_SYNC_MAX_AGE_HOURS stale', async () => {
    await database().prisma.$executeRaw`UPDATE tag_syncs SET finished_at = finished_at - interval '30 hours'`;
    const stale = await cli(['status', '--json'], { TAGGER_SYNC_MAX_AGE_HOURS: '24' });
    const [vocabulary] = JSON.parse(stale.stdout).vocabulary;
    expect(vocabulary).toMatchObject({ fresh: false, generation: null });
    expect(vocabulary.waitReason).toMatch(/older than TAGGER_SYNC_MAX_AGE_HOURS=24/);
    const anyAge = await cli(['status', '--json'], { TAGGER_SYNC_MAX_AGE_HOURS: '0' });
    expect(JSON.parse(anyAge.stdout).vocabulary[0]).toMatchObject({ fresh: true, generation: 3 });
  });
});
