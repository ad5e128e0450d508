/**
 * `npm run bench`: throughput numbers as one JSON object on stdout (progress on stderr).
 *
 * - preprocess: sharp decode + WD letterbox to 448 + Float32 tensor, per format, ms/image (1600×1200 sources).
 * - inference: the bundled test model on prepared tensors, batch 1 and 32, ms/image.
 * - endToEnd: the local fake Danbooru → crawl → download → tag → diff → suggestions in PostgreSQL, in-process,
 *   posts/s (needs PostgreSQL: BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres).
 * - dbStage: storing scores + replacing pending suggestions alone, posts/s.
 *
 * Sizes: BENCH_POSTS (default 300), BENCH_IMAGES (default 24).
 */
import pg from 'pg';
import { pino } from 'pino';
import sharp, { type Sharp } from 'sharp';
import { loadTagger, openRepositories, policyOf } from '../src/bin/context.js';
import { loadConfig } from '../src/config/config.js';
import { DanbooruClient } from '../src/booru/danbooru.client.js';
import { BooruHttp } from '../src/booru/http.js';
import { FakeDanbooruServer } from '../src/demo/fake-danbooru.server.js';
import { preprocessImage } from '../src/tagger/preprocess.js';
import { WD_RECIPE } from '../src/tagger/recipe.js';
import { buildDiffContext, diffPost } from '../src/worker/diff-context.js';
import { runOnce } from '../src/worker/run-once.js';
import { NO_TAG_FACTS } from '../src/core/tag-vocabulary.js';

