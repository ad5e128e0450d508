import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestModel } from '../../scripts/test-model-builder.js';
import { AppError } from '../../src/shared/errors.js';
import { createLogger, type Logger } from '../../src/shared/logger.js';
import { loadModelFolder } from '../../src/tagger/model-folder.js';
import { cudaProviderInstalled } from '../../src/tagger/onnx-session.js';
import { OnnxTagger } from '../../src/tagger/onnx-tagger.js';
import { applyOutputActivation } from '../../src/tagger/output-scores.js';
import { expectedTestModelScores, TEST_MODEL_LABELS } from '../../src/tagger/test-model-spec.js';
import { channelMeans, makeSolidPng, makeTwoTonePng, type Rgb } from '../helpers/images.js';

const TEST_MODEL_DIR = fileURLToPath(new URL('../../models/test-colors/', import.meta.url));
const K = TEST_MODEL_LABELS.length;

/** A logger that keeps its JSON lines for assertions. */
function aRecordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

const silentLogger = createLogger({ level: 'silent' });

function score(scores: Float32Array, name: string): number {
  return scores[TEST_MODEL_LABELS.findIndex((label) => label.name === name)]!;
}

function expectScoresOfTensor(scores: Float32Array, tensor: Float32Array): void {
  const [b, g, r] = channelMeans(tensor);
  const expected = expectedTestModelScores(b, g, r);
  expect(scores.length).toBe(K);
  scores.forEach((value, k) => {
    expect(Math.abs(value - expected[k]!), `${TEST_MODEL_LABELS[k]!.name}: ${value} vs ${expected[k]}`).toBeLessThan(
      1e-4,
    );
  });
}

let tempRoot: string;

/** A copy of the test model folder under the temp root, with files replaced or added. */
async function aModelFolderCopy(name: string, files: Record<string, string | Uint8Array | null> = {}): Promise<string> {
  const dir = join(tempRoot, name);
  await mkdir(dir, { recursive: true });
  for (const file of ['model.onnx', 'selected_tags.csv']) {
    if (!(file in files)) await copyFile(join(TEST_MODEL_DIR, file), join(dir, file));
  }
  for (const [file, content] of Object.entries(files)) {
    if (content !== null) await writeFile(join(dir, file), content);
  }
  return dir;
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

beforeAll(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), 'onnx-tagger-test-'));
});

afterAll(async () => {
  await rm(tempRoot, { recursive: true, force: true });
});

