/**
 * Done-when of issue 20 (import half): a DeepDanbooru-layout release archive (built by the test: Keras 2.x HDF5 with
 * resnet_custom_v3's layer types, project.json, tags files) goes through the real CLI, `models import`, then
 * `run --once` against a local Danbooru, and ends as suggestions in the queue. The model is built to answer ≈1 or ≈0
 * per tag on any image, so the suggestions are known.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { writeRelease, zipRelease } from '../helpers/deepdanbooru-release.js';
import { makeSolidPng, makeTwoTonePng } from '../helpers/images.js';
import { useTestDatabase } from '../helpers/test-db.js';

const run = promisify(execFile);
/** Each test runs the CLI in child processes (a few seconds each to start on a loaded machine). */
const CLI_TEST_TIMEOUT = 180_000;

const TAGS = [
  '1girl',
  'solo',
  'red_theme',
  'blue_theme',
  'hatsune_miku',
  'rating:safe',
  'rating:questionable',
  'rating:explicit',
];
const ANSWERS = ['high', 'low', 'high', 'low', 'low', 'high', 'low', 'low'] as const;

describe('DeepDanbooru release: models import → run --once → suggestions', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;
  let work: string;

  const cli = async (env: Record<string, string>, ...args: string[]) => {
    const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', ...args], {
      env: {
        PATH: process.env['PATH'],
        DATABASE_URL: database().url,
        BOORU_URL: started.url,
        TAGGER_LOG_LEVEL: 'warn',
        TAGGER_MODELS_DIR: join(work, 'models'),
        ...env,
      },
      timeout: 120_000,
    });
    return stdout;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ddb-release-'));
    const release = await writeRelease(join(work, 'release'), {
      inputSize: 512,
      tags: TAGS,
      characters: ['hatsune_miku'],
      answers: ANSWERS,
    });
    await zipRelease(
      release,
      ['project.json', 'tags.txt', 'tags-general.txt', 'tags-character.txt', 'model-resnet_custom_v3.h5'],
      join(work, 'deepdanbooru-v3-20211112-sgd-e28.zip'),
    );
    // A square post and a wide one (resized by AREA, then centred with the edge padding).
    booru.addPostWithMedia({ id: 3001, tag_string: '1girl solo', rating: 'g', md5: 'md5-3001' }, [
      { type: 'original', ext: 'png', width: 512, height: 512, bytes: await makeSolidPng(512, 512, [200, 40, 40]) },
    ]);
    booru.addPostWithMedia({ id: 3002, tag_string: '1girl blue_theme red_theme', rating: 'g', md5: 'md5-3002' }, [
      {
        type: 'original',
        ext: 'png',
        width: 900,
        height: 300,
        bytes: await makeTwoTonePng(900, 300, 450, [20, 20, 200], [200, 20, 20]),
      },
    ]);
    started = await booru.start();
  });

  afterAll(async () => {
    await started?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('should import the release archive with the CLI', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const out = await cli(
      {},
      'models',
      'import',
      join(work, 'deepdanbooru-v3-20211112-sgd-e28.zip'),
      '--name',
      'ddb-v3',
    );

    expect(out).toContain('imported ddb-v3: DeepDanbooru resnet_custom_v3 (Keras 2.4.0)');
    expect(out).toContain('8 labels (1 character, 3 rating), input 512², AREA resize');
    const inspected = JSON.parse(await cli({}, 'models', 'inspect', join(work, 'models', 'ddb-v3'), '--json'));
    expect(inspected).toMatchObject({ family: 'deepdanbooru', labels: 8, recipe: { inputSize: 512, resize: 'area' } });
  });

  it('should tag the posts with it and queue the suggestions its scores imply', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const env = { MODEL_DIR: join(work, 'models', 'ddb-v3') };

    const summary = JSON.parse(await cli(env, 'run', '--once', '--json'));

    expect(summary).toMatchObject({ failed: 0 });
    const rows: Array<{ post: number; action: string; tag: string; score: number }> = JSON.parse(
      await cli(env, 'suggestions', '--json'),
    );
    expect(rows.map((r) => `${r.post} ${r.action} ${r.tag}`).sort()).toEqual([
      '3001 add red_theme',
      '3001 remove solo',
      '3002 remove blue_theme',
    ]);
    for (const row of rows) expect(row.action === 'add' ? row.score > 0.9 : row.score < 0.02).toBe(true);
  });
});
