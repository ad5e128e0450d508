/**
 * {@link Tagger} over an onnxruntime-node session: one session per model, batched runs, and start-up checks that the
 * folder, the recipe and the graph agree (input layout and size, output width = vocabulary size; `onnx-session.ts`).
 */
import { basename, join, resolve } from 'node:path';
import type { ModelLabel, ScoreVector } from '../core/types.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { type BatchDecision, isOutOfMemory } from './batch-choice.js';
import { loadModelFolder, MODEL_FILE, type ModelFolder } from './model-folder.js';
import { createSession, type GraphShape, inspectGraph, type SessionOptions } from './onnx-session.js';
import { applyOutputActivation } from './output-scores.js';
import type { ModelSession, RunOutput } from './session-thread.js';
import { pixelsToTensor } from './pixels-to-tensor.js';
import { DEFAULT_MAX_PIXELS, letterboxImage, warmDecoders } from './preprocess.js';
import { type PreprocessRecipe, tensorLength } from './recipe.js';
import {
  type ExecutionProvider,
  type PreprocessTiming,
  predictImagesWith,
  type Tagger,
  type TaggerModelInfo,
} from './tagger.js';

export interface OnnxTaggerOptions extends SessionOptions {
  /**
   * Most images per model run; bigger batches are split, and a GPU out-of-memory halves it for the rest of the
   * session. (Default: {@link DEFAULT_MAX_BATCH} for the provider in use)
   */
  maxBatch?: number;
  /** Images above this many pixels are refused with MEDIA_TOO_LARGE. (Default: 64,000,000) */
  maxPixels?: number;
  /** A decode taking longer fails with MEDIA_TOO_LARGE, in seconds. (Default: 30) */
  decodeTimeoutSeconds?: number;
}

/**
 * Images per model run by provider when not configured: on the CPU a bigger batch buys little and holds more memory;
 * on a GPU a batch of 32 at 448² is about 77 MB of input and fits any card that fits a WD v3 model.
 */
/** Recycled tensors kept for reuse: about the tensors a worker's pipeline holds at once. */
const MAX_SPARE_TENSORS = 32;

export const DEFAULT_MAX_BATCH: Readonly<Record<ExecutionProvider, number>> = { cpu: 8, cuda: 32, webgpu: 16 };

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
  private readonly session: ModelSession;
  private readonly graph: GraphShape;
  private readonly maxPixels: number;
  private readonly decodeTimeoutSeconds: number | undefined;
  private readonly logger: Logger;
  /** Images per run; halved for good after a GPU out-of-memory. */
  private maxBatch: number;
  /** Tensors given back by {@link recycle}, for {@link preprocess} to fill again. */
  private readonly spareTensors: Float32Array[] = [];
  private closed = false;

  private constructor(
    folder: ModelFolder,
    session: ModelSession,
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
    // Made the way real images are (a grey square through pixelsToTensor), which also compiles that loop before the
    // first post needs it.
    const grey = new Uint8Array(tensorLength(this.recipe)).fill(128);
    const tensors = Array.from({ length: batch }, () => pixelsToTensor(grey, this.recipe));
    const started = performance.now();
    await this.run(tensors, this.graph.fixedBatch ?? batch, grey.length);
    return performance.now() - started;
  }

  /**
   * Opens a session for a model folder (a path, or a folder already read by `loadModelFolder`), checks the graph against the folder (MODEL_INVALID on a
   * mismatch) and logs the provider in use. Throws MODEL_RUNTIME when a named device cannot be used.
   */
  static async load(folderOrDir: ModelFolder | string, options: OnnxTaggerOptions): Promise<OnnxTagger> {
    let folder: ModelFolder;
    let opened: Awaited<ReturnType<typeof createSession>>;
    if (typeof folderOrDir === 'string') {
      // The session opens in its thread while this one reads the folder and hashes model.onnx (~0.5 s for a ViT-B's
      // 380 MB): the two take about as long. A folder that is not valid is the error reported, whatever the session.
      const dir = resolve(folderOrDir);
      const [read, session] = await Promise.allSettled([
        // The decode worker starts as soon as the recipe is known, so that it is ready for the first post.
        loadModelFolder(dir).then((read) => {
          warmDecoders(read.recipe);
          return read;
        }),
        createSession({ modelPath: join(dir, MODEL_FILE), name: basename(dir) }, options),
      ]);
      if (read.status === 'rejected') {
        if (session.status === 'fulfilled') await session.value.session.release();
        throw read.reason;
      }
      if (session.status === 'rejected') throw session.reason;
      [folder, opened] = [read.value, session.value];
    } else {
      folder = folderOrDir;
      warmDecoders(folder.recipe);
      opened = await createSession(folder, options);
    }
    const { session, provider, threads } = opened;
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
    const tensor = pixelsToTensor(pixels, this.recipe, this.spareTensors.pop());
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

  recycle(tensors: readonly Float32Array[]): void {
    const length = tensorLength(this.recipe);
    for (const tensor of tensors) {
      if (this.spareTensors.length >= MAX_SPARE_TENSORS) return;
      if (tensor.length === length && !this.spareTensors.includes(tensor)) this.spareTensors.push(tensor);
    }
  }

  predictImages(images: readonly Buffer[]): Promise<Array<ScoreVector | AppError>> {
    return predictImagesWith(this, images);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }

  /** One model run over `tensors`, zero-padded to `batch` rows when the graph's batch is fixed. */
  private async run(tensors: readonly Float32Array[], batch: number, length: number): Promise<ScoreVector[]> {
    const size = this.recipe.inputSize;
    const dims = this.recipe.layout === 'NHWC' ? [batch, size, size, 3] : [batch, 3, size, size];
    let output: RunOutput;
    try {
      // The rows go to the session's thread as they are and are packed there (zero rows pad a fixed batch), so this
      // thread allocates no batch-sized buffer per run.
      output = await this.session.run(
        { name: this.graph.inputName, rows: tensors, rowLength: length, dims },
        this.graph.outputName,
      );
    } catch (error) {
      throw new AppError('MODEL_RUNTIME', `inference failed: ${coerceError(error).message}`, {
        cause: error,
        details: { model: this.model.name, batch, provider: this.provider },
      });
    }
    const width = this.labels.length;
    if (output.type !== 'float32' || output.dims.join() !== `${batch},${width}`) {
      throw new AppError(
        'MODEL_INVALID',
        `${this.model.name}: output has shape [${output.dims.join(', ')}], expected [${batch}, ${width}] (one score per vocabulary label)`,
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
