/**
 * `npm run bench`, default settings: what a new user sees. For one model folder:
 *
 * 1. bare inference: the model in a raw onnxruntime-node session of this process, on the CPU with one onnxruntime
 *    thread per usable core (the baseline: "intraOpNumThreads = cores, tensors ready, tight loop"), timed per
 *    batch size for `minBareSeconds` each; the best counts;
 * 2. `booru-tagger run --once --json` as a child process with no tuning variable at all (every TAGGER_* removed from
 *    its environment; only the database, the booru, the model folder and a fresh data dir are given), over `posts`
 *    posts of a fresh fake Danbooru and a fresh database: the first run on a fresh data folder, so the batch
 *    measurement and the migrations are inside the clock;
 * 3. bare inference again, so that a machine that got busier or quieter meanwhile shows.
 *
 * Ratios use the mean of the two bare figures: `steady` = posts/s between the first and the last post tagged (from
 * the run's own JSON) over bare; `wholeRun` = posts over spawn → exit (Node start, migrations, model load, batch
 * measurement, crawl, everything) over bare. `run.cpu` splits the CPU of the steady window between inference and
 * everything else (see `cpuSplit`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { pino } from 'pino';
import { OnnxTagger } from '../src/tagger/onnx-tagger.js';
import { usableCores } from '../src/tagger/cpu-plan.js';
import type { Device } from '../src/tagger/tagger.js';
import type { BareResult } from './bench-models.js';
import { defaultRunImages, log, mib, round, startFakeBooru, withFreshDatabase } from './bench-support.js';
import { runWorker, type WorkerOutcome } from './bench-workers.js';

const logger = pino({ level: 'silent' });

export interface DefaultRunResult {
  label: string;
  posts: number;
  /** What the posts' images are (real illustrations, or synthetic noise without ../shared). */
  images: string;
  bare: { before: BareResult; after: BareResult; imagesPerSecond: number; threads: number };
  run: {
    exitCode: number | null;
    tagged: number;
    wallSeconds: number;
    wholeRunPostsPerSecond: number;
    steadyPostsPerSecond: number | null;
    firstPostTaggedMs: number | null;
    inference: unknown;
    msPerImage: unknown;
    peakRssMiB: number;
    database: string;
    cpu: CpuSplit | null;
  } | null;
  ratios: { steady: number | null; wholeRun: number | null };
}

/**
 * Where the CPU went between the first and the last post tagged (Linux /proc, sampled every 0.5 s), in cores (CPU
 * seconds per second): the worker's `inference` threads (its busiest threads, as many as it has inference threads:
 * onnxruntime's), the rest of the worker (main thread, decoders, libvips, V8's helpers), the PostgreSQL backends of
 * the run's database, the bench process (the fake booru, the sampling), and the rest of the machine's cores (idle, or
 * other processes: `elsewhere`). `otherMsPerPost` is the CPU that all but inference cost per post tagged. Inference
 * runs as many CPU-ms per image in the pipeline as bare, so where it fills every core the steady ratio is about
 * `inference / cores`: this is the split behind that ratio.
 */
interface CpuSplit {
  windowSeconds: number;
  cores: { inference: number; workerOther: number; postgres: number; benchProcess: number; elsewhere: number };
  otherMsPerPost: number;
}

function cpuSplit(outcome: WorkerOutcome, inferenceThreads: number, machineCores: number): CpuSplit | null {
  const summary = outcome.summary as {
    tagged?: number;
    timings?: { firstPostTaggedMs?: number | null; steadyPostsPerSecond?: number | null };
  } | null;
  const first = summary?.timings?.firstPostTaggedMs;
  const steady = summary?.timings?.steadyPostsPerSecond;
  const tagged = summary?.tagged ?? 0;
  if (first == null || !steady || tagged < 2) return null;
  const from = outcome.spawnedAt + first;
  const window = outcome.cpu.between(from, from + ((tagged - 1) / steady) * 1000);
  if (window === null) return null;
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const threads = [...window.used].filter(([key]) => key.startsWith('t')).map(([, seconds]) => seconds);
  threads.sort((a, b) => b - a);
  const seconds = {
    inference: sum(threads.slice(0, inferenceThreads)),
    workerOther: sum(threads.slice(inferenceThreads)),
    postgres: sum([...window.used].filter(([key]) => key.startsWith('p')).map(([, used]) => used)),
    benchProcess: window.used.get('bench') ?? 0,
  };
  const used = sum(Object.values(seconds));
  const cores = (value: number) => round(value / window.seconds);
  return {
    windowSeconds: round(window.seconds),
    cores: {
      inference: cores(seconds.inference),
      workerOther: cores(seconds.workerOther),
      postgres: cores(seconds.postgres),
      benchProcess: cores(seconds.benchProcess),
      elsewhere: cores(Math.max(0, machineCores * window.seconds - used)),
    },
    otherMsPerPost: round(((used - seconds.inference) * 1000) / (window.seconds * steady)),
  };
}

