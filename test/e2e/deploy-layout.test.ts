/**
 * docs/DEPLOY.md, run: the one-shot commands in the documented order, then the documented layout — one
 * `serve --no-worker` and two `worker`s on one database and one (local) booru — until every post is tagged, `status`
 * exits 0 and `/readyz` answers 200; then the backup commands (pg_dump, pg_restore into an empty database). Every
 * `booru-tagger` command written in DEPLOY.md must be one this test runs, so the document cannot drift from it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { exitOf, spawnCli, waitFor } from '../helpers/cli-process.js';
import { makeSolidPng } from '../helpers/images.js';
import { parseExposition } from '../helpers/prometheus-text.js';
import { createEmptyDatabase, useTestDatabase } from '../helpers/test-db.js';

const run = promisify(execFile);
const POSTS = 12;

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

/** Every `booru-tagger …` command in DEPLOY.md's code blocks, comments dropped and absolute paths as `<path>`. */
async function documentedCommands(): Promise<Set<string>> {
  const text = await readFile('docs/DEPLOY.md', 'utf8');
  // Shell, systemd unit and Procfile blocks (the diagram is `text`).
  const blocks = [...text.matchAll(/```(?:sh|ini|procfile)\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const commands = new Set<string>();
  for (const block of blocks) {
    for (const match of block.matchAll(/(?:^|[\s:])booru-tagger ([a-z][^#\n]*)/gm)) {
      commands.add(normalise(match[1]!));
    }
  }
  return commands;
}

const normalise = (command: string) =>
  command
    .trim()
    .split(/\s+/)
    .map((word) => (word.startsWith('/') ? '<path>' : word))
    .join(' ');

describe('docs/DEPLOY.md', () => {
  const database = useTestDatabase();
  let started: StartedFakeDanbooru | undefined;
  const children: ReturnType<typeof spawnCli>[] = [];
  let backupDir = '';

  afterAll(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await started?.close();
    if (backupDir) await rm(backupDir, { recursive: true, force: true });
  });

  it('should run the documented commands and layout: one web service, two workers, one database', {
    timeout: 240_000,
  }, async () => {
    const booru = new FakeDanbooruServer();
    const png = await makeSolidPng(64, 64, [230, 20, 20]);
    for (let id = 1; id <= POSTS; id++) {
      booru.addPostWithMedia({ id, tag_string: '1girl solo', rating: 's', md5: `m${id}` }, [
        { type: 'original', ext: 'png', width: 64, height: 64, bytes: png },
      ]);
    }
    booru.addTags([{ name: 'red_theme' }]);
    started = await booru.start();
    const modelDir = join(process.cwd(), 'models', 'test-colors');
    const [port, metrics1, metrics2] = [await freePort(), await freePort(), await freePort()];
    // The shared environment file of DEPLOY.md.
    const env = {
      PATH: process.env['PATH'],
      DATABASE_URL: database().url,
      BOORU_URL: started.url,
      BOORU_KIND: 'danbooru',
      MODEL_DIR: modelDir,
      TAGGER_METRICS_TOKEN: 'deploy-layout-token-0123',
      DEVICE: 'cpu',
      TAGGER_LOG_LEVEL: 'warn',
      TAGGER_POLL_MS: '200',
      TAGGER_BATCH_SIZE: '4',
    };
    const ran: string[] = [];
    const cli = async (...args: string[]) => {
      ran.push(normalise(args.join(' ')));
      try {
        const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', ...args], { env, timeout: 60_000 });
        return { code: 0, stdout };
      } catch (thrown) {
        const error = thrown as { code: number; stdout: string; stderr: string };
        return { code: error.code, stdout: error.stdout + error.stderr };
      }
    };
    const spawn = (extra: Record<string, string>, ...args: string[]) => {
      ran.push(normalise(args.join(' ')));
      const child = spawnCli(args, { ...env, ...extra });
      children.push(child);
      return child;
    };

    // First start.
    expect(await cli('db', 'migrate')).toMatchObject({ code: 0, stdout: expect.stringContaining('up to date') });
    expect((await cli('users', 'add', 'admin', '--role', 'admin')).stdout).toMatch(
      /created admin \(admin\) with password/,
    );
    expect(await cli('sync-tags')).toMatchObject({ code: 0 });
    const cold = await cli('status');
    expect(cold.code).toBe(1);
    expect(cold.stdout).toContain('FAIL model');

    // The layout.
    const web = spawn({ PORT: String(port) }, 'serve', '--no-worker');
    const workers = [
      spawn({ TAGGER_METRICS_PORT: String(metrics1) }, 'worker'),
      spawn({ TAGGER_METRICS_PORT: String(metrics2) }, 'worker'),
    ];
    const tagged = async () => {
      const client = new pg.Client({ connectionString: database().url });
      await client.connect();
      try {
        return Number((await client.query(`SELECT count(*) AS n FROM posts WHERE state = 'tagged'`)).rows[0].n);
      } finally {
        await client.end();
      }
    };
    await waitFor(
      async () => {
        for (const child of [web, ...workers])
          if (child.exitCode !== null) throw new Error(`a process exited: ${child.stderrText()}`);
        return (await tagged()) === POSTS;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: 'every post tagged' },
    );
    await waitFor(async () => (await cli('status')).code === 0, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: '`status` ready',
    });
    ran.push('status');
    const readyz = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(readyz.status).toBe(200);
    const report = (await readyz.json()) as { checks: { name: string; detail: string }[] };
    // The web service has no model of its own: the workers' reports say which is loaded where.
    expect(report.checks.find((c) => c.name === 'model')?.detail.split('; ')).toHaveLength(2);
    const scrape = parseExposition(await (await fetch(`http://127.0.0.1:${metrics1}/metrics`)).text());
    expect(scrape.value('booru_tagger_workers')).toBe(2);
    expect(scrape.value('booru_tagger_posts', { state: 'tagged' })).toBe(POSTS);

    // Rolling a model upgrade starts with inspecting the new folder.
    expect((await cli('models', 'inspect', modelDir)).stdout).toContain('selected_tags.csv');

    for (const child of [web, ...workers]) child.kill('SIGTERM');
    for (const child of [web, ...workers])
      expect(await exitOf(child), child.stderrText()).toEqual({ code: 0, signal: null });

    // Backups, as documented (where this machine has pg_dump as new as the server).
    const version = await run('pg_dump', ['--version']).catch(() => null);
    const server = new pg.Client({ connectionString: database().url });
    await server.connect();
    const serverMajor = Number((await server.query('SHOW server_version_num')).rows[0].server_version_num) / 10_000;
    await server.end();
    const dumpMajor = Number(/\) (\d+)/.exec(version?.stdout ?? '')?.[1] ?? 0);
    if (!version || dumpMajor < Math.floor(serverMajor) || !existsSync('/usr/bin/pg_restore')) {
      console.warn(`[deploy-layout] backup step skipped: pg_dump ${dumpMajor || 'absent'}, server ${serverMajor}`);
    } else {
      backupDir = await mkdtemp(join(tmpdir(), 'bt-backup-'));
      const file = join(backupDir, 'booru-tagger.dump');
      await run('pg_dump', ['--format=custom', `--file=${file}`, database().url]);
      const target = await createEmptyDatabase();
      try {
        await run('pg_restore', ['--clean', '--if-exists', '--no-owner', `--dbname=${target.url}`, file]);
        const restored = new pg.Client({ connectionString: target.url });
        await restored.connect();
        const n = Number((await restored.query(`SELECT count(*) AS n FROM posts WHERE state = 'tagged'`)).rows[0].n);
        await restored.end();
        expect(n).toBe(POSTS);
      } finally {
        await target.drop();
      }
    }

    const documented = await documentedCommands();
    expect([...documented].filter((command) => !ran.includes(command))).toEqual([]);
  });
});
