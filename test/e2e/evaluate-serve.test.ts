/**
 * /evaluate as `serve` wires it, in real child processes: beside a running worker (one batching tagger serves both),
 * and in `serve --no-worker`, which loads the model on the first request; a token from `users token` opens it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { FormData, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDemoPosts } from '../../src/demo/demo-posts.js';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { exitOf, waitFor } from '../helpers/cli-process.js';
import { makeSolidPng } from '../helpers/images.js';
import { useTestDatabase } from '../helpers/test-db.js';

const run = promisify(execFile);

/** Starts `serve` on a free port and resolves with its base URL once it prints it. */
async function startServe(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['bin/booru-tagger.js', 'serve', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  await waitFor(async () => /dashboard on (http:\S+)/.test(stdout) || child.exitCode !== null, {
    timeoutMs: 60_000,
    what: `serve to listen (stderr: ${stderr})`,
  });
  const url = /dashboard on (http:\S+)/.exec(stdout)?.[1];
  if (!url) throw new Error(`serve exited: ${stderr}`);
  return { child, url };
}

describe('/evaluate in serve', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;
  const children: ChildProcess[] = [];
  const env = () => ({
    PATH: process.env['PATH'],
    DATABASE_URL: database().url,
    PORT: '0',
    TAGGER_LOG_LEVEL: 'warn',
    TAGGER_POLL_MS: '200',
  });
  const evaluate = async (url: string, headers: Record<string, string> = {}) => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(await makeSolidPng(64, 64, [10, 230, 240]))]), 'aqua.png');
    form.append('format', 'json');
    const response = await fetch(`${url}/evaluate`, { method: 'POST', body: form, headers });
    return { status: response.status, body: (await response.json()) as unknown };
  };

  beforeAll(async () => {
    for (const post of await makeDemoPosts(4, 4001)) {
      booru.addPostWithMedia(
        { id: post.id, tag_string: post.tagString, rating: post.rating, md5: post.md5, created_at: post.createdAt },
        post.files,
      );
    }
    started = await booru.start();
  }, 60_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await started?.close();
  });

  it('should answer beside the worker, which tags the booru through the same tagger', async () => {
    const sut = await startServe([], { ...env(), BOORU_URL: started.url, EVALUATE_OPEN: 'true' });
    children.push(sut.child);
    const answer = await evaluate(sut.url);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([
      {
        filename: 'aqua.png',
        tags: expect.objectContaining({ 'rating:g': expect.any(Number), hatsune_miku: expect.any(Number) }),
      },
    ]);
    await waitFor(async () => (await database().prisma.prediction.count()) === 4, {
      timeoutMs: 60_000,
      what: 'the worker to score the demo posts',
    });
    sut.child.kill('SIGTERM');
    expect((await exitOf(sut.child)).code).toBe(0);
  });

  it('should load the model on demand without a worker, and want a token unless opened', async () => {
    await run(process.execPath, ['bin/booru-tagger.js', 'users', 'add', 'bot', '--role', 'viewer'], { env: env() });
    const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', 'users', 'token', 'bot'], { env: env() });
    const token = stdout.trim();
    expect(token).toMatch(/^btk_/);
    const sut = await startServe(['--no-worker'], env());
    children.push(sut.child);
    expect((await evaluate(sut.url)).status).toBe(401);
    const answer = await evaluate(sut.url, { authorization: `Bearer ${token}` });
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body)).toContain('hatsune_miku');
    sut.child.kill('SIGTERM');
    expect((await exitOf(sut.child)).code).toBe(0);
  });
});