/**
 * Bare inference as the issue defines it: the same model.onnx in an onnxruntime-node session of this thread (no
 * booru-tagger code between the loop and `run`), tensors ready (made by the real preprocessing, outside the clock),
 * a tight loop; on the CPU one intra-op thread per usable core, graph optimisation `all`. Per batch size one warm-up
 * run, then runs until `minSeconds` have passed; the best batch counts.
 */
async function bare(
  modelDir: string,
  images: readonly Buffer[],
  batches: readonly number[],
  label: string,
  minSeconds: number,
  device: Device,
): Promise<{ result: BareResult; threads: number }> {
  const gpu = device !== 'cpu';
  // On the CPU every usable core, as the baseline; on a GPU the provider's own default (one host thread).
  const threads = gpu ? 1 : usableCores();
  const tagger = await OnnxTagger.load(modelDir, { device, ...(gpu ? {} : { threads }), logger });
  const tensors = await Promise.all(images.map((image) => tagger.preprocess(image)));
  const { recipe, provider } = tagger;
  await tagger.close();
  const session = await ort.InferenceSession.create(join(modelDir, 'model.onnx'), {
    executionProviders: [provider === 'cuda' ? { name: 'cuda' } : 'cpu'],
    graphOptimizationLevel: 'all',
    interOpNumThreads: 1,
    intraOpNumThreads: threads,
  });
  try {
    const inputName = recipe.inputName ?? session.inputNames[0]!;
    const length = tensors[0]!.length;
    const byBatch: Record<string, number> = {};
    let best = { batch: batches[0] ?? 1, ips: 0 };
    for (const batch of batches) {
      const data = new Float32Array(batch * length);
      for (let i = 0; i < batch; i++) data.set(tensors[i % tensors.length]!, i * length);
      const dims =
        recipe.layout === 'NHWC'
          ? [batch, recipe.inputSize, recipe.inputSize, 3]
          : [batch, 3, recipe.inputSize, recipe.inputSize];
      const feeds = { [inputName]: new ort.Tensor('float32', data, dims) };
      await session.run(feeds);
      let rounds = 0;
      const started = performance.now();
      while (rounds < 2 || performance.now() - started < minSeconds * 1000) {
        await session.run(feeds);
        rounds++;
      }
      const ips = (rounds * batch * 1000) / (performance.now() - started);
      byBatch[String(batch)] = round(ips);
      if (ips > best.ips) best = { batch, ips };
      log(`${label}, batch ${batch}: ${round(ips)} images/s (${rounds * batch} images, raw onnxruntime session)`);
    }
    const result: BareResult = {
      imagesPerSecondByBatch: byBatch,
      bestBatch: best.batch,
      imagesPerSecond: round(best.ips),
      msPerImage: round(1000 / best.ips),
    };
    return { result, threads };
  } finally {
    await session.release();
  }
}

