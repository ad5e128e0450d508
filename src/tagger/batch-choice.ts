/**
 * The device batch (images per model run) chosen by measurement instead of a constant: a batch of 8 slows a ViT on a
 * CPU by about 30% where a GPU wants 32 or more. At start-up the model runs synthetic tensors at batch 1, 2, 4, …
 * for a few seconds at most, the fastest per image wins (a smaller batch unless a larger one is clearly faster), and
 * the choice is cached under the data dir, keyed by the model (sha256, version), the runtime, the device and the
 * threads, so later starts skip the measurement; any change of these measures again.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { ExecutionProvider } from './tagger.js';

/** True for the errors a GPU (or the CPU allocator) gives when a batch does not fit in memory. */
export function isOutOfMemory(error: unknown): boolean {
  const message =
    error instanceof Error
      ? `${error.message} ${String((error.cause as Error | undefined)?.message ?? '')}`
      : String(error);
  return /out of memory|CUDA_ERROR_OUT_OF_MEMORY|cudaErrorMemoryAllocation|CUBLAS_STATUS_ALLOC_FAILED|Failed to allocate memory|bad_alloc/i.test(
    message,
  );
}

/** Times one model run of `batch` images, in ms. The real one runs synthetic tensors; tests pass a fake. */
export type RunTimer = (batch: number) => Promise<number>;

export interface BatchMeasurement {
  batch: number;
  imagesPerSecond: number;
  /** images/s at each batch size tried, by size. */
  imagesPerSecondByBatch: Record<string, number>;
  /** Model time the measurement took (warm-up included), ms. */
  spentMs: number;
  /** Why no larger batch was tried: it gained too little, the budget, an out-of-memory error, or none was left. */
  stoppedBy?: 'no-gain' | 'budget' | 'out-of-memory' | 'last-candidate';
}

export interface MeasureOptions {
  /** Batch sizes to try, ascending. */
  candidates: readonly number[];
  /** Stop trying larger batches once this much model time is spent or would be, ms. (Default: 3000.) */
  budgetMs?: number;
  /** A larger batch must beat the best so far by this fraction to be chosen. (Default: 0.05.) */
  minGain?: number;
  /** Time each size over at least this much model time (several runs of a fast model; the best run counts), ms. (Default: 60.) */
  minMsPerSize?: number;
}

/**
 * Tries `candidates` in ascending order with `time` and returns the batch with the most images per second. Stops at
 * the first size that is not faster per image than the best so far by `minGain` (throughput only rises with the
 * batch until the device is full), at the budget, or at an out-of-memory error (the size before it is kept). The first run is a
 * warm-up and is not counted; each size keeps its fastest run, which is the least disturbed by other processes.
 */
