/**
 * `npm run bench`: throughput numbers as one JSON object on stdout (progress on stderr). CPU only (DEVICE=cpu),
 * except the default-settings runs, which leave DEVICE at its default (auto) or take BENCH_DEVICE (gpu-check.sh).
 *
 * - defaultSettings (sections `startup`, `vit`, `convnext`; scripts/bench-defaults.ts): what a new user sees.
 *   `booru-tagger run --once --json` as a child process with no TAGGER_* variable, on a fresh data dir (so the batch
 *   measurement is inside the clock) and a fresh database, against bare inference on every usable core measured in
 *   the same run before and after. Per model: bare img/s, steady posts/s (first → last post tagged) and whole-run
 *   posts/s (spawn → exit) with their ratios to bare, the chosen batch and how, threads, decode concurrency, busy ms
 *   per image per stage, time from process start to the first post tagged, peak RSS. `vit`: a ViT-B/16@448-like model
 *   (wd-vit-tagger-v3's shape, scripts/make-bench-vit.ts, written on first use, ~360 MiB) over BENCH_VIT_POSTS (100);
 *   `convnext`: the ConvNeXt-T-like model over BENCH_CONVNEXT_POSTS (300); `startup`: the bundled model over
 *   BENCH_STARTUP_POSTS (36), for the time to the first post. The posts' images: real illustrations from ../shared
 *   re-encoded as Danbooru's 720 px WebP sample when ../shared is there, else (or with BENCH_IMAGES_KIND=noisy)
 *   per-pixel noise WebPs, the decoder's worst case; each run names which in `images`.
 *
 * - preprocess: sharp decode + WD letterbox to 448 + Float32 tensor, per format, ms/image (1600×1200 sources).
 * - inference: the bundled test model on prepared tensors, batch 1 and 32, ms/image.
 * - endToEnd: the local fake Danbooru → crawl → download → tag → diff → suggestions in PostgreSQL, in-process, on the
 *   test model with flat-colour images at the default batch size, posts/s; `dbStagePostsPerSecond` is the database
 *   stage below at the default batch size (it used to be per-post repository calls; the worker now writes batches).
 * - models.test, models.realistic: for the bundled test model and for a ConvNeXt-T-like model at 448 with 10,861
 *   labels and random weights (scripts/make-bench-model.ts, written on first use), bare inference (prepared tensors,
 *   tight loop, per batch size; the best is kept) and end to end through `runOnce` at that batch size on noisy WebP
 *   images, and their ratio (goal on the realistic model: ≥ 0.9). models.realisticOneInferenceCore: the same with
 *   onnxruntime on one thread, so the rest of the pipeline has cores of its own, as it has beside a GPU.
 * - dbStage: claim + compact scores + diff + `tagging.storeResults`, no model, realistic vocabulary, posts/s (goal
 *   ≥ 2,000): through the worker's own pipeline with instant stand-ins for network and model, and step by step.
 * - memory: one `booru-tagger run --once` process over BENCH_MEMORY_POSTS posts on the test model: its peak RSS.
 * - workers: 1 and 2 `booru-tagger run --once` processes at once on one database and one fake booru (served here).
 *
 * Needs PostgreSQL for everything after `inference`: BENCH_DATABASE_URL (default
 * postgresql://postgres@127.0.0.1:5432/postgres); each part uses a throwaway database.
 *
 * Sizes (environment): BENCH_IMAGES (24), BENCH_POSTS (300), BENCH_TEST_BATCHES (1,8,16,32,64),
 * BENCH_TEST_IMAGES (256 per batch size), BENCH_TEST_POSTS (1000), BENCH_MODEL_DIR (a temp folder),
 * BENCH_REALISTIC_BATCHES (1,4,8), BENCH_REALISTIC_IMAGES (8 per batch size), BENCH_MIN_BARE_SECONDS (5 per batch
 * size), BENCH_MIN_E2E_SECONDS (20 s of inference), BENCH_REALISTIC_POSTS (32, rounded up
 * to whole batches), BENCH_DB_POSTS (2000), BENCH_DB_BATCHES (16,64), BENCH_MEMORY_POSTS (5000), BENCH_WORKER_POSTS
 * (1000), BENCH_VIT_MODEL_DIR (a temp folder), BENCH_SECTIONS (all:
 * startup,vit,convnext,preprocess,inference,endToEnd,test,realistic,dbStage,memory,workers), e.g. BENCH_SECTIONS=vit for
 * the ViT part alone or BENCH_SECTIONS=dbStage,memory.
 */
