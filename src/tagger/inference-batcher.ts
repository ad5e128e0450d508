/**
 * A batching front for one tagger: `predictBatch` calls from several callers (the worker's batches, /evaluate
 * requests, the upload page) that arrive within a short window are merged into one model run, up to the device
 * batch, so a burst of single-image API calls costs one session call instead of one each, and API traffic shares
 * the worker's session instead of loading the model twice.
 */
import type { ScoreVector } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import { type PreprocessTiming, predictImagesWith, type Tagger } from './tagger.js';

export interface InferenceBatcherOptions {
  /** Images per merged run; a run starts at once when this many are waiting. (Default: 16.) */
  maxBatch?: number;
  /** Longest wait for more images after the first arrives, ms. (Default: 5.) */
  windowMs?: number;
}

interface Pending {
  tensors: readonly Float32Array[];
  resolve: (scores: ScoreVector[]) => void;
  reject: (error: unknown) => void;
}

/** Counters for logs and tests: how many runs the batcher made and how many images they held. */
export interface BatcherStats {
  runs: number;
  images: number;
  /** Requests (predictBatch calls) served. */
  requests: number;
}

/**
 * Implements {@link Tagger} over another tagger, so it can stand in for it anywhere (the worker included). One
 * merged run is in flight at a time: requests arriving meanwhile wait and form the next batch, which is what fills
 * batches under load. A caller's own batch is never split across runs by the batcher (the inner tagger still chunks
 * at its device limit).
 */
export class InferenceBatcher implements Tagger {
  readonly stats: BatcherStats = { runs: 0, images: 0, requests: 0 };
  private readonly maxBatch: number;
  private readonly windowMs: number;
  private queue: Pending[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private closed = false;

  constructor(
    private readonly inner: Tagger,
    options: InferenceBatcherOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 16);
    this.windowMs = Math.max(0, options.windowMs ?? 5);
  }

  get model() {
    return this.inner.model;
  }
  get labels() {
    return this.inner.labels;
  }
  get provider() {
    return this.inner.provider;
  }
  get inputSize() {
    return this.inner.inputSize;
  }

  get batchLimit() {
    return this.inner.batchLimit;
  }

  preprocess(image: Buffer, timing?: PreprocessTiming): Promise<Float32Array> {
    return this.inner.preprocess(image, timing);
  }

  predictBatch(tensors: readonly Float32Array[]): Promise<ScoreVector[]> {
    if (this.closed) return Promise.reject(new AppError('MODEL_RUNTIME', `tagger for ${this.model.name} is closed`));
    if (tensors.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ tensors, resolve, reject });
      this.queued += tensors.length;
      this.schedule();
    });
  }

  recycle(tensors: readonly Float32Array[]): void {
    this.inner.recycle?.(tensors);
  }

  predictImages(images: readonly Buffer[]): Promise<Array<ScoreVector | AppError>> {
    return predictImagesWith(this, images);
  }

  /** Fails what is still queued, then closes the inner tagger. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const error = new AppError('MODEL_RUNTIME', `tagger for ${this.model.name} closed before the request ran`);
    for (const request of this.queue.splice(0)) request.reject(error);
    this.queued = 0;
    await this.inner.close();
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queued >= this.maxBatch || this.windowMs === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      void this.runNext();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.runNext();
      }, this.windowMs);
    }
  }

  private async runNext(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    // Whole requests, oldest first, until the next would overflow the batch (a first request larger than the batch
    // goes alone).
    const taken: Pending[] = [];
    let size = 0;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (taken.length > 0 && size + head.tensors.length > this.maxBatch) break;
      taken.push(this.queue.shift()!);
      size += head.tensors.length;
    }
    this.queued -= size;
    try {
      const scores = await this.inner.predictBatch(taken.flatMap((request) => request.tensors));
      this.stats.runs++;
      this.stats.images += size;
      this.stats.requests += taken.length;
      let offset = 0;
      for (const request of taken) {
        request.resolve(scores.slice(offset, offset + request.tensors.length));
        offset += request.tensors.length;
      }
    } catch (error) {
      for (const request of taken) request.reject(error);
    } finally {
      this.running = false;
      // What arrived during the run has waited long enough: it is the next batch, now.
      if (this.queue.length > 0) void this.runNext();
    }
  }
}
