/**
 * {@link Tagger} over an onnxruntime-node session: one session per model, batched runs, and start-up checks that the
 * folder, the recipe and the graph agree (input layout and size, output width = vocabulary size).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import type { ModelLabel, ScoreVector } from '../core/types.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { loadModelFolder, type ModelFolder } from './model-folder.js';
import { type BatchDecision, isOutOfMemory } from './batch-choice.js';
import { planCpu } from './cpu-plan.js';
import { DEFAULT_MAX_PIXELS, letterboxImage, pixelsToTensor } from './preprocess.js';
import { type PreprocessRecipe, tensorLength } from './recipe.js';
import {
  type Device,
  type ExecutionProvider,
  type PreprocessTiming,
  predictImagesWith,
  type Tagger,
  type TaggerModelInfo,
} from './tagger.js';

export interface OnnxTaggerOptions {
  /** Where to run. `cuda[:N]`/`webgpu` fail with MODEL_RUNTIME when unavailable; `auto` tries CUDA, then the CPU. */
  device: Device;
  /**
   * Most images per model run; bigger batches are split, and a GPU out-of-memory halves it for the rest of the
   * session. (Default: {@link DEFAULT_MAX_BATCH} for the provider in use)
   */
  maxBatch?: number;
  /** onnxruntime intra-op threads. (Default: by the provider in use, see `planCpu` in cpu-plan.ts) */
  threads?: number;
  /** The cores this process may use, for the default threads. (Default: `usableCores()`) */
  cores?: number;
  /** Images above this many pixels are refused with MEDIA_TOO_LARGE. (Default: 64,000,000) */
  maxPixels?: number;
  /** A decode taking longer fails with MEDIA_TOO_LARGE, in seconds. (Default: 30) */
  decodeTimeoutSeconds?: number;
  logger: Logger;
}

type DeviceKind = 'auto' | 'cpu' | 'cuda' | 'webgpu';

// What each device asks onnxruntime for, in order. WebGPU is only tried when asked for by name: it is unmeasured on
// our GPUs, and a software Vulkan adapter could "succeed" and be slower than the CPU.
const PROVIDER_ATTEMPTS: Record<DeviceKind, ExecutionProvider[]> = {
  auto: ['cuda', 'cpu'],
  cpu: ['cpu'],
  cuda: ['cuda'],
  webgpu: ['webgpu'],
};

/**
 * Images per model run by provider when not configured: on the CPU a bigger batch buys little and holds more memory;
 * on a GPU a batch of 32 at 448² is about 77 MB of input and fits any card that fits a WD v3 model.
 */
export const DEFAULT_MAX_BATCH: Readonly<Record<ExecutionProvider, number>> = { cpu: 8, cuda: 32, webgpu: 16 };

/** `cuda:1` → { kind: 'cuda', deviceId: 1 }; throws USAGE for anything that is not a {@link Device}. */
export function parseDevice(device: string): { kind: DeviceKind; deviceId: number } {
  const match = /^(auto|cpu|cuda|webgpu)(?::(\d{1,2}))?$/.exec(device);
  if (match === null || (match[2] !== undefined && match[1] !== 'cuda')) {
    throw new AppError('USAGE', `device "${device}" is not one of auto, cpu, cuda, cuda:N, webgpu`);
  }
  return { kind: match[1] as DeviceKind, deviceId: match[2] === undefined ? 0 : Number(match[2]) };
}

/**
 * Runs `items` through `run` in slices of at most `chunk`. When a slice fails for lack of memory, the slice size is
 * halved and the slice retried (down to 1, or never when `resizable` is false: a fixed-batch graph); `onShrink`
 * hears each halving. Returns the results in order and the slice size that worked last.
 */
export async function runInChunks<T, R>(
  items: readonly T[],
  chunk: number,
  run: (slice: readonly T[]) => Promise<R[]>,
  options: { resizable: boolean; onShrink?: (from: number, to: number, error: Error) => void },
): Promise<{ results: R[]; chunk: number }> {
  const results: R[] = [];
  let size = Math.max(1, chunk);
  for (let start = 0; start < items.length; ) {
    const slice = items.slice(start, start + size);
    try {
      results.push(...(await run(slice)));
      start += slice.length;
    } catch (thrown) {
      if (!options.resizable || size === 1 || !isOutOfMemory(thrown)) throw thrown;
      const smaller = Math.max(1, Math.floor(Math.min(size, slice.length) / 2));
      options.onShrink?.(size, smaller, coerceError(thrown));
      size = smaller;
    }
  }
  return { results, chunk: size };
}