import { cpus, loadavg } from 'node:os';
import { pino } from 'pino';
import { DEFAULT_MODEL_DIR, loadTagger } from '../src/bin/context.js';
import { loadConfig } from '../src/config/config.js';
import { loadModelFolder } from '../src/tagger/model-folder.js';
import { preprocessImage } from '../src/tagger/preprocess.js';
import { WD_RECIPE } from '../src/tagger/recipe.js';
import { benchDbStage, type DbStageResult } from './bench-db-stage.js';
import { type BareResult, benchBare, benchEndToEnd, type EndToEndResult, loadBenchTagger } from './bench-models.js';
import { envInt, envIntList, log, noisyWebps, round, solidWebps, sourceImage, timeIt } from './bench-support.js';
import { benchWorkerProcesses } from './bench-workers.js';
import { benchDefaultRun, type DefaultRunResult } from './bench-defaults.js';
import { DEFAULT_BENCH_MODEL_DIR, DEFAULT_VIT_BENCH_MODEL_DIR, ensureBenchModel } from './make-bench-model.js';

const IMAGES = envInt('BENCH_IMAGES', 24);
const POSTS = envInt('BENCH_POSTS', 300);
const TEST_BATCHES = envIntList('BENCH_TEST_BATCHES', [1, 8, 16, 32, 64]);
const TEST_IMAGES = envInt('BENCH_TEST_IMAGES', 256);
const TEST_POSTS = envInt('BENCH_TEST_POSTS', 1000);
const MODEL_DIR = process.env['BENCH_MODEL_DIR'] || DEFAULT_BENCH_MODEL_DIR;
const REALISTIC_BATCHES = envIntList('BENCH_REALISTIC_BATCHES', [1, 4, 8]);
const REALISTIC_IMAGES = envInt('BENCH_REALISTIC_IMAGES', 8);
const REALISTIC_POSTS = envInt('BENCH_REALISTIC_POSTS', 32);
const MIN_BARE_SECONDS = envInt('BENCH_MIN_BARE_SECONDS', 5);
const MIN_E2E_SECONDS = envInt('BENCH_MIN_E2E_SECONDS', 20);
const DB_POSTS = envInt('BENCH_DB_POSTS', 2000);
const DB_BATCHES = envIntList('BENCH_DB_BATCHES', [16, 64]);
const MEMORY_POSTS = envInt('BENCH_MEMORY_POSTS', 5000);
const WORKER_POSTS = envInt('BENCH_WORKER_POSTS', 1000);
const VIT_MODEL_DIR = process.env['BENCH_VIT_MODEL_DIR'] || DEFAULT_VIT_BENCH_MODEL_DIR;
const VIT_POSTS = envInt('BENCH_VIT_POSTS', 100);
const CONVNEXT_POSTS = envInt('BENCH_CONVNEXT_POSTS', 300);
const STARTUP_POSTS = envInt('BENCH_STARTUP_POSTS', 36);
const ALL_SECTIONS = [
  'startup',
  'vit',
  'convnext',
  'preprocess',
  'inference',
  'endToEnd',
  'test',
  'realistic',
  'dbStage',
  'memory',
  'workers',
];
const SECTIONS = new Set((process.env['BENCH_SECTIONS'] || ALL_SECTIONS.join(',')).split(',').map((s) => s.trim()));
for (const section of SECTIONS) {
  if (!ALL_SECTIONS.includes(section)) throw new Error(`BENCH_SECTIONS: unknown section ${section}`);
}
const logger = pino({ level: 'silent' });

