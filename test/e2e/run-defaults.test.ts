/**
 * Defaults that fit the machine, through the real CLI: `run --once --json` on a fresh data dir measures the device
 * batch and reports it with the threads, the per-stage time per image and the time to the first post; the next run
 * reads the cached choice; TAGGER_DEVICE_BATCH wins over it; another model measures again; `status` shows the choices.
 * Nothing here asserts a duration: only that the figures are there and consistent.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { makeSolidPng } from '../helpers/images.js';
import { useTestDatabase } from '../helpers/test-db.js';

const run = promisify(execFile);

interface RunSummary {
  tagged: number;
  inference: {
    batch: number;
    batchSource: string;
    batchChoice: string;
    threads: number;
    decodeConcurrency: number;
  };
  timings: {
    msPerImage: Record<'download' | 'decode' | 'tensor' | 'model' | 'diff' | 'store', number>;
    firstPostTaggedMs: number | null;
    steadyPostsPerSecond: number | null;
  };
}

describe('run --once defaults', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;
  let dataDir: string;

  const cli = async (args: string[], extra: Record<string, string> = {}) => {
    const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', ...args], {
      env: {
        PATH: process.env['PATH'],
        DATABASE_URL: database().url,
        BOORU_URL: started.url,
        DEVICE: 'cpu',
        TAGGER_DATA_DIR: dataDir,
        TAGGER_LOG_LEVEL: 'warn',
        ...extra,
      },
      timeout: 90_000,
    });
    return stdout;
  };

  /** `status` exits 1 while the service is not ready (here: no worker is running), and prints all the same. */
  const status = async (args: string[]) => {
    try {
      return await cli(['status', ...args]);
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain('[NOT_READY]');
      return failed.stdout ?? '';
    }
  };

  const addPosts = async (from: number, count: number) => {
    for (let id = from; id < from + count; id++) {
      const png = await makeSolidPng(64, 64, [(id * 40) % 256, 120, 200]);
      booru.addPostWithMedia({ id, tag_string: '1girl solo', rating: 'g', md5: `md5-${id}` }, [
        { type: 'original', ext: 'png', width: 64, height: 64, bytes: png },
      ]);
    }
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'run-defaults-'));
    await addPosts(1, 6);
    started = await booru.start();
  });

  afterAll(async () => {
    await started?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('should measure the device batch on a fresh data dir and report where the time went', async () => {
    const summary: RunSummary = JSON.parse(await cli(['run', '--once', '--json']));

    expect(summary.tagged).toBe(6);
    expect(summary.inference).toMatchObject({ batchSource: 'measured', decodeConcurrency: expect.any(Number) });
    expect(summary.inference.batch).toBeGreaterThanOrEqual(1);
    expect(summary.inference.threads).toBeGreaterThanOrEqual(1);
    expect(summary.inference.batchChoice).toMatch(/^batch \d+ chosen on cpu \(\d+ threads?\): [\d.]+ img\/s/);
    expect(Object.keys(summary.timings.msPerImage).sort()).toEqual(
      ['decode', 'diff', 'download', 'model', 'store', 'tensor'].sort(),
    );
    expect(summary.timings.msPerImage.model).toBeGreaterThan(0);
    expect(summary.timings.msPerImage.store).toBeGreaterThan(0);
    // Measured from the process start, so it includes the start-up.
    expect(summary.timings.firstPostTaggedMs).toBeGreaterThan(0);

    const cache = JSON.parse(await readFile(join(dataDir, 'batch-choice.json'), 'utf8'));
    expect(cache.choices).toHaveLength(1);
    expect(cache.choices[0]).toMatchObject({ batch: summary.inference.batch, key: { provider: 'cpu' } });
  });

  it('should reuse the cached choice on the next run', async () => {
    await addPosts(7, 2);

    const summary: RunSummary = JSON.parse(await cli(['run', '--once', '--json']));

    expect(summary.tagged).toBe(2);
    expect(summary.inference.batchSource).toBe('cached');
  });

  it('should let TAGGER_DEVICE_BATCH and TAGGER_THREADS win', async () => {
    const summary: RunSummary = JSON.parse(
      await cli(['run', '--once', '--json'], { TAGGER_DEVICE_BATCH: '3', TAGGER_THREADS: '1' }),
    );

    expect(summary.inference).toMatchObject({ batch: 3, batchSource: 'configured', threads: 1 });
  });

  it('should measure again for another model and keep both choices, which status shows', async () => {
    const summary: RunSummary = JSON.parse(
      await cli(['run', '--once', '--json'], { MODEL_DIR: 'models/test-deepdanbooru' }),
    );
    const shown = JSON.parse(await status(['--json']));
    const text = await status([]);

    expect(summary.inference.batchSource).toBe('measured');
    expect(shown.batchChoices).toHaveLength(2);
    expect(new Set(shown.batchChoices.map((c: { key: { sha256: string } }) => c.key.sha256)).size).toBe(2);
    expect(text).toMatch(/batch +measured on this machine/);
    expect(text).toMatch(/chosen on cpu/);
  });
});
