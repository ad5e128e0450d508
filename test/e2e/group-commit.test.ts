/**
 * The writer's group commit (`tag-posts.job.ts`): a slow model's posts share transactions instead of one each, the
 * first post is written at once, and the end of a run does not wait for the interval. Real PostgreSQL, a fake
 * Danbooru on loopback, the real test model behind a decorator that makes each model run take 25 ms (a slow model).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBooruAdapter } from '../../src/booru/booru-factory.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { CursorRepository } from '../../src/db/cursor.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { TaggingRepository } from '../../src/db/tagging.repository.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { OnnxTagger } from '../../src/tagger/onnx-tagger.js';
import type { Tagger } from '../../src/tagger/tagger.js';
import { TEST_MODEL_LABELS } from '../../src/tagger/test-model-spec.js';
import { runOnce } from '../../src/worker/run-once.js';
import type { TagSummary } from '../../src/worker/tag-posts.job.js';
import { uniqueBaseUrl } from '../helpers/factories.js';
import { makeSolidPng } from '../helpers/images.js';
import { ensureTagModel, fastRetryHttp } from '../helpers/pipeline.js';
import { defaultDiffPolicy } from '../helpers/policy.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

const MODEL_DIR = fileURLToPath(new URL('../../models/test-colors/', import.meta.url));
const POSTS = 6;

/** The tagger with model runs one at a time, each taking at least `ms`: a model slower than the write. */
function slowed(inner: OnnxTagger, ms: number): Tagger {
  let chain: Promise<unknown> = Promise.resolve();
  return {
    model: inner.model,
    labels: inner.labels,
    provider: inner.provider,
    inputSize: inner.inputSize,
    batchLimit: 1,
    preprocess: (image, timing) => inner.preprocess(image, timing),
    predictBatch(tensors) {
      const run = chain.then(async () => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return inner.predictBatch(tensors);
      });
      chain = run.catch(() => undefined);
      return run;
    },
    predictImages: (images) => inner.predictImages(images),
    close: async () => undefined,
  };
}

describe('group commit of results', () => {
  const database = useTestDatabase();
  let tagger: OnnxTagger;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    tagger = await OnnxTagger.load(MODEL_DIR, { device: 'cpu', logger: silentLogger });
  });
  afterAll(async () => {
    await tagger?.close();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function cycle(
    commitIntervalMs: number,
    posts = POSTS,
    modelMs = 25,
  ): Promise<{ writes: number[]; summary: TagSummary }> {
    const red = await makeSolidPng(64, 64, [230, 20, 20]);
    const server = new FakeDanbooruServer();
    server.addTags(
      TEST_MODEL_LABELS.filter((l) => l.category !== 9).map((l) => ({ name: l.name, category: l.category })),
    );
    for (let id = 1; id <= posts; id++) {
      server.addPostWithMedia({ id, tag_string: '1girl solo', rating: 's', md5: `md5-${id}` }, [
        { type: 'original', ext: 'png', width: 64, height: 64, bytes: red },
      ]);
    }
    await server.start();
    closers.push(() => server.close());
    const prisma = database().prisma;
    const http = fastRetryHttp(server.url, 'group-commit test');
    closers.push(() => http.close());
    const stored = uniqueBaseUrl(server.url);
    const booruId = (await new BooruRepository(prisma).ensure({ name: stored, baseUrl: stored, kind: 'danbooru' })).id;
    const modelId = await ensureTagModel(prisma, tagger.model);
    const deps = {
      posts: new PostRepository(prisma),
      cursors: new CursorRepository(prisma),
      suggestions: new SuggestionRepository(prisma),
      tags: new TagRepository(prisma),
      tagging: new TaggingRepository(prisma),
      booru: createBooruAdapter('danbooru', http, silentLogger),
      tagger: slowed(tagger, modelMs),
      logger: silentLogger,
    };
    const writes: number[] = [];
    const result = await runOnce(deps, {
      booruId,
      modelId,
      owner: 'group-commit',
      policy: defaultDiffPolicy(),
      syncMaxAgeMs: 0,
      batchSize: 1,
      leaseMs: 120_000,
      maxAttempts: 2,
      maxMediaBytes: 1024 * 1024,
      timeoutMs: 5_000,
      scoreFloor: 0.01,
      topK: 64,
      maxPosts: 0,
      commitIntervalMs,
      onBatch: (summary) => writes.push(summary.tagged),
    });
    return { writes, summary: result.tag };
  }

  it('writes the first post at once and the rest together, without waiting out the interval at the end', async () => {
    // An interval far longer than the test's timeout: the run can only end because nothing else was in flight.
    const { writes, summary } = await cycle(600_000);
    expect(summary.tagged).toBe(POSTS);
    expect(summary.failed).toBe(0);
    // Cumulative posts tagged after each transaction: the first post alone, then the other five in one.
    expect(writes).toEqual([1, POSTS]);
  });

  it('with no interval, writes each post as soon as it is scored', async () => {
    const { writes, summary } = await cycle(0);
    expect(summary.tagged).toBe(POSTS);
    // Each 25 ms model run ends after the previous write has started: more transactions than the grouped run's two.
    expect(writes.length).toBeGreaterThan(2);
    expect(writes.at(-1)).toBe(POSTS);
  });

  it('never holds more than half the lease window, so a fast pipeline keeps flowing', async () => {
    // 100 fast posts, an interval longer than the test: the lease window is its minimum, 64 posts, so each write
    // carries at most 32 (plus the one run that reached the cap), never all that is in flight.
    const { writes, summary } = await cycle(600_000, 100, 1);
    expect(summary.tagged).toBe(100);
    const sizes = writes.map((tagged, i) => tagged - (writes[i - 1] ?? 0));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(33);
    expect(writes.at(-1)).toBe(100);
  });
});