async function benchPreprocess(): Promise<Record<string, number>> {
  const image = sourceImage();
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
  const tagger = await loadTagger(loadConfig({ DEVICE: 'cpu' }), logger);
  const tensor = new Float32Array(448 * 448 * 3).fill(128);
  const out: Record<string, number> = {};
  for (const batch of [1, 32]) {
    const tensors = Array.from({ length: batch }, () => tensor);
    tagger.setBatchLimit(batch);
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

interface ModelBench {
  model: Record<string, unknown>;
  bare: BareResult;
  endToEnd: EndToEndResult | null;
  /** endToEnd.postsPerSecond / bare.imagesPerSecond. */
  endToEndOverBare: number | null;
  note?: string;
}

async function benchModel(
  label: string,
  modelDir: string | undefined,
  sizes: { batches: number[]; imagesPerBatch: number; posts: number; minBareSeconds?: number; minE2eSeconds?: number },
  model: Record<string, unknown>,
  threads?: number,
): Promise<ModelBench> {
  const images = await noisyWebps();
  const tagger = await loadBenchTagger(modelDir, threads);
  try {
    const bare = await benchBare(tagger, images, sizes.batches, sizes.imagesPerBatch, label, sizes.minBareSeconds);
    // The tuned run: the pipeline and the model runs at the batch bare inference found fastest.
    tagger.setBatchLimit(bare.bestBatch);
    // Enough posts for about `minE2eSeconds` of inference, so the run's fixed costs (crawl, first claim, pipeline
    // fill, the last write) stay a small part of it on a fast model too.
    const wanted = Math.max(sizes.posts, Math.ceil(bare.imagesPerSecond * (sizes.minE2eSeconds ?? 0)));
    const posts = Math.ceil(wanted / bare.bestBatch) * bare.bestBatch;
    const endToEnd = await benchEndToEnd(tagger, { posts, images, batchSize: bare.bestBatch, label });
    return {
      model: { ...model, name: tagger.model.name, labels: tagger.labels.length, provider: tagger.provider },
      bare,
      endToEnd,
      endToEndOverBare: endToEnd ? round(endToEnd.postsPerSecond / bare.imagesPerSecond) : null,
    };
  } finally {
    await tagger.close();
  }
}

const started = performance.now();
const config = loadConfig({});
const result: Record<string, unknown> = {
  machine: { cpus: cpus().length, node: process.version, loadAverageAtStart: loadavg().map(round) },
};
const notes: string[] = [
  'CPU only (DEVICE=cpu); each part uses its own fresh PostgreSQL database. Timings on a shared machine are noisy.',
];
// Default settings first, on a machine not yet warmed by the rest: what a new user sees.
const defaults: Record<string, DefaultRunResult | null> = {};
if (SECTIONS.has('startup')) {
  const run = await benchDefaultRun({
    label: 'bundled test model',
    modelDir: DEFAULT_MODEL_DIR,
    posts: STARTUP_POSTS,
    bareBatches: [1, 8, 32],
    minBareSeconds: 1,
  });
  if (run) defaults['bundled'] = run;
}
if (SECTIONS.has('vit')) {
  const vit = await ensureBenchModel(VIT_MODEL_DIR, { arch: 'vit-b16', log });
  const run = await benchDefaultRun({
    label: 'ViT-B/16@448-like',
    modelDir: vit.dir,
    posts: VIT_POSTS,
    bareBatches: REALISTIC_BATCHES.filter((b) => b <= 4),
    minBareSeconds: MIN_BARE_SECONDS,
    ...(process.env['BENCH_DEVICE'] ? { device: process.env['BENCH_DEVICE'] } : {}),
  });
  if (run)
    defaults['vitB16'] = {
      ...run,
      model: { parameters: vit.parameters, fileMiB: round(vit.fileBytes / 2 ** 20) },
    } as DefaultRunResult;
}
if (SECTIONS.has('convnext')) {
  const convnext = await ensureBenchModel(MODEL_DIR, { log });
  const run = await benchDefaultRun({
    label: 'ConvNeXt-T-like',
    modelDir: convnext.dir,
    posts: CONVNEXT_POSTS,
    bareBatches: REALISTIC_BATCHES,
    minBareSeconds: MIN_BARE_SECONDS,
    ...(process.env['BENCH_DEVICE'] ? { device: process.env['BENCH_DEVICE'] } : {}),
  });
  if (run) defaults['convnextT'] = run;
}
if (Object.keys(defaults).length > 0) result['defaultSettings'] = defaults;

if (SECTIONS.has('preprocess')) result['preprocess'] = await benchPreprocess();
if (SECTIONS.has('inference')) result['inference'] = await benchInference();

let dbStage: DbStageResult[] | null = null;
const realisticInfo =
  SECTIONS.has('realistic') || SECTIONS.has('dbStage') ? await ensureBenchModel(MODEL_DIR, { log }) : null;
if (SECTIONS.has('dbStage') && realisticInfo) {
  const folder = await loadModelFolder(realisticInfo.dir);
  dbStage = await benchDbStage(folder, DB_POSTS, [...new Set([config.batchSize, ...DB_BATCHES])]);
  if (dbStage) result['dbStage'] = dbStage;
}
const dbAtDefaultBatch = dbStage?.find((r) => r.batchSize === config.batchSize) ?? null;

if (SECTIONS.has('endToEnd')) {
  const tagger = await loadBenchTagger(undefined);
  try {
    const e2e = await benchEndToEnd(tagger, {
      posts: POSTS,
      images: await solidWebps(),
      batchSize: config.batchSize,
      label: 'test model (flat colours)',
    });
    if (e2e) {
      result['endToEnd'] = {
        posts: e2e.posts,
        endToEndPostsPerSecond: e2e.postsPerSecond,
        ...(dbAtDefaultBatch ? { dbStagePostsPerSecond: dbAtDefaultBatch.postsPerSecond } : {}),
      };
    }
  } finally {
    await tagger.close();
  }
}

const models: Record<string, ModelBench> = {};
if (SECTIONS.has('test')) {
  models['test'] = await benchModel(
    'test model',
    undefined,
    { batches: TEST_BATCHES, imagesPerBatch: TEST_IMAGES, posts: TEST_POSTS },
    { kind: 'bundled models/test-colors (ReduceMean → MatMul → Sigmoid)' },
  );
}
if (SECTIONS.has('realistic') && realisticInfo) {
  const { dir, parameters, fileBytes, labelSource } = realisticInfo;
  const sizes = {
    batches: REALISTIC_BATCHES,
    imagesPerBatch: REALISTIC_IMAGES,
    posts: REALISTIC_POSTS,
    minBareSeconds: MIN_BARE_SECONDS,
    minE2eSeconds: MIN_E2E_SECONDS,
  };
  const info = {
    kind: 'ConvNeXt-T-like at 448, random weights',
    dir,
    parameters,
    fileMiB: round(fileBytes / 2 ** 20),
    labelSource,
  };
  const note =
    `Bare timed over at least ${REALISTIC_IMAGES} images and ${MIN_BARE_SECONDS} s per batch size, end to end ` +
    `over at least ${REALISTIC_POSTS} posts and about ${MIN_E2E_SECONDS} s of inference (BENCH_REALISTIC_IMAGES, ` +
    'BENCH_MIN_BARE_SECONDS, BENCH_REALISTIC_POSTS, BENCH_MIN_E2E_SECONDS).';
  // Inference on every core (onnxruntime's default): downloading, decoding and the database take CPU from it, as
  // they would not from a GPU.
  models['realistic'] = {
    ...(await benchModel('realistic model', dir, sizes, { ...info, inferenceThreads: 'auto' })),
    note,
  };
  // Inference on one core, the others left to the rest of the pipeline: the CPU stand-in for a GPU, which shows
  // whether the pipeline hides everything else behind inference.
  models['realisticOneInferenceCore'] = {
    ...(await benchModel('realistic model, 1 inference thread', dir, sizes, { ...info, inferenceThreads: 1 }, 1)),
    note,
  };
}
if (Object.keys(models).length > 0) result['models'] = models;

if (SECTIONS.has('memory')) {
  const run = await benchWorkerProcesses(1, MEMORY_POSTS);
  if (run) {
    result['memory'] = {
      posts: run.posts,
      model: 'test',
      peakRssMiB: run.peakRssMiBByWorker[0],
      measured: 'VmHWM of one `booru-tagger run --once` process (the fake booru runs in the bench process)',
      seconds: run.seconds,
      postsPerSecond: run.postsPerSecond,
      everyPostTaggedOnce: run.everyPostTaggedOnce,
    };
  }
}
if (SECTIONS.has('workers')) {
  const one = await benchWorkerProcesses(1, WORKER_POSTS);
  const two = await benchWorkerProcesses(2, WORKER_POSTS);
  if (one && two) {
    result['workers'] = { model: 'test', one, two, speedup: round(two.postsPerSecond / one.postsPerSecond) };
    notes.push(
      'workers: throughput counts process start-up and model load; postsPerSecondExcludingStartup uses the ' +
        "slowest worker's own run time. Two workers share the same cores as the fake booru.",
    );
  }
}

const realistic = models['realistic'];
const oneCore = models['realisticOneInferenceCore'];
const ratioGoal = (run: DefaultRunResult | null | undefined, key: 'steady' | 'wholeRun', goal: number) => ({
  value: run?.ratios[key] ?? null,
  goal,
  met: run?.ratios[key] == null ? null : run.ratios[key] >= goal,
});
result['goals'] = {
  vitDefaultSteadyOverBare: ratioGoal(defaults['vitB16'], 'steady', 0.95),
  vitDefaultWholeRunOverBare: ratioGoal(defaults['vitB16'], 'wholeRun', 0.9),
  convnextDefaultSteadyOverBare: ratioGoal(defaults['convnextT'], 'steady', 0.95),
  convnextDefaultWholeRunOverBare: ratioGoal(defaults['convnextT'], 'wholeRun', 0.9),
  startupFirstPostTaggedMs: {
    value: defaults['bundled']?.run?.firstPostTaggedMs ?? null,
    goal: 3000,
    met: defaults['bundled']?.run?.firstPostTaggedMs == null ? null : defaults['bundled'].run.firstPostTaggedMs < 3000,
  },
  realisticEndToEndOverBare: {
    value: realistic?.endToEndOverBare ?? null,
    goal: 0.9,
    met: realistic?.endToEndOverBare == null ? null : realistic.endToEndOverBare >= 0.9,
    ...(cpus().length <= 2 && realistic
      ? {
          note:
            'inference uses every core here, so decoding and the database compete with it for the CPU; ' +
            'oneInferenceCore below gives inference a core of its own, as a GPU would',
        }
      : {}),
  },
  realisticEndToEndOverBareOneInferenceCore: {
    value: oneCore?.endToEndOverBare ?? null,
    goal: 0.9,
    met: oneCore?.endToEndOverBare == null ? null : oneCore.endToEndOverBare >= 0.9,
  },
  dbStagePostsPerSecond: {
    value: dbAtDefaultBatch?.postsPerSecond ?? null,
    batchSize: config.batchSize,
    goal: 2000,
    met: dbAtDefaultBatch ? dbAtDefaultBatch.postsPerSecond >= 2000 : null,
  },
};
result['notes'] = notes;
result['seconds'] = round((performance.now() - started) / 1000);
(result['machine'] as Record<string, unknown>)['loadAverageAtEnd'] = loadavg().map(round);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
