/**
 * The device batch chosen by measurement, and the thread plan: a fake timing source decides (no clock is read), and
 * the cache under the data dir is reused for the same model, device and threads only.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';
import {
  BATCH_CANDIDATES,
  BatchChoiceCache,
  type BatchChoiceKey,
  chooseBatch,
  decideDeviceBatch,
  describeChoice,
  type MeasurableTagger,
  measureBestBatch,
} from '../../src/tagger/batch-choice.js';
import { cgroupCpuQuota, defaultCpuInferenceThreads, planCpu } from '../../src/tagger/cpu-plan.js';

const logger = createLogger({ level: 'silent' });

/** A timing source from a table of ms per run by batch size; records every call. */
function aFakeTimer(msPerRun: Record<number, number>, options: { oomFrom?: number } = {}) {
  const calls: number[] = [];
  const time = async (batch: number) => {
    calls.push(batch);
    if (options.oomFrom !== undefined && batch >= options.oomFrom) {
      throw new AppError('MODEL_RUNTIME', 'inference failed: CUDA_ERROR_OUT_OF_MEMORY');
    }
    const ms = msPerRun[batch];
    if (ms === undefined) throw new Error(`no timing for batch ${batch}`);
    return ms;
  };
  return { time, calls };
}

/** Milliseconds per run that give `ips` images per second at each batch size. */
function runsAt(ips: Record<number, number>): Record<number, number> {
  return Object.fromEntries(Object.entries(ips).map(([b, rate]) => [Number(b), (Number(b) * 1000) / rate]));
}

const KEY: BatchChoiceKey = {
  model: 'vit',
  version: '1',
  sha256: 'a'.repeat(64),
  runtime: 'onnxruntime-node 1.30.0',
  provider: 'cpu',
  device: 'cpu (Test CPU)',
  threads: 2,
};

describe('measureBestBatch', () => {
  it('should keep batch 1 when larger batches are slower per image (a ViT on a CPU)', async () => {
    const { time, calls } = aFakeTimer(runsAt({ 1: 1.9, 2: 1.6, 4: 1.4, 8: 1.3, 16: 1.2 }));

    const sut = await measureBestBatch(time, { candidates: BATCH_CANDIDATES.cpu, budgetMs: 30_000 });

    expect(sut.batch).toBe(1);
    expect(sut.imagesPerSecond).toBe(1.9);
    // Batch 2 is slower, so nothing larger is tried.
    expect(Object.keys(sut.imagesPerSecondByBatch)).toEqual(['1', '2']);
    expect(calls.every((b) => b <= 2)).toBe(true);
  });

  it('should climb to the batch where a GPU stops gaining', async () => {
    const { time } = aFakeTimer(runsAt({ 1: 100, 2: 190, 4: 360, 8: 650, 16: 900, 32: 920, 64: 910, 128: 800 }));

    const sut = await measureBestBatch(time, { candidates: BATCH_CANDIDATES.cuda, budgetMs: 30_000 });

    // 32 gains under 5% over 16: the smaller batch is kept and the search ends there.
    expect(sut.batch).toBe(16);
    expect(Object.keys(sut.imagesPerSecondByBatch)).toEqual(['1', '2', '4', '8', '16', '32']);
  });

  it('should stop trying larger batches before the budget is spent', async () => {
    // About 10% faster per image with each doubling: batch 16 would take the measurement past 2.8 s.
    const { time, calls } = aFakeTimer({ 1: 100, 2: 180, 4: 330, 8: 600, 16: 1100 });

    const sut = await measureBestBatch(time, { candidates: [1, 2, 4, 8, 16], budgetMs: 2800 });

    expect(sut.batch).toBe(8);
    expect(calls).not.toContain(16);
    expect(sut.spentMs).toBeLessThanOrEqual(2800);
  });

  it('should not try a size whose single run would take over a third of the budget (a ViT-B on a CPU)', async () => {
    const { time, calls } = aFakeTimer({ 1: 530, 2: 1000 });

    const sut = await measureBestBatch(time, { candidates: [1, 2, 4, 8], budgetMs: 3000 });

    // One run, the warm-up, is the whole measurement: nothing else would be tried.
    expect(sut).toMatchObject({ batch: 1, spentMs: 530, stoppedBy: 'budget', imagesPerSecond: 1.89 });
    expect(calls).toEqual([1]);
  });

  it('should keep the last size that fit when a larger one runs out of memory', async () => {
    const { time } = aFakeTimer(runsAt({ 1: 100, 2: 190, 4: 360, 8: 650 }), { oomFrom: 16 });

    const sut = await measureBestBatch(time, { candidates: [1, 2, 4, 8, 16, 32], budgetMs: 30_000 });

    expect(sut).toMatchObject({ batch: 8, stoppedBy: 'out-of-memory' });
  });

  it('should count only the fastest run of a size (a disturbed run does not decide)', async () => {
    let ones = 0;
    // Batch 1: warm-up 10 ms, then 30 ms (disturbed), then 10 ms runs; batch 2 at 18 ms per run (11% faster per image).
    const time = async (batch: number) => (batch === 1 ? (ones++ === 1 ? 30 : 10) : 18);

    const sut = await measureBestBatch(time, { candidates: [1, 2], budgetMs: 10_000, minMsPerSize: 50 });

    expect(sut.imagesPerSecondByBatch['1']).toBe(100);
    expect(sut.batch).toBe(2);
  });
});