const PROVIDER_NEEDS: Record<ExecutionProvider, string> = {
  cpu: 'a valid ONNX model',
  cuda: 'libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so beside the onnxruntime-node binding, and CUDA + cuDNN libraries on the library path',
  webgpu: 'a GPU driver with Vulkan (libvulkan.so.1)',
};

/** What the loader learned from the graph itself. */
interface GraphShape {
  inputName: string;
  outputName: string;
  inputSize: number;
  /** A fixed batch dimension, or null when it is symbolic. */
  fixedBatch: number | null;
}

function invalidModel(folder: ModelFolder, problem: string): AppError {
  return new AppError('MODEL_INVALID', `${folder.modelPath}: ${problem}`, { details: { model: folder.name } });
}

function describeShape(shape: ReadonlyArray<number | string>): string {
  return `[${shape.join(', ')}]`;
}

function inspectGraph(session: ort.InferenceSession, folder: ModelFolder, logger: Logger): GraphShape {
  const { recipe } = folder;
  const inputName = recipe.inputName ?? session.inputNames[0];
  const outputName = recipe.outputName ?? session.outputNames[0];
  const input = session.inputMetadata.find((m) => m.name === inputName);
  const output = session.outputMetadata.find((m) => m.name === outputName);
  if (inputName === undefined || input === undefined) {
    throw invalidModel(folder, `no input named "${inputName}" (inputs: ${session.inputNames.join(', ')})`);
  }
  if (outputName === undefined || output === undefined) {
    throw invalidModel(folder, `no output named "${outputName}" (outputs: ${session.outputNames.join(', ')})`);
  }
  if (!input.isTensor || input.type !== 'float32' || input.shape.length !== 4) {
    const got = input.isTensor ? `${input.type} ${describeShape(input.shape)}` : 'a non-tensor';
    throw invalidModel(folder, `input "${inputName}" must be a float32 tensor of rank 4, got ${got}`);
  }
  if (!output.isTensor || output.type !== 'float32' || output.shape.length !== 2) {
    const got = output.isTensor ? `${output.type} ${describeShape(output.shape)}` : 'a non-tensor';
    throw invalidModel(folder, `output "${outputName}" must be a float32 tensor [batch, labels], got ${got}`);
  }

  const [batch, ...rest] = input.shape;
  const [height, width, channels] = recipe.layout === 'NHWC' ? rest : [rest[1], rest[2], rest[0]];
  if (typeof channels === 'number' && channels !== 3) {
    throw invalidModel(
      folder,
      `input shape ${describeShape(input.shape)} has ${channels} channels where ${recipe.layout} puts them; set "layout" in model.json`,
    );
  }
  let inputSize = recipe.inputSize;
  if (typeof height === 'number' || typeof width === 'number') {
    if (height !== width) throw invalidModel(folder, `input ${describeShape(input.shape)} is not square`);
    const graphSize = height as number;
    if (graphSize !== recipe.inputSize) {
      if (folder.manifest?.inputSize !== undefined) {
        throw invalidModel(folder, `model.json says inputSize ${recipe.inputSize} but the graph takes ${graphSize}`);
      }
      logger.info({ inputSize: graphSize, familyDefault: recipe.inputSize }, 'input size taken from the graph');
      inputSize = graphSize;
    }
  }

  const outputWidth = output.shape[1];
  if (typeof outputWidth === 'number' && outputWidth !== folder.labels.length) {
    throw invalidModel(
      folder,
      `vocabulary has ${folder.labels.length} labels but the model outputs ${outputWidth} scores; the vocabulary file does not belong to this model`,
    );
  }
  return { inputName, outputName, inputSize, fixedBatch: typeof batch === 'number' ? batch : null };
}

/**
 * Whether onnxruntime-node's CUDA provider library is installed beside its binding. The default install (no NuGet)
 * has none; probing it anyway makes onnxruntime print a native "failed to load" line on every start.
 */