describe(OnnxTagger.name, () => {
  let sut: OnnxTagger;

  beforeAll(async () => {
    sut = await OnnxTagger.load(await loadModelFolder(TEST_MODEL_DIR), { device: 'cpu', logger: silentLogger });
  });

  afterAll(async () => {
    await sut.close();
  });

  describe('load', () => {
    it('should read names, input size and vocabulary from the folder and the graph', () => {
      expect(sut.provider).toBe('cpu');
      expect(sut.inputSize).toBe(448);
      expect(sut.labels.map((label) => label.name)).toEqual(TEST_MODEL_LABELS.map((label) => label.name));
      expect(sut.labels.slice(0, 4).every((label) => label.category === 9)).toBe(true);
      expect(sut.recipe).toMatchObject({ inputName: 'input', outputName: 'output', layout: 'NHWC', channels: 'BGR' });
      expect(sut.model).toMatchObject({ name: 'test-colors', family: 'wd' });
      expect(sut.model.version).toBe(sut.model.sha256.slice(0, 12));
    });

    it('should accept a folder path and log the provider in use', async () => {
      const { logger, lines } = aRecordingLogger();

      const tagger = await OnnxTagger.load(TEST_MODEL_DIR, { device: 'cpu', threads: 1, logger });
      await tagger.close();

      expect(lines.find((line) => line['msg'] === 'tagger ready on cpu')).toMatchObject({
        provider: 'cpu',
        labels: K,
        inputSize: 448,
      });
    });

    it('should fall back to the CPU with a warning when the device is auto and CUDA cannot start', async () => {
      const { logger, lines } = aRecordingLogger();

      const tagger = await OnnxTagger.load(TEST_MODEL_DIR, { device: 'auto', logger });
      await tagger.close();

      // On a machine with a working CUDA provider this loads on CUDA instead, with no warning.
      if (tagger.provider === 'cpu') {
        // Either CUDA was tried and failed, or its provider library is not installed at all (then it is not tried).
        const warned = lines.filter((line) => line['level'] === 40);
        expect(
          warned.some((line) => line['provider'] === 'cuda' || /no CUDA execution provider/.test(String(line['msg']))),
        ).toBe(true);
        expect(cudaProviderInstalled() || warned.some((line) => /no CUDA/.test(String(line['msg'])))).toBe(true);
      } else {
        expect(tagger.provider).toBe('cuda');
      }
    });

    it.each(['cuda', 'webgpu'] as const)(
      'should fail with MODEL_RUNTIME naming what is missing when %s is asked for and cannot start',
      async (device) => {
        const outcome = await OnnxTagger.load(TEST_MODEL_DIR, { device, logger: silentLogger }).then(
          async (tagger) => {
            await tagger.close();
            return tagger.provider;
          },
          (thrown: unknown) => thrown,
        );

        // Where the provider works (a GPU machine), loading succeeds on it; everywhere else the error is clear.
        if (typeof outcome === 'string') {
          expect(outcome).toBe(device);
          return;
        }
        expect(outcome).toBeInstanceOf(AppError);
        expect((outcome as AppError).code).toBe('MODEL_RUNTIME');
        expect((outcome as AppError).message).toMatch(new RegExp(`${device}.*(libonnxruntime_providers|Vulkan)`));
      },
    );

    it('should fail with MODEL_INVALID when the vocabulary has fewer rows than the model has outputs', async () => {
      const csv = await readFile(join(TEST_MODEL_DIR, 'selected_tags.csv'), 'utf8');
      const shortCsv = csv.trimEnd().split('\n').slice(0, -1).join('\n') + '\n';
      const dir = await aModelFolderCopy('short-vocabulary', { 'selected_tags.csv': shortCsv });

      const error = await rejection(OnnxTagger.load(dir, { device: 'cpu', logger: silentLogger }));

      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toMatch(new RegExp(`vocabulary has ${K - 1} labels but the model outputs ${K} scores`));
    });

    it('should fail with MODEL_INVALID when model.json states an input size the graph does not take', async () => {
      const dir = await aModelFolderCopy('wrong-size', { 'model.json': JSON.stringify({ inputSize: 224 }) });

      const error = await rejection(OnnxTagger.load(dir, { device: 'cpu', logger: silentLogger }));

      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toMatch(/inputSize 224 but the graph takes 448/);
    });

    it('should fail with MODEL_INVALID when the layout does not fit the input shape', async () => {
      const dir = await aModelFolderCopy('wrong-layout', { 'model.json': JSON.stringify({ layout: 'NCHW' }) });

      const error = await rejection(OnnxTagger.load(dir, { device: 'cpu', logger: silentLogger }));

      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toMatch(/set "layout" in model.json/);
    });

    it('should fail with MODEL_INVALID when model.json names an input the graph lacks', async () => {
      const dir = await aModelFolderCopy('wrong-input', { 'model.json': JSON.stringify({ inputName: 'pixels' }) });

      const error = await rejection(OnnxTagger.load(dir, { device: 'cpu', logger: silentLogger }));

      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toMatch(/no input named "pixels" \(inputs: input\)/);
    });

    it('should fail with MODEL_INVALID when model.onnx is not an ONNX model', async () => {
      const dir = await aModelFolderCopy('garbage-model', { 'model.onnx': 'this is not protobuf' });

      const error = await rejection(OnnxTagger.load(dir, { device: 'cpu', logger: silentLogger }));

      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toMatch(/onnxruntime cannot load the model/);
    });
  });

  describe('predictBatch', () => {
    const colours: Array<{ name: string; rgb: Rgb; fires: string[] }> = [
      { name: 'red', rgb: [255, 0, 0], fires: ['red_theme', 'questionable', 'explicit', 'sensitive'] },
      { name: 'green', rgb: [0, 255, 0], fires: ['green_theme', 'general'] },
      { name: 'blue', rgb: [0, 0, 255], fires: ['blue_theme', 'general'] },
      { name: 'aqua', rgb: [0, 255, 255], fires: ['aqua_theme', 'hatsune_miku', 'general'] },
      { name: 'yellow', rgb: [255, 255, 0], fires: ['yellow_theme', 'general'] },
      { name: 'black', rgb: [0, 0, 0], fires: ['dark', 'general'] },
      { name: 'white', rgb: [255, 255, 255], fires: ['white_background', 'general'] },
    ];

    it('should score solid colours in one batch exactly as the test model is built', async () => {
      const images = await Promise.all(colours.map(({ rgb }) => makeSolidPng(448, 448, rgb)));
      const tensors = await Promise.all(images.map((image) => sut.preprocess(image)));

      const scores = await sut.predictBatch(tensors);

      expect(scores).toHaveLength(colours.length);
      colours.forEach(({ name, rgb, fires }, i) => {
        expect(channelMeans(tensors[i]!), name).toEqual([rgb[2], rgb[1], rgb[0]]);
        expectScoresOfTensor(scores[i]!, tensors[i]!);
        TEST_MODEL_LABELS.forEach((label, k) => {
          const value = scores[i]![k]!;
          if (fires.includes(label.name)) expect(value, `${name} → ${label.name}`).toBeGreaterThan(0.85);
          else expect(value, `${name} → ${label.name}`).toBeLessThan(0.15);
        });
      });
    });

    it('should score two-tone and padded images from their letterboxed means', async () => {
      const images = await Promise.all([
        makeTwoTonePng(448, 448, 224, [255, 0, 0], [0, 255, 255]),
        makeTwoTonePng(300, 300, 100, [0, 0, 0], [255, 255, 255]),
        makeTwoTonePng(600, 200, 300, [0, 128, 255], [255, 128, 0]),
        makeSolidPng(100, 400, [0, 255, 255]),
      ]);
      const tensors = await Promise.all(images.map((image) => sut.preprocess(image)));

      const scores = await sut.predictBatch(tensors);

      for (const [i, tensor] of tensors.entries()) expectScoresOfTensor(scores[i]!, tensor);
      // Half red, half aqua (no resize): exact means 127.5 each, so mixed scores land in between.
      expect(channelMeans(tensors[0]!)).toEqual([127.5, 127.5, 127.5]);
      expect(score(scores[0]!, 'general')).toBeCloseTo(0.8808, 3);
      // An aqua strip padded with white is mostly white: Miku does not fire.
      expect(score(scores[3]!, 'hatsune_miku')).toBeLessThan(0.01);
    });

    it('should give a batch of N the same scores as N single runs', async () => {
      const images = await Promise.all([
        makeSolidPng(448, 448, [200, 30, 30]),
        makeTwoTonePng(448, 448, 100, [0, 200, 200], [20, 20, 20]),
        makeSolidPng(50, 80, [250, 250, 0]),
      ]);
      const tensors = await Promise.all(images.map((image) => sut.preprocess(image)));

      const batched = await sut.predictBatch(tensors);
      const singles = await Promise.all(tensors.map(async (tensor) => (await sut.predictBatch([tensor]))[0]!));

      // Not bit-identical: onnxruntime may sum a batch in a different order (a few 1e-6 apart).
      for (const [i, scores] of batched.entries()) {
        for (const [k, value] of scores.entries()) expect(Math.abs(value - singles[i]![k]!)).toBeLessThan(1e-5);
      }
    });

    it('should return nothing for an empty batch', async () => {
      expect(await sut.predictBatch([])).toEqual([]);
    });

    it('should refuse a tensor of the wrong length with MODEL_RUNTIME', async () => {
      const error = await rejection(sut.predictBatch([new Float32Array(10)]));

      expect(error.code).toBe('MODEL_RUNTIME');
    });

    it('should run one image at a time when the graph has a fixed batch of 1', async () => {
      const dir = await aModelFolderCopy('fixed-batch', { 'model.onnx': buildTestModel({ batch: 1 }) });
      const fixed = await OnnxTagger.load(dir, { device: 'cpu', logger: silentLogger });
      const images = await Promise.all([
        makeSolidPng(448, 448, [255, 0, 0]),
        makeSolidPng(448, 448, [0, 255, 255]),
        makeSolidPng(20, 10, [0, 0, 0]),
      ]);
      const tensors = await Promise.all(images.map((image) => fixed.preprocess(image)));

      const scores = await fixed.predictBatch(tensors);
      await fixed.close();

      expect(scores).toHaveLength(3);
      for (const [i, tensor] of tensors.entries()) expectScoresOfTensor(scores[i]!, tensor);
    });
  });

  describe('predictImages', () => {
    it('should return scores for good images and an AppError in the slot of a bad one', async () => {
      const images = [
        await makeSolidPng(448, 448, [0, 255, 255]),
        Buffer.from('definitely not an image'),
        Buffer.alloc(0),
        await makeSolidPng(30, 30, [255, 0, 0]),
      ];

      const results = await sut.predictImages(images);

      expect(results).toHaveLength(4);
      expect(results[0]).toBeInstanceOf(Float32Array);
      expect(score(results[0] as Float32Array, 'hatsune_miku')).toBeGreaterThan(0.99);
      expect(results[1]).toMatchObject({ code: 'MEDIA_CORRUPT' });
      expect(results[2]).toMatchObject({ code: 'MEDIA_CORRUPT' });
      expect(score(results[3] as Float32Array, 'red_theme')).toBeGreaterThan(0.99);
    });
  });

  describe('close', () => {
    it('should make later predictions fail with MODEL_RUNTIME', async () => {
      const tagger = await OnnxTagger.load(TEST_MODEL_DIR, { device: 'cpu', logger: silentLogger });
      await tagger.close();
      await tagger.close();

      const error = await rejection(tagger.predictBatch([]));

      expect(error.code).toBe('MODEL_RUNTIME');
    });
  });
});

describe('applyOutputActivation', () => {
  it('should leave scores alone for none', () => {
    const sut = Float32Array.from([0.25, 2]);
    applyOutputActivation(sut, 'none');
    expect(Array.from(sut)).toEqual([0.25, 2]);
  });

  it('should apply the logistic function for sigmoid', () => {
    const sut = Float32Array.from([0, Math.log(3)]);
    applyOutputActivation(sut, 'sigmoid');
    expect(sut[0]).toBeCloseTo(0.5, 6);
    expect(sut[1]).toBeCloseTo(0.75, 6);
  });

  it('should normalise the row for softmax, stable for large logits', () => {
    const sut = Float32Array.from([1000, 1000 + Math.log(3)]);
    applyOutputActivation(sut, 'softmax');
    expect(sut[0]).toBeCloseTo(0.25, 5);
    expect(sut[1]).toBeCloseTo(0.75, 5);
  });
});
