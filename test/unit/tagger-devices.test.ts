import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { AppError, ConfigError } from '../../src/shared/errors.js';
import { isOutOfMemory } from '../../src/tagger/batch-choice.js';
import { createLogger } from '../../src/shared/logger.js';
import { missingCudaProviderFiles, parseDevice } from '../../src/tagger/onnx-session.js';
import { DEFAULT_MAX_BATCH, OnnxTagger, runInChunks } from '../../src/tagger/onnx-tagger.js';

const TEST_MODEL_DIR = fileURLToPath(new URL('../../models/test-colors/', import.meta.url));
const logger = createLogger({ level: 'silent' });

describe('parseDevice', () => {
  it.each([
    { device: 'auto', kind: 'auto', deviceId: 0 },
    { device: 'cpu', kind: 'cpu', deviceId: 0 },
    { device: 'cuda', kind: 'cuda', deviceId: 0 },
    { device: 'cuda:3', kind: 'cuda', deviceId: 3 },
    { device: 'webgpu', kind: 'webgpu', deviceId: 0 },
  ])('should read $device', ({ device, kind, deviceId }) => {
    expect(parseDevice(device)).toEqual({ kind, deviceId });
  });

  it.each(['gpu', 'cpu:1', 'cuda:', 'cuda:x', ''])('should refuse %j with USAGE', (device) => {
    expect(() => parseDevice(device)).toThrow(/not one of auto, cpu, cuda, cuda:N, webgpu/);
  });

  it('should be what the DEVICE setting accepts', () => {
    expect(loadConfig({ DEVICE: 'cuda:1' }).device).toBe('cuda:1');
    expect(() => loadConfig({ DEVICE: 'cuda:one' })).toThrow(ConfigError);
  });
});

describe('runInChunks', () => {
  const oom = () => new AppError('MODEL_RUNTIME', 'inference failed: CUDA failure 2: out of memory');

  it('should split into slices of the chunk size, in order', async () => {
    const seen: number[][] = [];

    const sut = await runInChunks(
      [1, 2, 3, 4, 5],
      2,
      async (slice) => {
        seen.push([...slice]);
        return slice.map((n) => n * 10);
      },
      { resizable: true },
    );

    expect(seen).toEqual([[1, 2], [3, 4], [5]]);
    expect(sut).toEqual({ results: [10, 20, 30, 40, 50], chunk: 2 });
  });

  it('should halve the slice on out-of-memory, retry, and keep the smaller size', async () => {
    const shrinks: Array<[number, number]> = [];

    const sut = await runInChunks(
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
      8,
      async (slice) => {
        if (slice.length > 2) throw oom();
        return [...slice];
      },
      { resizable: true, onShrink: (from, to) => shrinks.push([from, to]) },
    );

    expect(sut).toEqual({ results: [1, 2, 3, 4, 5, 6, 7, 8, 9], chunk: 2 });
    expect(shrinks).toEqual([
      [8, 4],
      [4, 2],
    ]);
  });

  it('should give up at batch 1, on a fixed-batch graph, and on errors that are not out-of-memory', async () => {
    await expect(runInChunks([1, 2], 2, async () => Promise.reject(oom()), { resizable: true })).rejects.toThrow(
      /out of memory/,
    );
    await expect(runInChunks([1, 2], 2, async () => Promise.reject(oom()), { resizable: false })).rejects.toThrow(
      /out of memory/,
    );
    let calls = 0;
    await expect(
      runInChunks(
        [1, 2],
        2,
        async () => {
          calls++;
          throw new Error('shape mismatch');
        },
        { resizable: true },
      ),
    ).rejects.toThrow(/shape mismatch/);
    expect(calls).toBe(1);
  });
});

describe('isOutOfMemory', () => {
  it.each([
    'CUDA failure 2: out of memory ; GPU=0',
    'CUDA_ERROR_OUT_OF_MEMORY',
    '[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested buffer of size 123',
    'std::bad_alloc',
  ])('should recognise %j', (message) => {
    expect(isOutOfMemory(new Error(message))).toBe(true);
  });

  it('should not take other failures for memory', () => {
    expect(isOutOfMemory(new Error('Got invalid dimensions for input'))).toBe(false);
  });
});

describe(`${OnnxTagger.name} device selection (CPU-only machine)`, () => {
  const cudaMissing = missingCudaProviderFiles().length > 0;

  it.skipIf(!cudaMissing)(
    'should fail DEVICE=cuda:1 with MODEL_RUNTIME naming the missing provider files',
    async () => {
      const error = await OnnxTagger.load(TEST_MODEL_DIR, { device: 'cuda:1', logger }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('MODEL_RUNTIME');
      expect((error as AppError).message).toMatch(/libonnxruntime_providers_cuda\.so/);
      expect((error as AppError).message).toMatch(/DEVICE=auto or DEVICE=cpu/);
    },
  );

  it('should fail DEVICE=webgpu with MODEL_RUNTIME when no Vulkan adapter starts, or run on it when one does', async () => {
    const result = await OnnxTagger.load(TEST_MODEL_DIR, { device: 'webgpu', logger }).catch((e: unknown) => e);

    if (result instanceof OnnxTagger) {
      expect(result.provider).toBe('webgpu');
      await result.close();
    } else {
      expect((result as AppError).code).toBe('MODEL_RUNTIME');
      expect((result as AppError).message).toMatch(/webgpu execution provider.*Vulkan/s);
    }
  });

  it('should run DEVICE=auto on the CPU with the CPU batch default when CUDA is absent', async () => {
    const sut = await OnnxTagger.load(TEST_MODEL_DIR, { device: 'auto', logger });
    try {
      if (cudaMissing) expect(sut.provider).toBe('cpu');
      expect(sut.batchLimit).toBe(DEFAULT_MAX_BATCH[sut.provider]);
    } finally {
      await sut.close();
    }
  });
});