export function cudaProviderInstalled(): boolean {
  return missingCudaProviderFiles().length === 0;
}

/** The CUDA provider libraries onnxruntime-node needs beside its binding that are absent (full paths). */
export function missingCudaProviderFiles(): string[] {
  const root = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const binding = join(root, 'bin', 'napi-v6', process.platform, process.arch);
  const [shared, cuda] =
    process.platform === 'win32'
      ? ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll']
      : ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
  return [join(binding, shared), join(binding, cuda)].filter((path) => !existsSync(path));
}

/** The loggers already told that `auto` found no CUDA provider: said once per process, not once per model loaded. */
const warnedNoCuda = new WeakSet<Logger>();

async function createSession(
  folder: ModelFolder,
  options: OnnxTaggerOptions,
): Promise<{ session: ort.InferenceSession; provider: ExecutionProvider; threads: number }> {
  const { kind, deviceId } = parseDevice(options.device);
  let attempts = PROVIDER_ATTEMPTS[kind];
  const missing = attempts.includes('cuda') ? missingCudaProviderFiles() : [];
  if (missing.length > 0 && kind === 'auto') {
    if (!warnedNoCuda.has(options.logger)) {
      warnedNoCuda.add(options.logger);
      options.logger.warn(
        { missing },
        'DEVICE=auto: no CUDA execution provider installed beside onnxruntime-node, so NO GPU IS USED: running on ' +
          `the CPU (missing ${missing.join(', ')}). On a GPU machine, scripts/gpu-check.sh installs it (README, GPU); ` +
          'DEVICE=cpu silences this.',
      );
    }
    attempts = attempts.filter((provider) => provider !== 'cuda');
  } else if (missing.length > 0) {
    throw new AppError(
      'MODEL_RUNTIME',
      `device "${options.device}" needs onnxruntime-node's CUDA execution provider, which is not installed: missing ` +
        `${missing.join(', ')}. Install it on the GPU machine (README, GPU), or use DEVICE=auto or DEVICE=cpu.`,
      { details: { missing, device: options.device } },
    );
  }
  for (const provider of attempts) {
    try {
      const executionProvider =
        provider === 'cuda'
          ? { name: 'cuda' as const, deviceId }
          : provider === 'webgpu'
            ? { name: 'webgpu' as const }
            : 'cpu';
      const threads = planCpu({
        provider,
        ...(options.cores === undefined ? {} : { cores: options.cores }),
        ...(options.threads === undefined ? {} : { threads: options.threads }),
      }).inferenceThreads;
      const session = await ort.InferenceSession.create(folder.modelPath, {
        executionProviders: [executionProvider],
        graphOptimizationLevel: 'all',
        interOpNumThreads: 1,
        intraOpNumThreads: threads,
      });
      return { session, provider, threads };
    } catch (thrown) {
      const error = coerceError(thrown);
      const isLast = provider === attempts[attempts.length - 1];
      if (!isLast) {
        options.logger.warn(
          { err: error, provider, device: options.device },
          `${provider} execution provider unavailable, falling back`,
        );
        continue;
      }
      if (provider === 'cpu') {
        throw invalidModel(folder, `onnxruntime cannot load the model: ${error.message}`);
      }
      throw new AppError(
        'MODEL_RUNTIME',
        `device "${options.device}" asked for the ${provider} execution provider, which onnxruntime could not start ` +
          `(it needs ${PROVIDER_NEEDS[provider]}): ${error.message.split('\n')[0]}. Use DEVICE=auto or DEVICE=cpu to run on the CPU.`,
        { cause: error, details: { provider } },
      );
    }
  }
  throw new AppError('MODEL_RUNTIME', `no execution provider to try for device "${options.device}"`);
}

/** Reads a model's rating outputs (category 9) as a distribution: the rating model's answer, or a tagger's. */
export function ratingScores(
  labels: readonly ModelLabel[],
  scores: ArrayLike<number>,
): Array<{ name: string; score: number }> {
  const out: Array<{ name: string; score: number }> = [];
  labels.forEach((label, i) => {
    if (label.category === 9) out.push({ name: label.name, score: scores[i] ?? 0 });
  });
  return out.sort((a, b) => b.score - a.score);
}

