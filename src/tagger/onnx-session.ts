/**
 * Opening an onnxruntime-node session for a model folder: the device string, the execution providers each device
 * tries (and whether onnxruntime-node's CUDA provider is installed at all), and the start-up check that the graph
 * agrees with the folder (input layout and size, output width = vocabulary size).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { planCpu } from './cpu-plan.js';
import type { ModelFolder } from './model-folder.js';
import { type ModelSession, ThreadedSession } from './session-thread.js';
import type { Device, ExecutionProvider } from './tagger.js';

/** How to open a session (part of `OnnxTaggerOptions`). */
export interface SessionOptions {
  /** Where to run. `cuda[:N]`/`webgpu` fail with MODEL_RUNTIME when unavailable; `auto` tries CUDA, then the CPU. */
  device: Device;
  /** onnxruntime intra-op threads. (Default: by the provider in use, see `planCpu` in cpu-plan.ts) */
  threads?: number;
  /** The cores this process may use, for the default threads. (Default: `usableCores()`) */
  cores?: number;
  logger: Logger;
}

type DeviceKind = 'auto' | 'cpu' | 'cuda' | 'webgpu';

// What each device asks onnxruntime for, in order. WebGPU is only tried when asked for by name: it is unmeasured on
// our GPUs, and a software Vulkan adapter could "succeed" and be slower than the CPU.
const PROVIDER_ATTEMPTS: Record<DeviceKind, ExecutionProvider[]> = {
  auto: ['cuda', 'cpu'],
  cpu: ['cpu'],
  cuda: ['cuda'],
  webgpu: ['webgpu'],
};

/** `cuda:1` → { kind: 'cuda', deviceId: 1 }; throws USAGE for anything that is not a {@link Device}. */
export function parseDevice(device: string): { kind: DeviceKind; deviceId: number } {
  const match = /^(auto|cpu|cuda|webgpu)(?::(\d{1,2}))?$/.exec(device);
  if (match === null || (match[2] !== undefined && match[1] !== 'cuda')) {
    throw new AppError('USAGE', `device "${device}" is not one of auto, cpu, cuda, cuda:N, webgpu`);
  }
  return { kind: match[1] as DeviceKind, deviceId: match[2] === undefined ? 0 : Number(match[2]) };
}

const PROVIDER_NEEDS: Record<ExecutionProvider, string> = {
  cpu: 'a valid ONNX model',
  cuda: 'libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so beside the onnxruntime-node binding, and CUDA + cuDNN libraries on the library path',
  webgpu: 'a GPU driver with Vulkan (libvulkan.so.1)',
};

/** What the loader learned from the graph itself. */
export interface GraphShape {
  inputName: string;
  outputName: string;
  inputSize: number;
  /** A fixed batch dimension, or null when it is symbolic. */
  fixedBatch: number | null;
}

function invalidModel(folder: Pick<ModelFolder, 'modelPath' | 'name'>, problem: string): AppError {
  return new AppError('MODEL_INVALID', `${folder.modelPath}: ${problem}`, { details: { model: folder.name } });
}

function describeShape(shape: ReadonlyArray<number | string>): string {
  return `[${shape.join(', ')}]`;
}

/** Reads the input/output names, input size and batch from the graph; MODEL_INVALID where it disagrees with the folder. */
export function inspectGraph(session: ModelSession, folder: ModelFolder, logger: Logger): GraphShape {
  const { recipe } = folder;
  const inputName = recipe.inputName ?? session.inputNames[0];
  const outputName = recipe.outputName ?? session.outputNames[0];
  const input = session.inputMetadata.find((m) => m.name === inputName);
  const output = session.outputMetadata.find((m) => m.name === outputName);
  if (inputName === undefined || input === undefined) {
    throw invalidModel(folder, `no input named "${inputName}" (inputs: ${session.inputNames.join(', ')})`);
  }
  if (outputName === undefined || output === undefined) {
    throw invalidModel(folder, `no output named "${outputName}" (outputs: ${session.outputNames.join(', ')})`);
  }
  if (!input.isTensor || input.type !== 'float32' || input.shape.length !== 4) {
    const got = input.isTensor ? `${input.type} ${describeShape(input.shape)}` : 'a non-tensor';
    throw invalidModel(folder, `input "${inputName}" must be a float32 tensor of rank 4, got ${got}`);
  }
  if (!output.isTensor || output.type !== 'float32' || output.shape.length !== 2) {
    const got = output.isTensor ? `${output.type} ${describeShape(output.shape)}` : 'a non-tensor';
    throw invalidModel(folder, `output "${outputName}" must be a float32 tensor [batch, labels], got ${got}`);
  }

  const [batch, ...rest] = input.shape;
  const [height, width, channels] = recipe.layout === 'NHWC' ? rest : [rest[1], rest[2], rest[0]];
  if (typeof channels === 'number' && channels !== 3) {
    throw invalidModel(
      folder,
      `input shape ${describeShape(input.shape)} has ${channels} channels where ${recipe.layout} puts them; set "layout" in model.json`,
    );
  }
  let inputSize = recipe.inputSize;
  if (typeof height === 'number' || typeof width === 'number') {
    if (height !== width) throw invalidModel(folder, `input ${describeShape(input.shape)} is not square`);
    const graphSize = height as number;
    if (graphSize !== recipe.inputSize) {
      if (folder.manifest?.inputSize !== undefined) {
        throw invalidModel(folder, `model.json says inputSize ${recipe.inputSize} but the graph takes ${graphSize}`);
      }
      logger.info({ inputSize: graphSize, familyDefault: recipe.inputSize }, 'input size taken from the graph');
      inputSize = graphSize;
    }
  }

  const outputWidth = output.shape[1];
  if (typeof outputWidth === 'number' && outputWidth !== folder.labels.length) {
    throw invalidModel(
      folder,
      `vocabulary has ${folder.labels.length} labels but the model outputs ${outputWidth} scores; the vocabulary file does not belong to this model`,
    );
  }
  return { inputName, outputName, inputSize, fixedBatch: typeof batch === 'number' ? batch : null };
}