const env = process.env;
const POSTS = Number(env['BENCH_POSTS'] ?? 300);
const IMAGES = Number(env['BENCH_IMAGES'] ?? 24);
const ADMIN_URL = env['BENCH_DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const logger = pino({ level: 'silent' });
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function timeIt(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** A noisy 1600×1200 picture, so encoders cannot cheat on flat colour. */
async function sourceImage(): Promise<Sharp> {
  const width = 1600;
  const height = 1200;
  const raw = Buffer.alloc(width * height * 3);
  let seed = 12345;
  for (let i = 0; i < raw.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    raw[i] = ((i % (width * 3)) / 12 + (seed >> 24)) & 0xff;
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

async function benchPreprocess(): Promise<Record<string, number>> {
  const image = await sourceImage();
  const encoded: Record<string, Buffer> = {
    jpeg: await image.clone().jpeg({ quality: 90 }).toBuffer(),
    png: await image.clone().png().toBuffer(),
    webp: await image.clone().webp({ quality: 90 }).toBuffer(),
    avif: await image.clone().avif({ quality: 60, effort: 2 }).toBuffer(),
  };
  const out: Record<string, number> = {};
  for (const [format, bytes] of Object.entries(encoded)) {
    await preprocessImage(bytes, WD_RECIPE, { maxPixels: 1e8 });
    const n = format === 'avif' ? Math.max(4, IMAGES / 4) : IMAGES;
    const ms = await timeIt(async () => {
      for (let i = 0; i < n; i++) await preprocessImage(bytes, WD_RECIPE, { maxPixels: 1e8 });
    });
    out[`${format}MsPerImage`] = round(ms / n);
    log(`preprocess ${format}: ${round(ms / n)} ms/image`);
  }
  return out;
}

async function benchInference(): Promise<Record<string, number>> {
  const config = loadConfig({ DEVICE: 'cpu' });
  const tagger = await loadTagger(config, logger);
  const tensor = new Float32Array(448 * 448 * 3).fill(128);
  const out: Record<string, number> = {};
  for (const batch of [1, 32]) {
    const tensors = Array.from({ length: batch }, () => tensor);
    await tagger.predictBatch(tensors);
    const rounds = Math.max(2, Math.round(64 / batch));
    const ms = await timeIt(async () => {
      for (let i = 0; i < rounds; i++) await tagger.predictBatch(tensors);
    });
    out[`batch${batch}MsPerImage`] = round(ms / (rounds * batch));
    log(`inference batch ${batch}: ${out[`batch${batch}MsPerImage`]} ms/image`);
  }
  out['imagesPerSecondBatch32'] = round(1000 / (out['batch32MsPerImage'] ?? 1));
  await tagger.close();
  return out;
}

async function freshDatabase(): Promise<string | null> {
  const name = `booru_tagger_bench_${process.pid}`;
  const client = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await client.connect();
  } catch (error) {
    log(`PostgreSQL unreachable at ${ADMIN_URL}: end-to-end and db numbers skipped (${(error as Error).message})`);
    return null;
  }
  await client.query(`DROP DATABASE IF EXISTS ${name}`);
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
  await client.end();
}

async function benchEndToEnd(databaseUrl: string): Promise<Record<string, number>> {
  const booru = new FakeDanbooruServer();
  const colors = [
    [230, 20, 20],
    [20, 220, 30],
    [20, 30, 230],
    [10, 230, 240],
  ];
  const files = await Promise.all(
    colors.map(async ([r, g, b]) => {
      const base = sharp({ create: { width: 720, height: 540, channels: 3, background: { r: r!, g: g!, b: b! } } });
      return base.webp({ quality: 90 }).toBuffer();
    }),
  );
  for (let i = 0; i < POSTS; i++) {
    booru.addPostWithMedia({ id: 1 + i, tag_string: '1girl solo red_theme', rating: 'g', md5: `m${i}` }, [
      { type: '720x720', ext: 'webp', width: 720, height: 540, bytes: files[i % files.length]! },
    ]);
  }
  const started = await booru.start();
  const config = loadConfig({ DATABASE_URL: databaseUrl, BOORU_URL: started.url, DEVICE: 'cpu' });
  const { db, repos } = await openRepositories(config, logger);
  const http = new BooruHttp({ baseUrl: started.url, userAgent: 'booru-tagger-bench', logger });
  const tagger = await loadTagger(config, logger);
  const booruRow = await repos.boorus.ensure({ name: 'bench', kind: 'danbooru', baseUrl: started.url });
  const modelId = await repos.models.ensure({
    ...tagger.model,
    purpose: 'tags',
    labels: [...tagger.model.labels],
    manifest: { ...tagger.model.recipe },
  });
  let summary: Awaited<ReturnType<typeof runOnce>> | undefined;
  const ms = await timeIt(async () => {
    summary = await runOnce(
      { ...repos, booru: new DanbooruClient(http, { logger }), tagger, logger },
      {
        booruId: booruRow.id,
        modelId,
        owner: 'bench',
        policy: policyOf(config),
        batchSize: config.batchSize,
        leaseMs: config.leaseMs,
        maxAttempts: config.maxAttempts,
        maxMediaBytes: config.maxMediaBytes,
        timeoutMs: config.httpTimeoutMs,
        scoreFloor: config.scoreFloor,
        topK: config.topK,
        maxPosts: 0,
      },
    );
  });
  log(`end to end: ${summary?.tag.tagged} posts in ${round(ms)} ms`);

  // The database stage alone: scores + diff + suggestions for posts already crawled.
  const posts = await db.prisma.post.findMany({ select: { id: true, tags: true, rating: true, tagsVersion: true } });
  const context = buildDiffContext(tagger.labels, NO_TAG_FACTS, [], policyOf(config));
  const scores = new Float32Array(tagger.labels.length).fill(0.5);
  const dbMs = await timeIt(async () => {
    for (const post of posts) {
      await repos.predictions.upsert({
        postId: post.id,
        modelId,
        labelIdx: [...scores.keys()],
        scores: [...scores],
        floor: 0.01,
        tagsVersion: post.tagsVersion,
      });
      const drafts = diffPost(context, post, scores, 0);
      await repos.suggestions.replacePending({ postId: post.id, modelId, tagsVersion: post.tagsVersion, drafts });
    }
  });
  await tagger.close();
  await http.close();
  await db.close();
  await started.close();
  const tagged = summary?.tag.tagged ?? 0;
  return {
    posts: tagged,
    endToEndPostsPerSecond: round((tagged * 1000) / ms),
    dbStagePostsPerSecond: round((posts.length * 1000) / dbMs),
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

const result: Record<string, unknown> = {
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  preprocess: await benchPreprocess(),
  inference: await benchInference(),
};
const databaseUrl = await freshDatabase();
if (databaseUrl) {
  try {
    result['endToEnd'] = await benchEndToEnd(databaseUrl);
  } finally {
    await dropDatabase(databaseUrl);
  }
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