/** Turns raw model outputs into probabilities in place, per the recipe. */
export function applyOutputActivation(row: Float32Array, activation: PreprocessRecipe['outputActivation']): void {
  if (activation === 'sigmoid') {
    for (let i = 0; i < row.length; i++) row[i] = 1 / (1 + Math.exp(-row[i]!));
  } else if (activation === 'softmax') {
    let max = Number.NEGATIVE_INFINITY;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (let i = 0; i < row.length; i++) {
      row[i] = Math.exp(row[i]! - max);
      sum += row[i]!;
    }
    for (let i = 0; i < row.length; i++) row[i] = row[i]! / sum;
  }
}

export class OnnxTagger implements Tagger {
  readonly model: TaggerModelInfo;
  readonly labels: readonly ModelLabel[];
  /** The folder's recipe, with the input size and tensor names the graph actually has. */
  readonly recipe: Readonly<PreprocessRecipe>;
  readonly provider: ExecutionProvider;
  readonly inputSize: number;
  /** onnxruntime intra-op threads in use. */
  readonly threads: number;
  /** How the device batch was decided, once `decideDeviceBatch` ran (the CLI's loadTagger does). */
  batchDecision: BatchDecision | null = null;
  private readonly session: ort.InferenceSession;
  private readonly graph: GraphShape;
  private readonly maxPixels: number;
  private readonly decodeTimeoutSeconds: number | undefined;
  private readonly logger: Logger;
  /** Images per run; halved for good after a GPU out-of-memory. */
  private maxBatch: number;
  private closed = false;

  private constructor(
    folder: ModelFolder,
    session: ort.InferenceSession,
    provider: ExecutionProvider,
    threads: number,
    graph: GraphShape,
    options: OnnxTaggerOptions,
  ) {
    this.threads = threads;
    this.labels = folder.labels;
    this.recipe = Object.freeze({
      ...folder.recipe,
      inputSize: graph.inputSize,
      inputName: graph.inputName,
      outputName: graph.outputName,
    });
    this.model = {
      name: folder.name,
      version: folder.version,
      sha256: folder.sha256,
      family: folder.family,
      purpose: folder.purpose,
      ...(folder.manifest?.thresholds === undefined ? {} : { manifestThresholds: folder.manifest.thresholds }),
      labels: this.labels,
      recipe: this.recipe,
    };
    this.session = session;
    this.provider = provider;
    this.inputSize = graph.inputSize;
    this.graph = graph;
    this.maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
    this.decodeTimeoutSeconds = options.decodeTimeoutSeconds;
    this.logger = options.logger;
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH[provider];
  }

  /** The graph's fixed batch dimension, or null when it takes any batch. */
  get fixedBatch(): number | null {
    return this.graph.fixedBatch;
  }

  /** Images per model run now (after any out-of-memory halving). */
  get batchLimit(): number {
    return this.graph.fixedBatch ?? this.maxBatch;
  }

  /** Sets the images per model run (a measured choice); ignored by a fixed-batch graph. */
  setBatchLimit(batch: number): void {
    this.maxBatch = Math.max(1, Math.floor(batch));
  }

  /**
   * One model run of `batch` synthetic images (mid-grey), timed in ms: the measurement behind the batch choice.
   * Uses the session as the worker does, outside {@link predictBatch}'s chunking.
   */
  async timeRun(batch: number): Promise<number> {
    this.assertOpen();
    const length = tensorLength(this.recipe);
    const grey = this.recipe.scale === '0-1' ? 0.5 : 128;
    const tensors = Array.from({ length: batch }, () => new Float32Array(length).fill(grey));
    const started = performance.now();
    await this.run(tensors, this.graph.fixedBatch ?? batch, length);
    return performance.now() - started;
  }