/**
 * Whether onnxruntime-node's CUDA provider library is installed beside its binding. The default install (no NuGet)
 * has none; probing it anyway makes onnxruntime print a native "failed to load" line on every start.
 */
export function cudaProviderInstalled(): boolean {
  return missingCudaProviderFiles().length === 0;
}

/** The CUDA provider libraries onnxruntime-node needs beside its binding that are absent (full paths). */
export function missingCudaProviderFiles(): string[] {
  const root = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const binding = join(root, 'bin', 'napi-v6', process.platform, process.arch);
  const [shared, cuda] =
    process.platform === 'win32'
      ? ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll']
      : ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
  return [join(binding, shared), join(binding, cuda)].filter((path) => !existsSync(path));
}

/** The loggers already told that `auto` found no CUDA provider: said once per process, not once per model loaded. */
const warnedNoCuda = new WeakSet<Logger>();

/** Opens the session on the first provider of the device that starts (MODEL_RUNTIME when a named device cannot). */
export async function createSession(
  folder: Pick<ModelFolder, 'modelPath' | 'name'>,
  options: SessionOptions,
): Promise<{ session: ModelSession; provider: ExecutionProvider; threads: number }> {
  const { kind, deviceId } = parseDevice(options.device);
  let attempts = PROVIDER_ATTEMPTS[kind];
  const missing = attempts.includes('cuda') ? missingCudaProviderFiles() : [];
  if (missing.length > 0 && kind === 'auto') {
    if (!warnedNoCuda.has(options.logger)) {
      warnedNoCuda.add(options.logger);
      options.logger.warn(
        { missing },
        'DEVICE=auto: no CUDA execution provider installed beside onnxruntime-node, so NO GPU IS USED: running on ' +
          `the CPU (missing ${missing.join(', ')}). On a GPU machine, scripts/gpu-check.sh installs it (README, GPU); ` +
          'DEVICE=cpu silences this.',
      );
    }
    attempts = attempts.filter((provider) => provider !== 'cuda');
  } else if (missing.length > 0) {
    throw new AppError(
      'MODEL_RUNTIME',
      `device "${options.device}" needs onnxruntime-node's CUDA execution provider, which is not installed: missing ` +
        `${missing.join(', ')}. Install it on the GPU machine (README, GPU), or use DEVICE=auto or DEVICE=cpu.`,
      { details: { missing, device: options.device } },
    );
  }
  for (const provider of attempts) {
    try {
      const executionProvider =
        provider === 'cuda'
          ? { name: 'cuda' as const, deviceId }
          : provider === 'webgpu'
            ? { name: 'webgpu' as const }
            : 'cpu';
      const threads = planCpu({
        provider,
        ...(options.cores === undefined ? {} : { cores: options.cores }),
        ...(options.threads === undefined ? {} : { threads: options.threads }),
      }).inferenceThreads;
      const session = await ThreadedSession.create(folder.modelPath, {
        executionProviders: [executionProvider],
        graphOptimizationLevel: 'all',
        interOpNumThreads: 1,
        intraOpNumThreads: threads,
      });
      return { session, provider, threads };
    } catch (thrown) {
      const error = coerceError(thrown);
      const isLast = provider === attempts[attempts.length - 1];
      if (!isLast) {
        options.logger.warn(
          { err: error, provider, device: options.device },
          `${provider} execution provider unavailable, falling back`,
        );
        continue;
      }
      if (provider === 'cpu') {
        throw invalidModel(folder, `onnxruntime cannot load the model: ${error.message}`);
      }
      throw new AppError(
        'MODEL_RUNTIME',
        `device "${options.device}" asked for the ${provider} execution provider, which onnxruntime could not start ` +
          `(it needs ${PROVIDER_NEEDS[provider]}): ${error.message.split('\n')[0]}. Use DEVICE=auto or DEVICE=cpu to run on the CPU.`,
        { cause: error, details: { provider } },
      );
    }
  }
  throw new AppError('MODEL_RUNTIME', `no execution provider to try for device "${options.device}"`);
}
