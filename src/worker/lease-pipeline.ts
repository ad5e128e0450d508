/**
 * The lease engine under the tag pipeline: it claims posts in leases while the pipeline has room, keeps their leases
 * alive by a heartbeat while they are in flight, records failures, and on abort stops claiming, gives the stages
 * `drainTimeoutMs` to finish, then releases whatever is still leased back to the pool untouched. It knows nothing of
 * what the stages do with a post: `tag-posts.job.ts` supplies them and tells the engine when posts leave.
 */
import { defaultOf } from '../config/config.js';
import { coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { BoundedQueue } from './bounded-queue.js';

/** Where leases come from and go back to (the post repository, bound to one booru and owner). */
export interface LeaseSource<P extends { id: number }> {
  /** Leases up to `limit` posts to this worker; empty when none wait. */
  claim(limit: number): Promise<P[]>;
  /** Extends the leases of the posts in flight. */
  heartbeat(ids: number[]): Promise<unknown>;
  /** Gives leased posts back untouched; resolves to how many were released. */
  release(ids: number[]): Promise<number>;
  /** Records a post's failure (retried or failed for good). */
  recordFailure(post: P, error: Error): Promise<void>;
}

export interface LeaseOptions {
  leaseMs: number;
  /** Claims wait until at least this many posts fit in flight. */
  batchSize: number;
  /**
   * Posts leased at once: `min` while the pipeline is slow, growing with its measured pace to about `seconds` of work
   * (the posts written in the last `seconds`), never beyond `max`. A slow CPU worker holds few leases that others
   * could share; a fast one holds enough for the writer to merge batches while the database lags.
   */
  inFlight: { min: number; max: number; seconds: number };
  /** Posts per claim: at least this, and a quarter of the window when that is more (up to 64). */
  claimSize: number;
  /** Injected for tests. (Default: performance.now.) */
  now?: () => number;
  /** Keep polling for new work instead of returning when none is left. */
  follow?: boolean;
  /** Poll interval when following and idle, in ms. (Default: TAGGER_POLL_MS's.) */
  pollMs?: number;
  /** Stop claiming after this long. (Default: never.) */
  maxRunMs?: number;
  /** Stops claiming; in-flight work finishes or is released. */
  signal?: AbortSignal;
  /** After an abort, how long in-flight work may take before it is released, in ms. (Default: TAGGER_DRAIN_TIMEOUT_MS's.) */
  drainTimeoutMs?: number;
}

/** The lease window of a pipeline of `batchSize`: about 2 s of work, at least 4 batches (64 posts), at most 256. */
export function leaseWindowOf(batchSize: number): LeaseOptions['inFlight'] {
  return { min: Math.max(batchSize * 4, 64), max: Math.max(batchSize * 4, 256), seconds: 2 };
}

export class LeasePipeline<P extends { id: number }> {
  private readonly inFlight = new Map<number, P>();
  // When posts were written, and how many: the pace that sizes the lease window.
  private readonly written: { at: number; count: number }[] = [];
  private writtenInWindow = 0;
  private stopping = false;
  private broken = false;
  // The claimer waits for room in the pipeline; the writer and failures wake it as soon as posts leave.
  private wakeClaimer: (() => void) | null = null;
  // Failures being recorded, and recorded so far: a one-shot run must not end while a failure may still put its post
  // back for a retry, nor on an empty claim that started before such a post was back.
  private recording = 0;
  private recorded = 0;

  constructor(
    private readonly source: LeaseSource<P>,
    private readonly options: LeaseOptions,
    private readonly logger: Logger,
  ) {}

  /** True once the stages should drop what they pull (drain timeout, or a stage failed). */
  get draining(): boolean {
    return this.stopping;
  }

  /** Posts claimed and not yet written or failed. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Posts written: they leave the pipeline and make room for new claims. */
  finished(posts: readonly P[]): void {
    for (const post of posts) this.inFlight.delete(post.id);
    this.written.push({ at: this.clock(), count: posts.length });
    this.writtenInWindow += posts.length;
    this.roomMade();
  }

  /** How many posts may be leased at once now (see {@link LeaseOptions.inFlight}). */
  window(): number {
    const { min, max, seconds } = this.options.inFlight;
    const since = this.clock() - seconds * 1000;
    while (this.written.length > 0 && this.written[0]!.at < since) this.writtenInWindow -= this.written.shift()!.count;
    return Math.max(min, Math.min(max, this.writtenInWindow));
  }

  private clock(): number {
    return this.options.now ? this.options.now() : performance.now();
  }

  /** A post failed in some stage: it leaves the pipeline and its failure is recorded. */
  async fail(post: P, thrown: unknown): Promise<void> {
    this.inFlight.delete(post.id);
    this.roomMade();
    this.recording++;
    try {
      await this.source.recordFailure(post, coerceError(thrown));
    } finally {
      this.recording--;
      this.recorded++;
    }
  }

  /**
   * Runs the claimer, feeding `intake`, beside the `stages` (started in order), with the heartbeat; a stage that fails
   * stops them all (every queue closed). Resolves to the number of posts released at the end.
   */
  async run(
    intake: BoundedQueue<P>,
    stages: readonly (() => Promise<void>)[],
    queues: readonly { close(): void }[],
  ): Promise<number> {
    const { options } = this;
    const heartbeat = setInterval(
      () => {
        this.source.heartbeat([...this.inFlight.keys()]).catch((error) => {
          this.logger.warn({ err: coerceError(error) }, 'lease heartbeat failed');
        });
      },
      Math.max(250, Math.floor(options.leaseMs / 3)),
    );
    heartbeat.unref();

    // A stage that fails (the database went away while recording a failure) stops the whole pipeline: the claimer
    // must not go on leasing posts into stages nobody drains, and every queue is closed so the others wind down.
    const stopOnFailure = (stage: Promise<void>) =>
      stage.catch((thrown: unknown) => {
        this.broken = true;
        this.stopping = true;
        this.roomMade();
        for (const queue of [intake, ...queues]) queue.close();
        throw thrown;
      });
    const running = Promise.all([this.claimer(intake), ...stages.map((stage) => stage())].map(stopOnFailure));
    let released = 0;
    try {
      if (options.signal)
        await drainOrTimeout(running, options.signal, options.drainTimeoutMs ?? defaultOf('drainTimeoutMs'), () => {
          this.stopping = true;
        });
      else await running;
    } finally {
      clearInterval(heartbeat);
      if (this.inFlight.size > 0) {
        // Whatever is still leased to us (abort, drain timeout) goes back to the pool untouched.
        released = await this.source.release([...this.inFlight.keys()]);
        this.logger.info({ released: this.inFlight.size }, 'released in-flight posts');
      }
    }
    return released;
  }

  private async claimer(intake: BoundedQueue<P>): Promise<void> {
    const { options, inFlight } = this;
    try {
      const deadline = options.maxRunMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.maxRunMs;
      while (!options.signal?.aborted && !this.broken && Date.now() < deadline) {
        // Claim only what the pipeline has room for: claimed posts hold leases.
        const window = this.window();
        const room = window - inFlight.size;
        if (room < options.batchSize) {
          await this.roomOrTimeout(1000);
          continue;
        }
        const recordedBefore = this.recorded;
        const claimSize = Math.max(options.claimSize, Math.min(64, Math.floor(window / 4)));
        const batch = await this.source.claim(Math.min(room, claimSize));
        if (batch.length === 0) {
          if (!options.follow) {
            // Nothing to claim; wait for work in flight that might fail and come back for a retry.
            if (inFlight.size === 0 && this.recording === 0 && this.recorded === recordedBefore) break;
            await sleep(50, options.signal);
            continue;
          }
          await sleep(options.pollMs ?? defaultOf('pollMs'), options.signal);
          continue;
        }
        for (const post of batch) {
          // A post whose lease ran out while it was still in our pipeline (a stalled event loop outlived the
          // heartbeat) comes back to us: the claim renewed the lease, and the copy in flight will write it.
          if (inFlight.has(post.id)) continue;
          inFlight.set(post.id, post);
          await intake.push(post);
        }
      }
    } finally {
      intake.close();
    }
  }

  private roomMade(): void {
    this.wakeClaimer?.();
    this.wakeClaimer = null;
  }

  private roomOrTimeout(ms: number): Promise<void> {
    const signal = this.options.signal;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wakeClaimer = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeClaimer = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

/** Waits for the stages; after an abort, gives them `timeoutMs` to drain, then stops feeding them. */
async function drainOrTimeout(
  stages: Promise<unknown>,
  signal: AbortSignal,
  timeoutMs: number,
  stopWork: () => void,
): Promise<void> {
  const aborted = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.race([stages, aborted]);
  if (!signal.aborted) return;
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
  if ((await Promise.race([stages, timer])) === 'timeout') {
    stopWork();
    await stages;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
