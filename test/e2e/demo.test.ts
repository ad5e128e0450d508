/**
 * The README's first command: `demo --once` needs nothing but the project (embedded PGlite database, bundled demo
 * booru, bundled model). Runs the real CLI in a child process with a temporary data folder.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('demo --once', () => {
  let dataDir = '';

  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('should crawl, tag and suggest on the embedded database and exit 0', { timeout: 150_000 }, async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'booru-tagger-demo-'));
    // No DATABASE_URL and no BOORU_URL: the demo must not need them (and ignores them when set).
    const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', 'demo', '--once', '--json'], {
      env: { PATH: process.env['PATH'], TAGGER_DATA_DIR: dataDir, DEVICE: 'cpu' },
      timeout: 120_000,
    });
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({
      posts: { seen: 36, inserted: 36, skipped: 0 },
      tagged: 36,
      failed: 0,
      model: { name: 'test-colors', provider: 'cpu' },
    });
    // Each demo post lacks a true tag or carries a wrong one on a fixed schedule; see src/demo/demo-posts.ts.
    expect(summary.suggestions.created).toBeGreaterThan(0);
    expect(summary.suggestions.pending).toBe(summary.suggestions.created);
    expect((await stat(join(dataDir, 'demo', 'pglite'))).isDirectory()).toBe(true);
  });

  it('should exit 2 naming every bad setting', async () => {
    const failure = await run(process.execPath, ['bin/booru-tagger.js', 'demo', '--once', '--batch-size', '0'], {
      env: { PATH: process.env['PATH'], PORT: 'eighty', DEVICE: 'tpu' },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2 });
    const stderr = (failure as { stderr: string }).stderr;
    expect(stderr).toContain('--batch-size');
    expect(stderr).toContain('PORT');
    expect(stderr).toContain('DEVICE');
  });
});
