/**
 * An onnxruntime-node session in its own worker thread (`onnx-session.worker.mjs`). onnxruntime-node 1.30 runs a
 * model synchronously on the calling thread (its `run` is a `setImmediate` around a blocking call), so a session on
 * the main thread stops everything else for the length of each run: decodes finish but cannot hand their pixels on,
 * database answers and HTTP requests wait. Here the main thread stays free; the model's threads are the same
 * (`intraOpNumThreads`), only the caller moved.
 *
 * {@link ModelSession} is the part of `ort.InferenceSession` the tagger uses. Inputs are copied to the worker (a
 * caller may pass the same tensor to several models); outputs are copied back. The worker holds the process open only
 * while a run or the creation is in flight.
 */
import { Worker } from 'node:worker_threads';
import ort from 'onnxruntime-node';

type Metadata = ort.InferenceSession['inputMetadata'];

/** What the tagger needs of a session: its graph's names and metadata, `run` and `release`. */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: Metadata;
  readonly outputMetadata: Metadata;
  /**
   * Runs the model. `moveInputs`: the feeds' buffers are the caller's to give away (a batch packed for this run),
   * so they move to the thread instead of being copied, and are unusable afterwards.
   */
  run(
    feeds: Record<string, ort.Tensor>,
    fetches: readonly string[],
    options?: { moveInputs?: boolean },
  ): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

interface WireTensor {
  type: ort.Tensor['type'];
  data: ort.Tensor['data'];
  dims: readonly number[];
}

type Reply =
  | { type: 'ready'; inputNames: string[]; outputNames: string[]; inputMetadata: Metadata; outputMetadata: Metadata }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { type: 'error'; id: number; message: string }
  | { type: 'released' };

interface Pending {
  resolve: (outputs: Record<string, ort.Tensor>) => void;
  reject: (error: Error) => void;
}

export class ThreadedSession implements ModelSession {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | null = null;
  private released: (() => void) | null = null;

  private constructor(
    private readonly worker: Worker,
    ready: Extract<Reply, { type: 'ready' }>,
  ) {
    this.inputNames = ready.inputNames;
    this.outputNames = ready.outputNames;
    this.inputMetadata = ready.inputMetadata;
    this.outputMetadata = ready.outputMetadata;
    worker.on('message', (reply: Reply) => this.receive(reply));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`onnxruntime session thread exited with code ${code}`)));
    worker.unref();
  }

  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: Metadata;
  readonly outputMetadata: Metadata;

  /** Opens `modelPath` with `options` in a new worker thread; rejects with onnxruntime's own message on failure. */
  static create(modelPath: string, options: ort.InferenceSession.SessionOptions): Promise<ThreadedSession> {
    const worker = new Worker(new URL('./onnx-session.worker.mjs', import.meta.url), {
      workerData: { modelPath, options },
    });
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => {
        void worker.terminate();
        reject(error);
      };
      worker.once('error', failed);
      worker.once('exit', (code) => failed(new Error(`onnxruntime session thread exited with code ${code}`)));
      worker.once('message', (reply: Reply) => {
        worker.removeAllListeners('error').removeAllListeners('exit');
        if (reply.type === 'ready') resolve(new ThreadedSession(worker, reply));
        else
          failed(
            new Error(reply.type === 'failed' ? reply.message : `unexpected ${reply.type} from the session thread`),
          );
      });
    });
  }

  run(
    feeds: Record<string, ort.Tensor>,
    fetches: readonly string[],
    options: { moveInputs?: boolean } = {},
  ): Promise<Record<string, ort.Tensor>> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    const wire: Record<string, WireTensor> = {};
    const moved: ArrayBuffer[] = [];
    for (const [name, tensor] of Object.entries(feeds)) {
      wire[name] = { type: tensor.type, data: tensor.data, dims: tensor.dims };
      const buffer = (tensor.data as Float32Array).buffer;
      if (options.moveInputs && buffer instanceof ArrayBuffer) moved.push(buffer);
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ type: 'run', id, feeds: wire, fetches }, moved);
    });
  }

  async release(): Promise<void> {
    if (this.failure === null) {
      const released = new Promise<void>((resolve) => {
        this.released = resolve;
      });
      this.worker.ref();
      this.worker.postMessage({ type: 'release' });
      await released;
    }
    this.failure ??= new Error('session released');
    await this.worker.terminate();
  }

  private receive(reply: Reply): void {
    if (reply.type === 'released') {
      this.released?.();
      return;
    }
    if (reply.type !== 'result' && reply.type !== 'error') return;
    const pending = this.pending.get(reply.id);
    if (pending === undefined) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.type === 'error') {
      pending.reject(new Error(reply.message));
      return;
    }
    const outputs: Record<string, ort.Tensor> = {};
    for (const [name, { type, data, dims }] of Object.entries(reply.outputs)) {
      outputs[name] = new ort.Tensor(type, data as Float32Array, dims);
    }
    pending.resolve(outputs);
  }

  /** The thread died: every run in flight and every later one fails with `error`. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    this.released?.();
  }
}