/** The child's environment: this one without any setting of ours, plus what the run needs. */
function untunedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(TAGGER_|BOORU_|MODEL_DIR$|DATABASE_URL$|DEVICE$|PORT$|EVALUATE_OPEN$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

export async function benchDefaultRun(options: {
  label: string;
  modelDir: string;
  posts: number;
  bareBatches: readonly number[];
  minBareSeconds: number;
  /** DEVICE for the run (unset: the default, auto). */
  device?: string;
}): Promise<DefaultRunResult | null> {
  const { kind: imagesKind, images } = await defaultRunImages();
  log(`${options.label}: images: ${imagesKind}`);
  const { label } = options;
  const device = (options.device ?? 'cpu') as Device;
  const before = await bare(
    options.modelDir,
    images,
    options.bareBatches,
    `${label} bare`,
    options.minBareSeconds,
    device,
  );
  const dataDir = await mkdtemp(join(tmpdir(), 'booru-tagger-bench-data-'));
  try {
    const runOn = async (databaseUrl: string | null) => {
      const { started } = await startFakeBooru(options.posts, images);
      try {
        log(`${label}: booru-tagger run --once, default settings, fresh data dir, ${options.posts} posts`);
        const outcome = await runWorker(
          untunedEnv({
            ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
            BOORU_URL: started.url,
            MODEL_DIR: options.modelDir,
            TAGGER_DATA_DIR: dataDir,
            ...(options.device ? { DEVICE: options.device } : {}),
          }),
          // The run's PostgreSQL backends show the database's name in their command line.
          databaseUrl ? `${new URL(databaseUrl).pathname.slice(1)} ` : null,
        );
        if (outcome.exitCode !== 0) log(`${label}: run exited ${outcome.exitCode}: ${outcome.stderrTail}`);
        const summary = (outcome.summary ?? {}) as {
          tagged?: number;
          inference?: unknown;
          timings?: { msPerImage?: unknown; firstPostTaggedMs?: number | null; steadyPostsPerSecond?: number | null };
        };
        const tagged = summary.tagged ?? 0;
        return {
          exitCode: outcome.exitCode,
          tagged,
          wallSeconds: round(outcome.wallMs / 1000),
          wholeRunPostsPerSecond: round((tagged * 1000) / outcome.wallMs),
          steadyPostsPerSecond: summary.timings?.steadyPostsPerSecond ?? null,
          firstPostTaggedMs: summary.timings?.firstPostTaggedMs ?? null,
          inference: summary.inference ?? null,
          msPerImage: summary.timings?.msPerImage ?? null,
          peakRssMiB: mib(outcome.peakRssBytes),
          cpu: cpuSplit(outcome, (summary.inference as { threads?: number } | null)?.threads ?? 1, usableCores()),
          database: databaseUrl ? 'PostgreSQL' : 'embedded PGlite (PostgreSQL unreachable)',
        };
      } finally {
        await started.close();
      }
    };
    // Without PostgreSQL (a bare GPU machine), the run uses the embedded database in its fresh data dir.
    const run = (await withFreshDatabase(runOn)) ?? (await runOn(null));
    const after = await bare(
      options.modelDir,
      images,
      [before.result.bestBatch],
      `${label} bare again`,
      options.minBareSeconds,
      device,
    );
    const bareIps = (before.result.imagesPerSecond + after.result.imagesPerSecond) / 2;
    const ratio = (value: number | null | undefined) =>
      value == null || bareIps === 0 ? null : round(value / bareIps);
    const result: DefaultRunResult = {
      label,
      posts: options.posts,
      images: imagesKind,
      bare: { before: before.result, after: after.result, imagesPerSecond: round(bareIps), threads: before.threads },
      run,
      ratios: { steady: ratio(run?.steadyPostsPerSecond), wholeRun: ratio(run?.wholeRunPostsPerSecond) },
    };
    log(
      `${label}: bare ${result.bare.imagesPerSecond} img/s; default run steady ${run?.steadyPostsPerSecond} posts/s ` +
        `(${result.ratios.steady}), whole run ${run?.wholeRunPostsPerSecond} (${result.ratios.wholeRun}), first post ` +
        `after ${run?.firstPostTaggedMs} ms`,
    );
    const cpu = run?.cpu;
    if (cpu) {
      log(
        `${label}: CPU between the first and last post tagged (${cpu.windowSeconds} s), in cores: inference ` +
          `${cpu.cores.inference}, rest of the worker ${cpu.cores.workerOther}, PostgreSQL ${cpu.cores.postgres}, ` +
          `bench process (fake booru) ${cpu.cores.benchProcess}, idle or other processes ${cpu.cores.elsewhere}: ${cpu.otherMsPerPost} ms of ` +
          'non-inference CPU per post',
      );
    }
    return result;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
