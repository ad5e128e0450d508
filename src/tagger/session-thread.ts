/**
 * An onnxruntime-node session in its own worker thread (`onnx-session.worker.mjs`). onnxruntime-node 1.30 runs a
 * model synchronously on the calling thread (its `run` is a `setImmediate` around a blocking call), so a session on
 * the main thread stops everything else for the length of each run: decodes finish but cannot hand their pixels on,
 * database answers and HTTP requests wait. Here the main thread stays free; the model's threads are the same
 * (`intraOpNumThreads`), only the caller moved.
 *
 * {@link ModelSession} is what the tagger needs of a session. A run's input rows are copied to the worker (a caller
 * may pass the same tensor to several models) and packed there into one batch; the output is copied back. The worker
 * holds the process open only while a run or the creation is in flight.
 */
import { Worker } from 'node:worker_threads';
import type ort from 'onnxruntime-node';

type Metadata = ort.InferenceSession['inputMetadata'];

/** One float32 input of a run, as rows of `rowLength` values each (fewer rows than `dims[0]` are zero-padded). */
export interface RunInput {
  name: string;
  rows: readonly Float32Array[];
  rowLength: number;
  dims: readonly number[];
}

/** The fetched output of a run. */
export interface RunOutput {
  type: string;
  dims: readonly number[];
  data: unknown;
}

/** What the tagger needs of a session: its graph's names and metadata, `run` and `release`. */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: Metadata;
  readonly outputMetadata: Metadata;
  /** Runs the model on `input`, fetching `outputName`. */
  run(input: RunInput, outputName: string): Promise<RunOutput>;
  release(): Promise<void>;
}

type Reply =
  | { type: 'ready'; inputNames: string[]; outputNames: string[]; inputMetadata: Metadata; outputMetadata: Metadata }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; output: RunOutput }
  | { type: 'error'; id: number; message: string }
  | { type: 'released' };

interface Pending {
  resolve: (output: RunOutput) => void;
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

  /**
   * Opens `modelPath` with `options` in a worker thread (the prestarted one, if any); rejects with onnxruntime's own
   * message on failure.
   */
  static create(modelPath: string, options: ort.InferenceSession.SessionOptions): Promise<ThreadedSession> {
    const worker = prestarted ?? startSessionThread();
    prestarted = null;
    worker.removeAllListeners('error');
    worker.ref();
    worker.postMessage({ modelPath, options });
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

  run(input: RunInput, outputName: string): Promise<RunOutput> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      // The rows are copied into the message: the caller keeps its tensors (a caller may share one between models),
      // and no buffer is allocated on this thread for the copy.
      this.worker.postMessage({ type: 'run', id, input, outputName });
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
    pending.resolve(reply.output);
  }

  /** The thread died: every run in flight and every later one fails with `error`. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    this.released?.();
  }
}

let prestarted: Worker | null = null;

function startSessionThread(): Worker {
  // No inherited Node options: the worker is plain JavaScript (a parent's --input-type or loader flags could stop it).
  return new Worker(new URL('./onnx-session.worker.mjs', import.meta.url), { execArgv: [] });
}

/**
 * Starts the next session's thread now (a Node isolate and onnxruntime-node's binding: ~0.2 s on a slow core), so
 * that it is ready when {@link ThreadedSession.create} is called: commands that will load a model call this before
 * opening the database. Unused, it keeps nothing alive.
 */
export function prestartSessionThread(): void {
  if (prestarted !== null) return;
  prestarted = startSessionThread();
  // Until adopted, a thread that fails to start is simply not used: create() starts another and reports its error.
  prestarted.on('error', () => {
    prestarted = null;
  });
  prestarted.unref();
}
