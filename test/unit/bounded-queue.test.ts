import { describe, expect, it } from 'vitest';
import { BoundedQueue, runConcurrently } from '../../src/worker/bounded-queue.js';

describe('BoundedQueue', () => {
  describe('push', () => {
    it('should wait while the queue is full', async () => {
      const sut = new BoundedQueue<number>(2);
      await sut.push(1);
      await sut.push(2);
      let third = false;
      const pending = sut.push(3).then(() => {
        third = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(third).toBe(false);
      expect(sut.size).toBe(2);
      expect(await sut.pull()).toBe(1);
      await pending;
      expect(third).toBe(true);
      expect(sut.size).toBe(2);
    });

    it('should refuse a push after close', async () => {
      const sut = new BoundedQueue<number>(1);
      sut.close();
      await expect(sut.push(1)).rejects.toThrow('closed');
    });
  });

  describe('pull', () => {
    it('should hand items over in order and end after close once drained', async () => {
      const sut = new BoundedQueue<number>(3);
      await sut.push(1);
      await sut.push(2);
      sut.close();
      expect([await sut.pull(), await sut.pull(), await sut.pull()]).toEqual([1, 2, undefined]);
    });

    it('should wake a waiting puller on push and on close', async () => {
      const sut = new BoundedQueue<string>(1);
      const first = sut.pull();
      await sut.push('a');
      expect(await first).toBe('a');
      const second = sut.pull();
      sut.close();
      expect(await second).toBeUndefined();
    });
  });

  describe('pullWithin', () => {
    it('should give up after the wait and leave the queue usable', async () => {
      const sut = new BoundedQueue<number>(1);
      expect(await sut.pullWithin(10)).toBeUndefined();
      await sut.push(7);
      expect(await sut.pullWithin(10)).toBe(7);
    });
  });

  describe('tryPull', () => {
    it('should return what is waiting without waiting, and release a blocked pusher', async () => {
      const sut = new BoundedQueue<number>(1);
      expect(sut.tryPull()).toBeUndefined();
      await sut.push(1);
      let pushed = false;
      const second = sut.push(2).then(() => {
        pushed = true;
      });
      expect(sut.tryPull()).toBe(1);
      await second;
      expect(pushed).toBe(true);
      expect(sut.tryPull()).toBe(2);
      expect(sut.tryPull()).toBeUndefined();
    });
  });

  it('should keep a producer and slow consumers within the capacity', async () => {
    const sut = new BoundedQueue<number>(4);
    let maxSize = 0;
    const consumed: number[] = [];
    const producer = (async () => {
      for (let i = 0; i < 100; i++) {
        await sut.push(i);
        maxSize = Math.max(maxSize, sut.size);
      }
      sut.close();
    })();
    await runConcurrently(3, async () => {
      for (let item = await sut.pull(); item !== undefined; item = await sut.pull()) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        consumed.push(item);
      }
    });
    await producer;
    expect(maxSize).toBeLessThanOrEqual(4);
    expect(consumed.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
