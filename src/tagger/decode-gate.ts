/**
 * A process-wide bound on image decodes in flight, weighed by pixels: every caller of {@link letterboxImage} (the
 * worker's decoders, `/evaluate`, the upload page, any number of loaded models) shares one budget, so the memory the
 * decodes hold together stays bounded however many requests arrive at once. Waiters are served in arrival order; a
 * decode larger than the whole budget runs alone.
 */

/** Pixels decoded at once across the process: one image at the default 100 MP limit, or many small ones. */
export const DECODE_PIXEL_BUDGET = 100_000_000;

export class DecodeGate {
  private inUse = 0;
  private readonly waiting: { cost: number; start: () => void }[] = [];

  constructor(readonly budget: number) {}

  /** Runs `work` once `pixels` fit in the budget (capped at the whole budget), releasing them when it settles. */
  async run<T>(pixels: number, work: () => Promise<T>): Promise<T> {
    const cost = Math.min(Math.max(1, pixels), this.budget);
    if (this.waiting.length > 0 || this.inUse + cost > this.budget) {
      await new Promise<void>((start) => this.waiting.push({ cost, start }));
    } else {
      this.inUse += cost;
    }
    try {
      return await work();
    } finally {
      this.inUse -= cost;
      this.startWaiting();
    }
  }

  /** Pixels of the decodes running now, and how many decodes wait. */
  get load(): { pixels: number; waiting: number } {
    return { pixels: this.inUse, waiting: this.waiting.length };
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.inUse + this.waiting[0]!.cost <= this.budget) {
      const next = this.waiting.shift()!;
      this.inUse += next.cost;
      next.start();
    }
  }
}

/** The gate every decode of this process goes through. */
export const decodeGate = new DecodeGate(DECODE_PIXEL_BUDGET);
