/**
 * `npm run bench`, per model: bare inference (tensors prepared in advance, a tight loop of `predictBatch`, per batch
 * size) and the end-to-end run in this process (fake Danbooru → `runOnce` → suggestions in a fresh PostgreSQL
 * database) on the same tagger, so the two are comparable.
 */
import { pino } from 'pino';
import { loadTagger, openRepositories, policyOf } from '../src/bin/context.js';
import { DanbooruClient } from '../src/booru/danbooru.client.js';
import { BooruHttp } from '../src/booru/http.js';
import { loadConfig } from '../src/config/config.js';
import type { OnnxTagger } from '../src/tagger/onnx-tagger.js';
import { runOnce } from '../src/worker/run-once.js';
import { log, mib, PeakMemory, round, startFakeBooru, timeIt, withFreshDatabase } from './bench-support.js';

const logger = pino({ level: 'silent' });

/** The tagger exactly as the worker loads it (config → loadTagger), on the CPU. */
/**
 * The bench's tagger on the CPU. `threads`: onnxruntime's intra-op threads (default: TAGGER_THREADS, else
 * onnxruntime's choice, one per core); 1 leaves the other cores to downloading, decoding and the database.
 */
export async function loadBenchTagger(modelDir: string | undefined, threads?: number): Promise<OnnxTagger> {
  const fromEnv = process.env['TAGGER_THREADS'];
  const chosen = threads === undefined ? fromEnv : String(threads);
  return loadTagger(
    loadConfig({
      DEVICE: 'cpu',
      ...(modelDir ? { MODEL_DIR: modelDir } : {}),
      ...(chosen ? { TAGGER_THREADS: chosen } : {}),
    }),
    logger,
  );
}

export interface BareResult {
  /** images/s for each batch size tried. */
  imagesPerSecondByBatch: Record<string, number>;
  bestBatch: number;
  imagesPerSecond: number;
  msPerImage: number;
}

/**
 * Times `predictBatch` on tensors made beforehand from `images` (the real preprocessing, done outside the clock): per
 * batch size one warm-up run, then enough runs to cover at least `imagesPerBatchSize` images.
 */
export async function benchBare(
  tagger: OnnxTagger,
  images: readonly Buffer[],
  batches: readonly number[],
  imagesPerBatchSize: number,
  label: string,
  /** Keep timing each batch size until this long has passed (a fast model gets more rounds). (Default: 0.) */
  minSeconds = 0,
): Promise<BareResult> {
  const tensors = await Promise.all(images.map((image) => tagger.preprocess(image)));
  const byBatch: Record<string, number> = {};
  let best = { batch: batches[0] ?? 1, ips: 0 };
  for (const batch of batches) {
    // One model run of exactly `batch` images: the tagger's own (measured) device batch must not split it.
    tagger.setBatchLimit(batch);
    const input = Array.from({ length: batch }, (_, i) => tensors[i % tensors.length]!);
    await tagger.predictBatch(input);
    const minRounds = Math.max(1, Math.ceil(imagesPerBatchSize / batch));
    let rounds = 0;
    const ms = await timeIt(async () => {
      const t0 = performance.now();
      while (rounds < minRounds || performance.now() - t0 < minSeconds * 1000) {
        await tagger.predictBatch(input);
        rounds++;
      }
    });
    const ips = (rounds * batch * 1000) / ms;
    byBatch[String(batch)] = round(ips);
    if (ips > best.ips) best = { batch, ips };
    log(`${label} bare, batch ${batch}: ${round(ips)} images/s (${rounds * batch} images)`);
  }
  return {
    imagesPerSecondByBatch: byBatch,
    bestBatch: best.batch,
    imagesPerSecond: round(best.ips),
    msPerImage: round(1000 / best.ips),
  };
}

export interface EndToEndResult {
  posts: number;
  batchSize: number;
  seconds: number;
  postsPerSecond: number;
  suggestions: number;
  /** This process's peak RSS during the run (the fake booru and the bench included). */
  peakRssMiB: number;
}

/**
 * Crawls `posts` posts from a fresh fake Danbooru and tags them with `tagger` through `runOnce`, into a fresh database.
 * The tagger is warmed up at `batchSize` first (a running worker is warm); model loading is not timed. Null when
 * PostgreSQL is unreachable.
 */
export async function benchEndToEnd(
  tagger: OnnxTagger,
  options: { posts: number; images: readonly Buffer[]; batchSize: number; label: string },
): Promise<EndToEndResult | null> {
  return withFreshDatabase(async (databaseUrl) => {
    const { started } = await startFakeBooru(options.posts, options.images);
    const config = loadConfig({ DATABASE_URL: databaseUrl, BOORU_URL: started.url, DEVICE: 'cpu' });
    const { db, repos } = await openRepositories(config, logger);
    const http = new BooruHttp({ baseUrl: started.url, userAgent: 'booru-tagger-bench', logger });
    try {
      const booruRow = await repos.boorus.ensure({ name: 'bench', kind: 'danbooru', baseUrl: started.url });
      const modelId = await repos.models.ensure({
        ...tagger.model,
        purpose: 'tags',
        labels: [...tagger.model.labels],
        manifest: { ...tagger.model.recipe },
      });
      const warm = await tagger.preprocess(options.images[0]!);
      await tagger.predictBatch(Array.from({ length: options.batchSize }, () => warm));
      const memory = new PeakMemory().start();
      let summary: Awaited<ReturnType<typeof runOnce>> | undefined;
      const ms = await timeIt(async () => {
        summary = await runOnce(
          { ...repos, booru: new DanbooruClient(http, { logger }), tagger, logger },
          {
            booruId: booruRow.id,
            modelId,
            owner: 'bench',
            policy: policyOf(config),
            syncMaxAgeMs: 0,
            batchSize: options.batchSize,
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
      const peak = await memory.stop();
      const tagged = summary?.tag.tagged ?? 0;
      if (tagged !== options.posts) log(`${options.label} end to end: only ${tagged} of ${options.posts} posts tagged`);
      const result: EndToEndResult = {
        posts: tagged,
        batchSize: options.batchSize,
        seconds: round(ms / 1000),
        postsPerSecond: round((tagged * 1000) / ms),
        suggestions: summary?.tag.suggestions ?? 0,
        peakRssMiB: mib(peak),
      };
      log(`${options.label} end to end: ${tagged} posts in ${result.seconds} s → ${result.postsPerSecond} posts/s`);
      return result;
    } finally {
      await http.close();
      await db.close();
      await started.close();
    }
  });
}
