/**
 * An async FIFO with a capacity: `push` waits while the queue is full, `pull` waits while it is empty and returns
 * undefined once the queue is closed and drained. Connecting pipeline stages with these keeps memory bounded however
 * large the backlog is: a slow stage makes the ones before it wait.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private readonly pullers: ((item: T | undefined) => void)[] = [];
  private readonly pushers: (() => void)[] = [];
  private closed = false;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be ≥ 1, got ${capacity}`);
  }

  get size(): number {
    return this.items.length;
  }

  async push(item: T): Promise<void> {
    while (this.items.length >= this.capacity && !this.closed) {
      await new Promise<void>((resolve) => this.pushers.push(resolve));
    }
    if (this.closed) throw new Error('push to a closed queue');
    const puller = this.pullers.shift();
    if (puller) puller(item);
    else this.items.push(item);
  }

  async pull(): Promise<T | undefined> {
    const item = this.items.shift();
    if (item !== undefined) {
      this.pushers.shift()?.();
      return item;
    }
    if (this.closed) return undefined;
    return new Promise<T | undefined>((resolve) => this.pullers.push(resolve));
  }

  /** The next item if one is waiting, else undefined at once (never waits). */
  tryPull(): T | undefined {
    const item = this.items.shift();
    if (item !== undefined) this.pushers.shift()?.();
    return item;
  }

  /** Pulls the next item, or gives up after `ms` (returns undefined; the queue stays open). */
  async pullWithin(ms: number): Promise<T | undefined> {
    const item = this.items.shift();
    if (item !== undefined) {
      this.pushers.shift()?.();
      return item;
    }
    if (this.closed) return undefined;
    return new Promise<T | undefined>((resolve) => {
      const waiter = (value: T | undefined) => {
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        const index = this.pullers.indexOf(waiter);
        if (index >= 0) this.pullers.splice(index, 1);
        resolve(undefined);
      }, ms);
      this.pullers.push(waiter);
    });
  }

  /** No more pushes: pullers drain what is left, then get undefined. */
  close(): void {
    this.closed = true;
    for (const puller of this.pullers.splice(0)) puller(undefined);
    for (const pusher of this.pushers.splice(0)) pusher();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** Runs `count` copies of `worker` and resolves when all have finished. */
export async function runConcurrently(count: number, worker: () => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: Math.max(1, count) }, () => worker()));
}
