/**
 * Several tag models voting, end to end: three real ONNX models (the bundled test model and two copies that each
 * hallucinate one tag on every image), the real CLI's `run --once` against the demo booru on loopback with
 * TAGGER_ENSEMBLE=vote:2, then the stored scores, the suggestions' votes and the post page of the dashboard.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSelectedTagsCsv, buildTestModel } from '../../scripts/test-model-builder.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import { buildDashboard } from '../../src/dashboard/app.js';
import { ApiTokenRepository } from '../../src/db/api-token.repository.js';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { makeDemoPosts } from '../../src/demo/demo-posts.js';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { Client } from '../helpers/inject-client.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { dashboardRepos } from '../helpers/seed.js';

const run = promisify(execFile);
/** The default add threshold of general tags. */
const GENERAL_ADD = 0.35;

interface Vote {
  combination: string;
  models: { model: string; score: number }[];
}

describe('several models voting (TAGGER_ENSEMBLE=vote:2)', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;
  const work = mkdtempSync(join(tmpdir(), 'bt-ensemble-'));
  const modelDirs: string[] = [];
  let app: FastifyInstance | undefined;

  const cli = (env: Record<string, string>, ...args: string[]) =>
    run(process.execPath, ['bin/booru-tagger.js', ...args], {
      env: {
        PATH: process.env['PATH'],
        DATABASE_URL: database().url,
        BOORU_URL: started.url,
        TAGGER_LOG_LEVEL: 'warn',
        TAGGER_BATCH_SIZE: '4',
        DEVICE: 'cpu',
        ...env,
      },
      timeout: 120_000,
    });

  beforeAll(async () => {
    // Three models of one vocabulary: the test model, one that sees `dark` everywhere, one that sees
    // `white_background` everywhere (each a confident hallucination of a single model).
    for (const [name, biasShift] of [
      ['colors', {}],
      ['colors-sees-dark', { dark: 40 }],
      ['colors-sees-white', { white_background: 40 }],
    ] as const) {
      const dir = join(work, name);
      await mkdir(dir, { recursive: true });
      writeFileSync(join(dir, 'model.onnx'), buildTestModel({ biasShift }));
      writeFileSync(join(dir, 'selected_tags.csv'), buildSelectedTagsCsv());
      modelDirs.push(dir);
    }
    for (const post of await makeDemoPosts(12, 5001)) {
      booru.addPostWithMedia(
        { id: post.id, tag_string: post.tagString, rating: post.rating, md5: post.md5, created_at: post.createdAt },
        post.files,
      );
    }
    started = await booru.start();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await started?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('should refuse a vote that needs more models than configured, naming the setting', async () => {
    const failure = await cli(
      {
        MODEL_DIR: modelDirs[0]!,
        TAGGER_EXTRA_MODEL_DIRS: modelDirs.slice(1).join(','),
        TAGGER_ENSEMBLE: 'vote:4',
      },
      'run',
      '--once',
      '--json',
    ).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/TAGGER_ENSEMBLE=vote:4: vote:4 needs at least 4 models; 3 configured/);
  });

  it('should tag every post, storing each model’s scores beside the combined ones', async () => {
    const { stdout } = await cli(
      { MODEL_DIR: modelDirs[0]!, TAGGER_EXTRA_MODEL_DIRS: modelDirs.slice(1).join(','), TAGGER_ENSEMBLE: 'vote:2' },
      'run',
      '--once',
      '--json',
    );
    const summary = JSON.parse(stdout) as { tagged: number; model: { name: string; version: string } };
    expect(summary.tagged).toBe(12);
    expect(summary.model.name).toBe('ensemble');
    expect(summary.model.version).toMatch(/^vote:2\(colors@\w+\+colors-sees-dark@\w+\+colors-sees-white@\w+\)$/);
    const { prisma } = database();
    const perModel = await prisma.prediction.groupBy({ by: ['modelId'], _count: { _all: true } });
    expect(perModel.map((p) => p._count._all)).toEqual([12, 12, 12, 12]);
  });

  it('should suggest only what at least two models see, and record every model’s score on the suggestion', async () => {
    const { prisma } = database();
    const suggestions = await prisma.suggestion.findMany({
      where: { status: 'pending', action: 'add' },
      include: { post: { select: { tags: true } } },
    });
    expect(suggestions.length).toBeGreaterThan(0);
    for (const s of suggestions) {
      const votes = s.votes as unknown as Vote;
      expect(votes.combination, s.tag).toBe('vote:2');
      expect(votes.models.map((m) => m.model.split('@')[0])).toEqual([
        'colors',
        'colors-sees-dark',
        'colors-sees-white',
      ]);
      const scores = votes.models.map((m) => m.score).sort((a, b) => b - a);
      // The combined score is the second highest: two models at or above the threshold.
      expect(s.score).toBeCloseTo(scores[1]!, 5);
      expect(scores[1]).toBeGreaterThanOrEqual(GENERAL_ADD);
    }
    // Every model but one scores `dark` near 0 on a bright post: the lone hallucination is not suggested.
    const darkPredictions = await prisma.prediction.findMany({
      where: { model: { name: 'colors-sees-dark' } },
      include: { post: { select: { id: true, tags: true } } },
    });
    const model = await prisma.model.findFirstOrThrow({ where: { name: 'colors-sees-dark' } });
    const darkIdx = (model.labels as { name: string }[]).findIndex((l) => l.name === 'dark');
    const hallucinated = darkPredictions.filter((p) => {
      const at = p.labelIdx.indexOf(darkIdx);
      return at >= 0 && p.scores[at]! > 0.9 && !p.post.tags.includes('dark');
    });
    expect(hallucinated.length).toBeGreaterThan(0);
    const addDark = new Set(suggestions.filter((s) => s.tag === 'dark').map((s) => s.postId));
    const colorsDark = await prisma.prediction.findMany({ where: { model: { name: 'colors' } } });
    let bright = 0;
    for (const p of hallucinated) {
      const single = colorsDark.find((c) => c.postId === p.post.id)!;
      const at = single.labelIdx.indexOf(darkIdx);
      const colorsScore = at >= 0 ? single.scores[at]! : 0;
      if (colorsScore >= GENERAL_ADD) continue;
      bright++;
      expect(addDark.has(p.post.id), `post ${p.post.id}`).toBe(false);
    }
    expect(bright).toBeGreaterThan(0);
  });

  it('should record the vote on a suggestion a re-diff raises from the stored scores', async () => {
    const { prisma } = database();
    const ensemble = await prisma.model.findFirstOrThrow({ where: { name: 'ensemble' } });
    const labels = ensemble.labels as { name: string; category: number }[];
    const predictions = await prisma.prediction.findMany({
      where: { modelId: ensemble.id },
      include: { post: { select: { id: true, tags: true } } },
      orderBy: { postId: 'asc' },
    });
    // A general tag on a post that the models agree on: a human removes it, the re-diff suggests it back.
    const target = predictions
      .flatMap((p) => p.labelIdx.map((index, i) => ({ post: p.post, label: labels[index]!, score: p.scores[i]! })))
      .find((c) => c.label.category === 0 && c.score > 0.9 && c.post.tags.includes(c.label.name));
    expect(target).toBeDefined();
    await prisma.post.update({
      where: { id: target!.post.id },
      data: { tags: target!.post.tags.filter((t) => t !== target!.label.name), tagsVersion: { increment: 1 } },
    });
    await cli(
      { MODEL_DIR: modelDirs[0]!, TAGGER_EXTRA_MODEL_DIRS: modelDirs.slice(1).join(','), TAGGER_ENSEMBLE: 'vote:2' },
      'run',
      '--once',
      '--json',
    );
    const raised = await prisma.suggestion.findFirstOrThrow({
      where: { postId: target!.post.id, tag: target!.label.name, action: 'add', status: 'pending' },
    });
    const votes = raised.votes as unknown as Vote;
    expect(votes.combination).toBe('vote:2');
    expect(votes.models).toHaveLength(3);
    const scores = votes.models.map((m) => m.score).sort((a, b) => b - a);
    expect(raised.score).toBeCloseTo(scores[1]!, 5);
  });

  it('should show each model’s score on the post page', async () => {
    const { prisma } = database();
    const users = new UserRepository(prisma);
    await users.create({ name: 'mod', role: 'moderator', passwordHash: await hashPassword('mod-password') });
    app = await buildDashboard({
      users,
      suggestions: new SuggestionRepository(prisma),
      ...dashboardRepos(prisma),
      apiTokens: new ApiTokenRepository(prisma),
      audit: new AuditRepository(prisma),
      logger: silentLogger,
    });
    const client = new Client(app);
    await client.signIn('mod', 'mod-password');
    const suggestion = await prisma.suggestion.findFirstOrThrow({ where: { status: 'pending', action: 'add' } });
    const page = await client.request('GET', `/posts/${suggestion.postId}`);
    expect(page.statusCode).toBe(200);
    const row = new RegExp(`<tr data-id="${suggestion.id}"[\\s\\S]*?</tr>`).exec(page.body)?.[0] ?? '';
    expect(row).toContain('at least 2 of 3 models');
    for (const vote of (suggestion.votes as unknown as Vote).models) {
      expect(row).toContain(vote.model);
      expect(row).toContain(vote.score.toFixed(3));
    }
  });
});
