/**
 * How a worker shares the cores it may use between inference and decoding, by default. The rule:
 *
 * - **CPU inference**: onnxruntime gets `cores − ⌊cores / 8⌋` intra-op threads (2 → 2, 4 → 4, 8 → 7, 16 → 14), and
 *   decoding the cores left, at least two images at a time: the decode queue is bounded, so decoders sit idle while
 *   the model is the slower stage and take no more CPU per image whatever their number, while a fast model (the
 *   bundled one) is not held to a single decoding core. Preparing a 720-pixel WebP sample costs about 3–10% of the CPU
 *   time of one image's inference on a real tagger (ConvNeXt-T at 448: ~25 of ~220 core-ms on a fast core with sharp's
 *   loader, ~25 of ~850 on a slow 2-core VM with `webp-decoder.ts`; ViT-B/16 at 448: ~25 of ~1,000), so it needs about
 *   an eighth of the cores; below 8 cores a whole core taken from inference costs far more than decoding takes from
 *   it (on 2 cores, one inference thread runs at 0.53 of two).
 * - **GPU inference** (CUDA, WebGPU): the GPU does the work; onnxruntime keeps one CPU thread for the few operators
 *   it runs on the host, and decoding gets every core.
 * - Each decode uses one libvips thread (`sharp.concurrency(1)`): images are decoded side by side instead, so the
 *   number of cores decoding is exactly the decode concurrency and never spills onto the inference threads.
 *
 * `cores` is {@link usableCores}: `os.availableParallelism()` (the CPUs this process's affinity mask allows), capped
 * by a cgroup CPU quota (a container's `--cpus`), which the libuv of Node 20 does not read itself.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import type { ExecutionProvider } from './tagger.js';

export interface CpuPlan {
  /** The cores this process may use. */
  cores: number;
  /** onnxruntime intra-op threads. */
  inferenceThreads: number;
  /** Images decoded at once. */
  decodeConcurrency: number;
  /** libvips threads per decode. */
  vipsThreadsPerDecode: number;
}

/** The default thread counts for `provider` on `cores` cores; explicit settings (non-zero) win. */
export function planCpu(options: {
  provider: ExecutionProvider;
  cores?: number;
  /** TAGGER_THREADS; 0 or undefined = by the rule. */
  threads?: number;
  /** TAGGER_DECODE_CONCURRENCY; 0 or undefined = by the rule. */
  decodeConcurrency?: number;
}): CpuPlan {
  const cores = Math.max(1, options.cores ?? usableCores());
  const gpu = options.provider !== 'cpu';
  const inferenceThreads = options.threads || (gpu ? 1 : defaultCpuInferenceThreads(cores));
  const decodeConcurrency = options.decodeConcurrency || (gpu ? cores : Math.max(2, cores - inferenceThreads));
  return { cores, inferenceThreads, decodeConcurrency, vipsThreadsPerDecode: 1 };
}

/** `cores − ⌊cores / 8⌋`, at least 1. */
export function defaultCpuInferenceThreads(cores: number): number {
  return Math.max(1, cores - Math.floor(cores / 8));
}

/**
 * The cores this process may use: the affinity mask's count (`os.availableParallelism()`), capped by the cgroup CPU
 * quota rounded up (cgroup v2 `cpu.max`, else v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`).
 */
export function usableCores(readText: (path: string) => string | null = readIfPresent): number {
  const affinity = availableParallelism();
  const quota = cgroupCpuQuota(readText);
  return quota === null ? affinity : Math.max(1, Math.min(affinity, Math.ceil(quota)));
}

/** The cgroup CPU quota in CPUs (e.g. 1.5), or null when there is none. */
export function cgroupCpuQuota(readText: (path: string) => string | null = readIfPresent): number | null {
  const v2 = readText('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2 && v2[0] !== undefined && v2[0] !== 'max') {
    const [quota, period] = [Number(v2[0]), Number(v2[1] ?? 100_000)];
    if (quota > 0 && period > 0) return quota / period;
  }
  const quota = Number(readText('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim());
  const period = Number(readText('/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim());
  return quota > 0 && period > 0 ? quota / period : null;
}

function readIfPresent(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * One libvips thread per decode (`sharp.concurrency(1)`, process-wide): the worker decodes images side by side
 * instead, so the cores decoding are exactly the decode concurrency and never the inference threads' cores.
 */
export function useOneVipsThreadPerDecode(): void {
  sharp.concurrency(1);
}