  /**
   * Opens a session for a model folder (a path, or a folder already read by `loadModelFolder`), checks the graph against the folder (MODEL_INVALID on a
   * mismatch) and logs the provider in use. Throws MODEL_RUNTIME when a named device cannot be used.
   */
  static async load(folderOrDir: ModelFolder | string, options: OnnxTaggerOptions): Promise<OnnxTagger> {
    const folder = typeof folderOrDir === 'string' ? await loadModelFolder(folderOrDir) : folderOrDir;
    const { session, provider, threads } = await createSession(folder, options);
    let graph: GraphShape;
    try {
      graph = inspectGraph(session, folder, options.logger);
    } catch (error) {
      await session.release();
      throw error;
    }
    const tagger = new OnnxTagger(folder, session, provider, threads, graph, options);
    options.logger.info(
      {
        model: folder.name,
        version: folder.version,
        family: folder.family,
        purpose: folder.purpose,
        provider,
        device: options.device,
        threads,
        maxBatch: tagger.batchLimit,
        inputSize: graph.inputSize,
        labels: folder.labels.length,
        fixedBatch: graph.fixedBatch,
      },
      `tagger ready on ${provider}`,
    );
    return tagger;
  }

  async preprocess(image: Buffer, timing?: PreprocessTiming): Promise<Float32Array> {
    const started = performance.now();
    const pixels = await letterboxImage(image, this.recipe, {
      maxPixels: this.maxPixels,
      ...(this.decodeTimeoutSeconds === undefined ? {} : { timeoutSeconds: this.decodeTimeoutSeconds }),
    });
    const decoded = performance.now();
    const tensor = pixelsToTensor(pixels, this.recipe);
    if (timing) {
      timing.decodeMs += decoded - started;
      timing.tensorMs += performance.now() - decoded;
    }
    return tensor;
  }

  async predictBatch(tensors: readonly Float32Array[]): Promise<ScoreVector[]> {
    this.assertOpen();
    const length = tensorLength(this.recipe);
    tensors.forEach((tensor, i) => {
      if (tensor.length !== length) {
        throw new AppError('MODEL_RUNTIME', `tensor ${i} has ${tensor.length} values, the model takes ${length}`);
      }
    });
    // A graph with a fixed batch dimension (often 1) takes exactly that many images per run, zero-padded.
    const fixed = this.graph.fixedBatch;
    const { results, chunk } = await runInChunks(
      tensors,
      fixed ?? this.maxBatch,
      (slice) => this.run(slice, fixed ?? slice.length, length),
      {
        resizable: fixed === null,
        onShrink: (from, to, error) =>
          this.logger.warn(
            { err: error, from, to, provider: this.provider, model: this.model.name },
            `out of memory at batch ${from}: retrying at ${to}, and keeping that size`,
          ),
      },
    );
    if (fixed === null) this.maxBatch = chunk;
    return results;
  }

  predictImages(images: readonly Buffer[]): Promise<Array<ScoreVector | AppError>> {
    return predictImagesWith(this, images);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }

  /** One session.run over `tensors`, zero-padded to `batch` rows when the graph's batch is fixed. */
  private async run(tensors: readonly Float32Array[], batch: number, length: number): Promise<ScoreVector[]> {
    // A single image needs no copy; a batch is packed into one contiguous buffer (zero rows pad a fixed batch).
    const data = tensors.length === 1 && batch === 1 ? tensors[0]! : new Float32Array(batch * length);
    if (data !== tensors[0]) for (const [i, tensor] of tensors.entries()) data.set(tensor, i * length);
    const size = this.recipe.inputSize;
    const dims = this.recipe.layout === 'NHWC' ? [batch, size, size, 3] : [batch, 3, size, size];
    let output: ort.Tensor | undefined;
    try {
      const results = await this.session.run({ [this.graph.inputName]: new ort.Tensor('float32', data, dims) }, [
        this.graph.outputName,
      ]);
      output = results[this.graph.outputName];
    } catch (error) {
      throw new AppError('MODEL_RUNTIME', `inference failed: ${coerceError(error).message}`, {
        cause: error,
        details: { model: this.model.name, batch, provider: this.provider },
      });
    }
    const width = this.labels.length;
    if (output === undefined || output.type !== 'float32' || output.dims.join() !== `${batch},${width}`) {
      throw new AppError(
        'MODEL_INVALID',
        `${this.model.name}: output has shape [${output?.dims.join(', ')}], expected [${batch}, ${width}] (one score per vocabulary label)`,
      );
    }
    const values = output.data as Float32Array;
    return tensors.map((_, i) => {
      const row = values.slice(i * width, (i + 1) * width);
      applyOutputActivation(row, this.recipe.outputActivation);
      return row;
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new AppError('MODEL_RUNTIME', `tagger for ${this.model.name} is closed`);
  }
}