export async function measureBestBatch(time: RunTimer, options: MeasureOptions): Promise<BatchMeasurement> {
  const candidates = [...new Set(options.candidates)].filter((b) => b >= 1).sort((a, b) => a - b);
  if (candidates.length === 0) throw new AppError('USAGE', 'no batch size to measure');
  const budgetMs = options.budgetMs ?? 3000;
  const minGain = options.minGain ?? 0.05;
  const minMsPerSize = options.minMsPerSize ?? 60;
  const byBatch: Record<string, number> = {};
  let spentMs = await time(candidates[0]!);
  const first = candidates[0]!;
  const second = candidates[1];
  if (second !== undefined && ((spentMs * second) / first) * 3 > budgetMs) {
    // So slow that no larger size will be tried: the warm-up run is the measurement (slightly pessimistic, as it pays
    // for the first allocations), and the start-up does not spend another run on it.
    const ips = round2((first * 1000) / Math.max(spentMs, 1e-6));
    return {
      batch: first,
      imagesPerSecond: ips,
      imagesPerSecondByBatch: { [String(first)]: ips },
      spentMs: Math.round(spentMs),
      stoppedBy: 'budget',
    };
  }
  let best: { batch: number; ips: number } | null = null;
  let stoppedBy: BatchMeasurement['stoppedBy'] = 'last-candidate';
  for (const batch of candidates) {
    // The first run at a size pays for its allocations: when a run is cheap, it is done untimed first.
    const expected = best === null ? spentMs : (batch * 1000) / best.ips;
    // A size whose one run would take over a third of the budget is not tried: a model that slow (a ViT-B on a CPU,
    // about 0.5 s an image) keeps its device busy at the batch before, and the start-up is not spent measuring it.
    if (best !== null && (spentMs + expected > budgetMs || expected * 3 > budgetMs)) {
      stoppedBy = 'budget';
      break;
    }
    let fastest = Number.POSITIVE_INFINITY;
    try {
      if (best !== null && spentMs + 2 * expected <= budgetMs && expected * 10 <= budgetMs)
        spentMs += await time(batch);
      let spentOnSize = 0;
      do {
        const ms = await time(batch);
        spentOnSize += ms;
        fastest = Math.min(fastest, ms);
      } while (spentOnSize < minMsPerSize && spentMs + spentOnSize + fastest <= budgetMs);
      spentMs += spentOnSize;
    } catch (thrown) {
      if (best === null || !isOutOfMemory(thrown)) throw thrown;
      stoppedBy = 'out-of-memory';
      break;
    }
    const ips = (batch * 1000) / Math.max(fastest, 1e-6);
    byBatch[String(batch)] = round2(ips);
    // A doubling that gains less than `minGain` ends the search: past it the device is full, and the smaller batch
    // costs less latency and memory.
    if (best === null || ips > best.ips * (1 + minGain)) best = { batch, ips };
    else {
      stoppedBy = 'no-gain';
      break;
    }
  }
  return {
    batch: best!.batch,
    imagesPerSecond: round2(best!.ips),
    imagesPerSecondByBatch: byBatch,
    spentMs: Math.round(spentMs),
    stoppedBy,
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** What makes a measurement valid: the same model file, runtime, device and threads. */
export interface BatchChoiceKey {
  model: string;
  version: string;
  sha256: string;
  /** e.g. onnxruntime-node 1.30.0. */
  runtime: string;
  provider: ExecutionProvider;
  /** The device asked for (cpu, cuda:0…) and what it is (CPU model name), so a moved data dir measures again. */
  device: string;
  threads: number;
}

export interface BatchChoice extends BatchMeasurement {
  key: BatchChoiceKey;
  measuredAt: string;
}

/** Default batch sizes tried: a CPU rarely gains past 8; a GPU may want 64 or more. */
export const BATCH_CANDIDATES: Readonly<Record<ExecutionProvider, readonly number[]>> = {
  cpu: [1, 2, 4, 8, 16],
  cuda: [1, 2, 4, 8, 16, 32, 64, 128],
  webgpu: [1, 2, 4, 8, 16, 32, 64],
};

const MAX_ENTRIES = 32;

function keyString(key: BatchChoiceKey): string {
  return JSON.stringify([key.sha256, key.version, key.runtime, key.provider, key.device, key.threads]);
}

/** The cache file (`<data dir>/batch-choice.json`): one entry per key, newest last, a few dozen at most. */
export class BatchChoiceCache {
  constructor(readonly path: string) {}

  async read(): Promise<BatchChoice[]> {
    if (!existsSync(this.path)) return [];
    try {
      const parsed = JSON.parse(await readFile(this.path, 'utf8')) as { choices?: BatchChoice[] };
      return Array.isArray(parsed.choices) ? parsed.choices.filter((c) => c && typeof c.batch === 'number') : [];
    } catch {
      // A damaged cache only costs a measurement.
      return [];
    }
  }

  async find(key: BatchChoiceKey): Promise<BatchChoice | null> {
    const wanted = keyString(key);
    return (await this.read()).find((c) => c.key && keyString(c.key) === wanted) ?? null;
  }

  async save(choice: BatchChoice): Promise<void> {
    const wanted = keyString(choice.key);
    const kept = (await this.read()).filter((c) => keyString(c.key) !== wanted);
    const choices = [...kept, choice].slice(-MAX_ENTRIES);
    await mkdir(dirname(this.path), { recursive: true });
    // Written aside and renamed, so two workers starting at once never leave half a file.
    const partial = `${this.path}.${process.pid}.partial`;
    await writeFile(partial, `${JSON.stringify({ choices }, null, 2)}\n`);
    await rename(partial, this.path);
  }
}

/** `batch 1 chosen on cpu (2 threads): 9.6 img/s vs 8.9 at 2`: the log line and the status text. */
export function describeChoice(
  choice: Pick<BatchChoice, 'batch' | 'imagesPerSecondByBatch' | 'key' | 'stoppedBy'>,
): string {
  const rates = Object.entries(choice.imagesPerSecondByBatch).map(([b, ips]) => ({ b: Number(b), ips }));
  const chosen = rates.find((r) => r.b === choice.batch);
  const others = rates.filter((r) => r.b !== choice.batch);
  const worst = others.reduce<(typeof rates)[number] | null>((w, r) => (w === null || r.ips < w.ips ? r : w), null);
  const largest = others.reduce<(typeof rates)[number] | null>((l, r) => (l === null || r.b > l.b ? r : l), null);
  const versus = largest ?? worst;
  return (
    `batch ${choice.batch} chosen on ${choice.key.provider} (${choice.key.threads} thread${choice.key.threads === 1 ? '' : 's'})` +
    (chosen ? `: ${chosen.ips} img/s` : '') +
    (versus ? ` vs ${versus.ips} at ${versus.b}` : '') +
    (choice.stoppedBy === 'budget' ? '; larger batches not tried (a run would outlast the measurement budget)' : '') +
    (choice.stoppedBy === 'out-of-memory' ? '; the next batch size ran out of memory' : '')
  );
}

export interface ChooseBatchOptions {
  key: BatchChoiceKey;
  cache: BatchChoiceCache | null;
  time: RunTimer;
  candidates: readonly number[];
  budgetMs?: number;
  logger: Logger;
}

/**
 * The cached choice for `key`, else a fresh measurement (then cached). A cache that cannot be written is logged and
 * the choice used all the same.
 */
export async function chooseBatch(options: ChooseBatchOptions): Promise<BatchChoice & { cached: boolean }> {
  const cached = await options.cache?.find(options.key);
  if (cached) {
    options.logger.info(
      { batch: cached.batch, imagesPerSecondByBatch: cached.imagesPerSecondByBatch, measuredAt: cached.measuredAt },
      `${describeChoice(cached)} (measured ${cached.measuredAt})`,
    );
    return { ...cached, cached: true };
  }
  const measured = await measureBestBatch(options.time, {
    candidates: options.candidates,
    ...(options.budgetMs === undefined ? {} : { budgetMs: options.budgetMs }),
  });
  const choice: BatchChoice = { ...measured, key: options.key, measuredAt: new Date().toISOString() };
  options.logger.info(
    { batch: choice.batch, imagesPerSecondByBatch: choice.imagesPerSecondByBatch, spentMs: choice.spentMs },
    describeChoice(choice),
  );
  try {
    await options.cache?.save(choice);
  } catch (thrown) {
    options.logger.warn({ err: coerceError(thrown), path: options.cache?.path }, 'batch choice not cached');
  }
  return { ...choice, cached: false };
}

/** How the device batch in use was decided, for logs, `run --once --json` and `status`. */
export interface BatchDecision {
  batch: number;
  /** measured now, cached from an earlier measurement, configured (TAGGER_DEVICE_BATCH), or fixed by the graph. */
  source: 'measured' | 'cached' | 'configured' | 'graph';
  threads: number;
  provider: ExecutionProvider;
  imagesPerSecondByBatch?: Record<string, number>;
  /** One line: `batch 1 chosen on cpu (2 threads): 9.6 img/s vs 8.9 at 2`. */
  text: string;
}

/** The tagger surface the choice needs (OnnxTagger). */
export interface MeasurableTagger {
  readonly model: { name: string; version: string; sha256: string };
  readonly provider: ExecutionProvider;
  readonly threads: number;
  readonly fixedBatch: number | null;
  timeRun(batch: number): Promise<number>;
  setBatchLimit(batch: number): void;
}

/**
 * Decides the device batch of a freshly loaded tagger: the configured one (`configured` > 0), the graph's fixed one,
 * or the measured one (cached in `cachePath`, keyed by model, runtime, device and threads).
 */
export async function decideDeviceBatch(
  tagger: MeasurableTagger,
  options: {
    configured: number;
    cachePath: string | null;
    /** The device as configured plus what it is, e.g. `cpu (Intel Xeon …)` or `cuda:0`. */
    device: string;
    runtime: string;
    logger: Logger;
    time?: RunTimer;
    budgetMs?: number;
  },
): Promise<BatchDecision> {
  const base = { threads: tagger.threads, provider: tagger.provider };
  if (tagger.fixedBatch !== null) {
    return {
      ...base,
      batch: tagger.fixedBatch,
      source: 'graph',
      text: `batch ${tagger.fixedBatch} fixed by the graph`,
    };
  }
  if (options.configured > 0) {
    tagger.setBatchLimit(options.configured);
    return {
      ...base,
      batch: options.configured,
      source: 'configured',
      text: `batch ${options.configured} set by TAGGER_DEVICE_BATCH`,
    };
  }
  const choice = await chooseBatch({
    key: {
      model: tagger.model.name,
      version: tagger.model.version,
      sha256: tagger.model.sha256,
      runtime: options.runtime,
      provider: tagger.provider,
      device: options.device,
      threads: tagger.threads,
    },
    cache: options.cachePath === null ? null : new BatchChoiceCache(options.cachePath),
    time: options.time ?? ((batch) => tagger.timeRun(batch)),
    candidates: BATCH_CANDIDATES[tagger.provider],
    ...(options.budgetMs === undefined ? {} : { budgetMs: options.budgetMs }),
    logger: options.logger,
  });
  tagger.setBatchLimit(choice.batch);
  return {
    ...base,
    batch: choice.batch,
    source: choice.cached ? 'cached' : 'measured',
    imagesPerSecondByBatch: choice.imagesPerSecondByBatch,
    text: describeChoice(choice),
  };
}