describe('chooseBatch', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'batch-choice-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('should measure once, cache the choice, and reuse it for the same model, device and threads', async () => {
    const cache = new BatchChoiceCache(join(dir, 'batch-choice.json'));
    const first = aFakeTimer(runsAt({ 1: 19, 2: 15 }));

    const measured = await chooseBatch({ key: KEY, cache, time: first.time, candidates: [1, 2, 4], logger });
    const second = aFakeTimer(runsAt({ 1: 1, 2: 5 }));
    const reused = await chooseBatch({ key: KEY, cache, time: second.time, candidates: [1, 2, 4], logger });

    expect(measured).toMatchObject({ batch: 1, cached: false });
    expect(reused).toMatchObject({ batch: 1, cached: true, imagesPerSecondByBatch: { '1': 19, '2': 15 } });
    expect(second.calls).toEqual([]);
  });

  it.each([
    { change: 'model file', key: { ...KEY, sha256: 'b'.repeat(64) } },
    { change: 'model version', key: { ...KEY, version: '2' } },
    { change: 'threads', key: { ...KEY, threads: 1 } },
    { change: 'device', key: { ...KEY, provider: 'cuda' as const, device: 'cuda cuda:0' } },
    { change: 'runtime', key: { ...KEY, runtime: 'onnxruntime-node 1.31.0' } },
  ])('should measure again when the $change changes', async ({ key }) => {
    const cache = new BatchChoiceCache(join(dir, 'batch-choice.json'));
    await chooseBatch({
      key: KEY,
      cache,
      time: aFakeTimer(runsAt({ 1: 1.9, 2: 1.5 })).time,
      candidates: [1, 2],
      logger,
    });
    const again = aFakeTimer(runsAt({ 1: 10, 2: 40, 4: 50 }));

    const sut = await chooseBatch({ key, cache, time: again.time, candidates: [1, 2, 4], logger });

    expect(sut).toMatchObject({ batch: 4, cached: false });
    expect(again.calls.length).toBeGreaterThan(0);
    // Both choices are kept: switching back needs no new measurement.
    expect((await cache.read()).map((c) => c.batch).sort()).toEqual([1, 4]);
  });

  it('should measure when the cache file is damaged, and repair it', async () => {
    const path = join(dir, 'batch-choice.json');
    await writeFile(path, '{ not json');
    const cache = new BatchChoiceCache(path);

    const sut = await chooseBatch({
      key: KEY,
      cache,
      time: aFakeTimer(runsAt({ 1: 2, 2: 1 })).time,
      candidates: [1, 2],
      logger,
    });

    expect(sut).toMatchObject({ batch: 1, cached: false });
    expect(JSON.parse(await readFile(path, 'utf8')).choices).toHaveLength(1);
  });
});

