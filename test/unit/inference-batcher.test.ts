/** The batching front: concurrent callers share model runs, each gets its own rows back, failures reach everyone. */
import { describe, expect, it } from 'vitest';
import type { ScoreVector } from '../../src/core/types.js';
import { AppError } from '../../src/shared/errors.js';
import { InferenceBatcher } from '../../src/tagger/inference-batcher.js';
import type { Tagger } from '../../src/tagger/tagger.js';

/** A tagger whose "score" of a tensor is its first value; records the size of every run. */
function aRecordingTagger(options: { fail?: boolean; delayMs?: number } = {}) {
  const runs: number[] = [];
  let closed = false;
  const tagger: Tagger = {
    model: {
      name: 'fake',
      version: '1',
      sha256: '0'.repeat(64),
      family: 'wd',
      purpose: 'tags',
      labels: [{ name: 'x', category: 0 }],
      recipe: {} as Tagger['model']['recipe'],
    },
    labels: [{ name: 'x', category: 0 }],
    provider: 'cpu',
    inputSize: 1,
    async preprocess(image) {
      if (image.length === 0) throw new AppError('MEDIA_CORRUPT', 'empty');
      return Float32Array.of(image[0]!);
    },
    async predictBatch(tensors) {
      runs.push(tensors.length);
      await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 1));
      if (options.fail) throw new AppError('MODEL_RUNTIME', 'boom');
      return tensors.map((t): ScoreVector => Float32Array.of(t[0]!));
    },
    async predictImages() {
      throw new Error('not used');
    },
    async close() {
      closed = true;
    },
  };
  return { tagger, runs, isClosed: () => closed };
}

const tensor = (value: number) => Float32Array.of(value);

describe('InferenceBatcher', () => {
  describe('predictBatch', () => {
    it('should merge callers that arrive within the window into one run, and give each its own rows', async () => {
      const inner = aRecordingTagger();
      const sut = new InferenceBatcher(inner.tagger, { maxBatch: 16, windowMs: 20 });
      const results = await Promise.all([
        sut.predictBatch([tensor(1), tensor(2)]),
        sut.predictBatch([tensor(3)]),
        sut.predictBatch([tensor(4), tensor(5), tensor(6)]),
      ]);
      expect(inner.runs).toEqual([6]);
      expect(results.map((r) => r.map((s) => s[0]))).toEqual([[1, 2], [3], [4, 5, 6]]);
      expect(sut.stats).toEqual({ runs: 1, images: 6, requests: 3 });
    });

    it('should start at once when the batch is full, and never split a caller across runs', async () => {
      const inner = aRecordingTagger({ delayMs: 10 });
      const sut = new InferenceBatcher(inner.tagger, { maxBatch: 4, windowMs: 10_000 });
      const results = await Promise.all([
        sut.predictBatch([tensor(1), tensor(2), tensor(3)]),
        sut.predictBatch([tensor(4), tensor(5)]),
        sut.predictBatch([tensor(6), tensor(7)]),
      ]);
      // 3 + 2 > 4: the first runs alone as soon as the batch is full; the rest waited during that run and go next.
      expect(inner.runs).toEqual([3, 4]);
      expect(results.map((r) => r.map((s) => s[0]))).toEqual([
        [1, 2, 3],
        [4, 5],
        [6, 7],
      ]);
    });

    it('should reject every caller of a failed run, and keep serving afterwards', async () => {
      const inner = aRecordingTagger({ fail: true });
      const sut = new InferenceBatcher(inner.tagger, { windowMs: 5 });
      const outcomes = await Promise.allSettled([sut.predictBatch([tensor(1)]), sut.predictBatch([tensor(2)])]);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
      await expect(sut.predictBatch([tensor(3)])).rejects.toThrow('boom');
    });

    it('should refuse work once closed, close the inner tagger, and fail what was queued', async () => {
      const inner = aRecordingTagger();
      const sut = new InferenceBatcher(inner.tagger, { windowMs: 1000 });
      const queued = sut.predictBatch([tensor(1)]);
      await sut.close();
      await expect(queued).rejects.toThrow(/closed/);
      await expect(sut.predictBatch([tensor(2)])).rejects.toThrow(/closed/);
      expect(inner.isClosed()).toBe(true);
    });
  });

  describe('predictImages', () => {
    it('should put an unusable image’s error in its slot and score the rest in one run', async () => {
      const inner = aRecordingTagger();
      const sut = new InferenceBatcher(inner.tagger, { windowMs: 1 });
      const results = await sut.predictImages([Buffer.from([7]), Buffer.alloc(0), Buffer.from([9])]);
      expect(results[0]).toEqual(Float32Array.of(7));
      expect(results[1]).toBeInstanceOf(AppError);
      expect(results[2]).toEqual(Float32Array.of(9));
      expect(inner.runs).toEqual([2]);
    });
  });
});
