/**
 * Still WebP files decoded off the main thread, by libwebp compiled to WebAssembly (@jsquash/webp) in a few worker
 * threads, alpha and padding applied there too (`rgba-square.mjs`): about twice as fast as sharp's WebP loader, with
 * the same pixels. libvips' loader hands libwebp's output
 * on line by line; on a 720-pixel sample that costs ~20 ms against ~10 here (scripts/bench.ts `preprocess`). WebP is
 * what a booru's 720 px sample is, so this is most of the decoding a worker does, and it runs beside inference on
 * the same cores: every millisecond saved here is one given back to the model.
 *
 * Workers start on first use (at most {@link WebpDecoder.size} of them) and never keep the process alive while idle. A
 * worker that dies or overruns its time is replaced; its caller gets an error, and the preprocessing falls back to
 * sharp, which names what is wrong with the file.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { AppError } from '../shared/errors.js';
import { usableCores } from './cpu-plan.js';
import type { RgbPixels, SquareOptions } from './rgba-square.mjs';

/** A resize after the square, with sharp (`fit: fill`), done in the worker. */
export interface ResizeTo {
  width: number;
  height: number;
  kernel: string;
}

/** A decoded WebP: its own size, and its pixels after `rgbaToRgb` (alpha, padding) and any {@link ResizeTo}. */
export interface DecodedWebp {
  width: number;
  height: number;
  rgb: RgbPixels;
}

type Reply = ({ id: number } & DecodedWebp) | { id: number; error: string } | { ready: true; id?: undefined };

interface Task {
  id: number;
  bytes: Uint8Array<ArrayBuffer>;
  square: SquareOptions;
  resize: ResizeTo | null;
  timeoutMs: number;
  resolve: (image: DecodedWebp) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  /** The worker has started and instantiated libwebp. */
  ready: boolean;
  task: Task | null;
  timer: NodeJS.Timeout | null;
}

let compiled: WebAssembly.Module | null = null;

/** libwebp's decoder, compiled once per process and shared with every worker. */
function decoderModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(
    readFileSync(createRequire(import.meta.url).resolve('@jsquash/webp/codec/dec/webp_dec.wasm')),
  );
  return compiled;
}

export class WebpDecoder {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;

  /** `size`: the most workers (decodes at once). */
  constructor(readonly size: number) {}

  /**
   * Decodes a still WebP, squares it (`rgbaToRgb` with `square`) and resizes it to `resize` when given and not
   * already that size. Rejects with an Error when libwebp refuses the bytes or the worker dies, and with
   * MEDIA_TOO_LARGE after `timeoutMs` (the worker is then replaced).
   */
  decode(bytes: Uint8Array, square: SquareOptions, resize: ResizeTo | null, timeoutMs: number): Promise<DecodedWebp> {
    return new Promise((resolve, reject) => {
      // A copy of exactly the file: a Buffer may be a view on a larger pooled ArrayBuffer, and the copy's buffer
      // moves to the worker instead of being cloned.
      this.queue.push({ id: this.nextId++, bytes: Uint8Array.from(bytes), square, resize, timeoutMs, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Starts one worker ahead of the first decode (a worker's start — a Node isolate, libwebp's instance, sharp — is
   * ~0.2 s on a slow core, which the first post would otherwise wait for). Idle, it keeps nothing alive.
   */
  warm(): void {
    if (this.slots.length === 0 && this.unavailable === null) this.spawn();
  }

  /** Whether a worker has started: until then a caller decodes with sharp rather than wait for one (start-up). */
  get ready(): boolean {
    return this.slots.some((slot) => slot.ready);
  }

  /** Files decoded so far (for tests and diagnostics). */
  decoded = 0;

  /** Why workers cannot be used (three failed to start), or null. */
  unavailable: string | null = null;

  private failedStarts = 0;

  /** {@link warm}, resolving once a worker is {@link ready}; rejects when workers cannot start. */
  async warmUp(): Promise<void> {
    while (!this.ready) {
      if (this.unavailable !== null) throw new Error(`WebP decode workers unavailable: ${this.unavailable}`);
      this.warm();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Stops every worker; decodes in flight are rejected. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    for (const task of this.queue.splice(0)) task.reject(new Error('WebP decoder closed'));
    await Promise.all(
      slots.map((slot) => {
        this.settle(slot, null);
        return slot.worker.terminate();
      }),
    );
  }

  /** Hands queued decodes to idle workers, starting workers up to {@link size}. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.task === null) ?? this.spawn();
      if (slot === null) return;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.ref();
      slot.timer = setTimeout(
        () =>
          this.replace(
            slot,
            new AppError('MEDIA_TOO_LARGE', `image took too long to decode (over ${task.timeoutMs} ms)`),
          ),
        task.timeoutMs,
      );
      slot.worker.postMessage({ id: task.id, bytes: task.bytes, square: task.square, resize: task.resize }, [
        task.bytes.buffer,
      ]);
    }
  }

  private spawn(): Slot | null {
    if (this.slots.length >= this.size) return null;
    // No inherited Node options: the worker is plain JavaScript and needs none (a parent's --input-type or loader
    // flags could stop it from starting).
    const worker = new Worker(new URL('./webp-decode.worker.mjs', import.meta.url), {
      workerData: { module: decoderModule() },
      execArgv: [],
    });
    const slot: Slot = { worker, ready: false, task: null, timer: null };
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) {
        slot.ready = true;
        return;
      }
      if (slot.task?.id !== reply.id) return;
      const task = slot.task;
      this.settle(slot, null);
      if ('error' in reply) task.reject(new Error(`WebP decode failed: ${reply.error}`));
      else {
        this.decoded++;
        task.resolve({ width: reply.width, height: reply.height, rgb: reply.rgb });
      }
      this.dispatch();
    });
    worker.on('error', (error) => this.replace(slot, error));
    worker.on('exit', (code) => this.replace(slot, new Error(`WebP decode worker exited with code ${code}`)));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  /** Ends `slot`'s task (rejected with `error` when given) and lets the worker idle. */
  private settle(slot: Slot, error: Error | null): void {
    if (slot.timer !== null) clearTimeout(slot.timer);
    slot.timer = null;
    const task = slot.task;
    slot.task = null;
    slot.worker.unref();
    if (task !== null && error !== null) task.reject(error);
  }

  /** Fails `slot`'s task with `error`, stops its worker and forgets it; the next dispatch starts a fresh one. */
  private replace(slot: Slot, error: Error): void {
    const index = this.slots.indexOf(slot);
    if (index === -1) return;
    this.slots.splice(index, 1);
    // Workers that die before they are ready will not start at all here: stop trying, sharp decodes everything.
    if (!slot.ready && ++this.failedStarts >= 3) this.unavailable = error.message;
    this.settle(slot, error);
    void slot.worker.terminate();
    this.dispatch();
  }
}

let shared: WebpDecoder | null = null;

/** The process's WebP decoder: one worker per usable core at most, started as decodes need them. */
export function webpDecoder(): WebpDecoder {
  shared ??= new WebpDecoder(usableCores());
  return shared;
}