describe('decideDeviceBatch', () => {
  function aTagger(overrides: Partial<MeasurableTagger> = {}) {
    const set: number[] = [];
    const tagger: MeasurableTagger = {
      model: { name: KEY.model, version: KEY.version, sha256: KEY.sha256 },
      provider: 'cpu',
      threads: 2,
      fixedBatch: null,
      timeRun: async () => {
        throw new Error('the fake timer is passed instead');
      },
      setBatchLimit: (batch) => set.push(batch),
      ...overrides,
    };
    return { tagger, set };
  }

  it('should let TAGGER_DEVICE_BATCH win without measuring', async () => {
    const { tagger, set } = aTagger();
    const timer = aFakeTimer({});

    const sut = await decideDeviceBatch(tagger, {
      configured: 8,
      cachePath: null,
      device: KEY.device,
      runtime: KEY.runtime,
      logger,
      time: timer.time,
    });

    expect(sut).toMatchObject({ batch: 8, source: 'configured' });
    expect(set).toEqual([8]);
    expect(timer.calls).toEqual([]);
  });

  it('should keep a graph fixed batch', async () => {
    const { tagger, set } = aTagger({ fixedBatch: 1 });

    const sut = await decideDeviceBatch(tagger, {
      configured: 0,
      cachePath: null,
      device: KEY.device,
      runtime: KEY.runtime,
      logger,
    });

    expect(sut).toMatchObject({ batch: 1, source: 'graph' });
    expect(set).toEqual([]);
  });

  it('should set the measured batch and describe it as the log line says', async () => {
    const { tagger, set } = aTagger();

    const sut = await decideDeviceBatch(tagger, {
      configured: 0,
      cachePath: null,
      device: KEY.device,
      runtime: KEY.runtime,
      logger,
      time: aFakeTimer(runsAt({ 1: 19, 2: 16 })).time,
    });

    expect(set).toEqual([1]);
    expect(sut).toMatchObject({ batch: 1, source: 'measured', threads: 2 });
    expect(sut.text).toBe('batch 1 chosen on cpu (2 threads): 19 img/s vs 16 at 2');
  });
});

describe('describeChoice', () => {
  it('should compare the chosen batch with the largest one tried', () => {
    const text = describeChoice({ batch: 1, imagesPerSecondByBatch: { '1': 1.9, '2': 1.5, '8': 1.3 }, key: KEY });

    expect(text).toBe('batch 1 chosen on cpu (2 threads): 1.9 img/s vs 1.3 at 8');
  });

  it('should say when the budget kept larger batches from being tried', () => {
    const text = describeChoice({ batch: 1, imagesPerSecondByBatch: { '1': 1.9 }, key: KEY, stoppedBy: 'budget' });

    expect(text).toBe(
      'batch 1 chosen on cpu (2 threads): 1.9 img/s; larger batches not tried (a run would outlast the measurement budget)',
    );
  });
});

describe('planCpu', () => {
  it.each([
    { cores: 1, threads: 1, decode: 2 },
    { cores: 2, threads: 2, decode: 2 },
    { cores: 4, threads: 4, decode: 2 },
    { cores: 8, threads: 7, decode: 2 },
    { cores: 32, threads: 28, decode: 4 },
  ])(
    'should give inference $threads threads and decoding $decode on $cores CPU cores',
    ({ cores, threads, decode }) => {
      expect(planCpu({ provider: 'cpu', cores })).toMatchObject({
        inferenceThreads: threads,
        decodeConcurrency: decode,
        vipsThreadsPerDecode: 1,
      });
      expect(defaultCpuInferenceThreads(cores)).toBe(threads);
    },
  );

  it('should leave every core to decoding beside a GPU', () => {
    expect(planCpu({ provider: 'cuda', cores: 16 })).toMatchObject({ inferenceThreads: 1, decodeConcurrency: 16 });
  });

  it('should let explicit threads and decode concurrency win', () => {
    expect(planCpu({ provider: 'cpu', cores: 8, threads: 4 })).toMatchObject({
      inferenceThreads: 4,
      decodeConcurrency: 4,
    });
    expect(planCpu({ provider: 'cpu', cores: 8, decodeConcurrency: 3 })).toMatchObject({ decodeConcurrency: 3 });
  });
});

describe('cgroupCpuQuota', () => {
  const files = (entries: Partial<Record<string, string>>) => (path: string) => entries[path] ?? null;

  it.each([
    { name: 'a cgroup v2 quota', entries: { '/sys/fs/cgroup/cpu.max': '150000 100000\n' }, quota: 1.5 },
    { name: 'no cgroup v2 limit', entries: { '/sys/fs/cgroup/cpu.max': 'max 100000\n' }, quota: null },
    {
      name: 'a cgroup v1 quota',
      entries: { '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' },
      quota: 2,
    },
    { name: 'no cgroup v1 limit', entries: { '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1' }, quota: null },
    { name: 'no cgroup files', entries: {}, quota: null },
  ])('should read $name', ({ entries, quota }) => {
    expect(cgroupCpuQuota(files(entries))).toBe(quota);
  });
});
