import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFamilyModel } from '../../scripts/test-model-builder.js';
import { AppError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';
import { OnnxTagger } from '../../src/tagger/onnx-tagger.js';
import {
  DEEPDANBOORU_TEST_MODEL,
  expectedFamilyScores,
  type FamilyLabelSpec,
  type FamilyModelSpec,
  NCHW_LOGITS_TEST_MODEL,
} from '../../scripts/test-family-specs.js';
import { makeSolidPng, makeTwoTonePng, type Rgb } from '../helpers/images.js';

const MODELS = fileURLToPath(new URL('../../models/', import.meta.url));
const VOCAB = fileURLToPath(new URL('../../../shared/vocab/', import.meta.url));
const logger = createLogger({ level: 'silent' });

/** Channel means of one image's tensor in either layout, in tensor channel order (float64). */
function tensorMeans(tensor: Float32Array, layout: 'NHWC' | 'NCHW'): [number, number, number] {
  const pixels = tensor.length / 3;
  const sums = [0, 0, 0];
  for (let i = 0; i < tensor.length; i++) sums[layout === 'NHWC' ? i % 3 : Math.floor(i / pixels)]! += tensor[i]!;
  return [sums[0]! / pixels, sums[1]! / pixels, sums[2]! / pixels];
}

function expectClose(actual: Float32Array, expected: readonly number[], labels: readonly FamilyLabelSpec[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((value, k) => {
    expect(Math.abs(value - expected[k]!), `${labels[k]!.name}: ${value} vs ${expected[k]}`).toBeLessThan(1e-4);
  });
}

let tempRoot: string;
beforeAll(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), 'tagger-families-'));
});
afterAll(async () => {
  await rm(tempRoot, { recursive: true, force: true });
});

describe('OnnxTagger on a DeepDanbooru folder (models/test-deepdanbooru)', () => {
  const spec = DEEPDANBOORU_TEST_MODEL;
  let sut: OnnxTagger;
  beforeAll(async () => {
    sut = await OnnxTagger.load(join(MODELS, spec.folder), { device: 'cpu', logger });
  });
  afterAll(() => sut.close());

  it('should detect the family from tags.txt and read ratings and characters into their categories', () => {
    expect(sut.model.family).toBe('deepdanbooru');
    expect(sut.model.purpose).toBe('tags');
    expect(sut.inputSize).toBe(512);
    expect(sut.labels).toEqual(spec.labels.map(({ name, category }) => ({ name, category })));
    expect(sut.recipe).toMatchObject({ layout: 'NHWC', channels: 'RGB', scale: '0-1', fit: 'contain', pad: 'edge' });
  });

  it.each<{ colour: Rgb }>([{ colour: [230, 20, 20] }, { colour: [20, 200, 190] }, { colour: [250, 250, 250] }])(
    'should score a solid $colour image from its RGB means on the 0–1 scale',
    async ({ colour }) => {
      const png = await makeSolidPng(300, 180, colour);

      const [scores] = await sut.predictImages([png]);

      const means = colour.map((c) => c / 255) as unknown as [number, number, number];
      expectClose(scores as Float32Array, expectedFamilyScores(spec, means), spec.labels);
    },
  );

  it('should pad a wide two-tone image with its own edge pixels, so the means are those of the image', async () => {
    // Left half red, right half blue, 512 wide: no resize; edge padding repeats the top and bottom rows, which are
    // half red, half blue too, so the tensor's means equal the image's.
    const png = await makeTwoTonePng(512, 200, 256, [255, 0, 0], [0, 0, 255]);

    const tensor = await sut.preprocess(png);
    const [scores] = await sut.predictBatch([tensor]);

    expect(tensorMeans(tensor, 'NHWC').map((m) => Number(m.toFixed(6)))).toEqual([0.5, 0, 0.5]);
    expectClose(scores!, expectedFamilyScores(spec, [0.5, 0, 0.5]), spec.labels);
  });
});

describe('OnnxTagger on a custom NCHW logits model (models/test-nchw-logits)', () => {
  const spec = NCHW_LOGITS_TEST_MODEL;
  let sut: OnnxTagger;
  beforeAll(async () => {
    sut = await OnnxTagger.load(join(MODELS, spec.folder), { device: 'cpu', logger, maxBatch: 4 });
  });
  afterAll(() => sut.close());

  it('should take the recipe, tensor names and thresholds from model.json and the size from the graph', () => {
    expect(sut.model.family).toBe('custom');
    expect(sut.inputSize).toBe(64);
    expect(sut.recipe).toMatchObject({ layout: 'NCHW', inputName: 'pixel_values', outputName: 'logits' });
    expect(sut.model.manifestThresholds).toEqual({ general: 0.4, dark: 0.6 });
    expect(sut.batchLimit).toBe(1);
  });

  it('should normalise with mean/std, read the named output and apply the sigmoid, one image per run', async () => {
    const colours: Rgb[] = [
      [255, 0, 0],
      [0, 255, 0],
      [10, 10, 10],
    ];
    const pngs = await Promise.all(colours.map((c) => makeSolidPng(64, 64, c)));

    const results = await sut.predictImages(pngs);

    results.forEach((scores, i) => {
      const means = colours[i]!.map((c) => (c / 255 - 0.5) / 0.5) as unknown as [number, number, number];
      expectClose(scores as Float32Array, expectedFamilyScores(spec, means), spec.labels);
    });
  });

  it('should pad with black as model.json says', async () => {
    // 64×32 white: half the square is black padding, so each normalised mean is (1 + −1) / 2 = 0.
    const tensor = await sut.preprocess(await makeSolidPng(64, 32, [255, 255, 255]));

    expect(tensorMeans(tensor, 'NCHW').map((m) => Math.abs(Number(m.toFixed(6))))).toEqual([0, 0, 0]);
  });
});

/** A model folder in the temp root with a generated graph of `width` outputs and the given vocabulary files. */
async function aWideModel(
  name: string,
  spec: Pick<FamilyModelSpec, 'layout' | 'inputSize' | 'graphActivation'>,
  width: number,
  files: Record<string, string>,
): Promise<string> {
  const dir = join(tempRoot, name);
  await mkdir(dir, { recursive: true });
  const labels = Array.from({ length: width }, (_, i) => ({
    name: `l${i}`,
    category: 0,
    weights: [((i % 7) - 3) / 100, ((i % 5) - 2) / 100, ((i % 3) - 1) / 100] as const,
    bias: (i % 11) / 10 - 0.5,
  }));
  const model = buildFamilyModel({
    ...spec,
    folder: name,
    inputName: 'input',
    outputName: 'output',
    batch: null,
    decoyOutput: false,
    labels,
    manifest: null,
  });
  await writeFile(join(dir, 'model.onnx'), model);
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}

function countByCategory(labels: readonly { category: number }[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const { category } of labels) out[category] = (out[category] ?? 0) + 1;
  return out;
}

describe('OnnxTagger with the real vocabularies (../shared/vocab)', () => {
  const wdCsv = join(VOCAB, 'wd_v3_selected_tags.csv');
  const ddTags = join(VOCAB, 'deepdanbooru_v3_20211112_tags.txt');
  const ddCharacters = join(VOCAB, 'deepdanbooru_v3_20211112_tags-character.derived.txt');
  if (!existsSync(wdCsv) || !existsSync(ddTags)) {
    it.skip(`should load the real vocabularies (skipped: ${VOCAB} is absent)`, () => {});
    return;
  }

  it('should load WD v3 selected_tags.csv (10,861 labels) against a graph of the same width and run it', async () => {
    const dir = await aWideModel('wd-wide', { layout: 'NHWC', inputSize: 448, graphActivation: 'sigmoid' }, 10_861, {
      'selected_tags.csv': await readFile(wdCsv, 'utf8'),
    });

    const sut = await OnnxTagger.load(dir, { device: 'cpu', logger });
    try {
      expect(sut.model.family).toBe('wd');
      expect(sut.labels).toHaveLength(10_861);
      expect(countByCategory(sut.labels)).toEqual({ 9: 4, 0: 8106, 4: 2751 });
      expect(sut.labels.slice(0, 4).map((l) => l.name)).toEqual(['general', 'sensitive', 'questionable', 'explicit']);
      const [scores] = await sut.predictImages([await makeSolidPng(40, 30, [200, 100, 50])]);
      expect((scores as Float32Array).length).toBe(10_861);
    } finally {
      await sut.close();
    }
  });

  it('should refuse WD v3 selected_tags.csv against a graph one output narrower, naming both sizes', async () => {
    const dir = await aWideModel('wd-narrow', { layout: 'NHWC', inputSize: 448, graphActivation: 'sigmoid' }, 10_860, {
      'selected_tags.csv': await readFile(wdCsv, 'utf8'),
    });

    const error = await OnnxTagger.load(dir, { device: 'cpu', logger }).catch((thrown: unknown) => thrown);

    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('MODEL_INVALID');
    expect((error as AppError).message).toMatch(/vocabulary has 10861 labels but the model outputs 10860 scores/);
  });

  it('should load DeepDanbooru v3 tags.txt (9,176 labels, no trailing newline) with its characters and ratings', async () => {
    const dir = await aWideModel('dd-wide', { layout: 'NHWC', inputSize: 512, graphActivation: 'sigmoid' }, 9176, {
      'tags.txt': await readFile(ddTags, 'utf8'),
      'tags-character.txt': await readFile(ddCharacters, 'utf8'),
    });

    const sut = await OnnxTagger.load(dir, { device: 'cpu', logger });
    try {
      expect(sut.model.family).toBe('deepdanbooru');
      expect(sut.labels).toHaveLength(9176);
      expect(countByCategory(sut.labels)).toEqual({ 0: 6891, 4: 2282, 9: 3 });
      expect(sut.labels.slice(-3).map((l) => l.name)).toEqual([
        'rating:safe',
        'rating:questionable',
        'rating:explicit',
      ]);
      const [scores] = await sut.predictImages([await makeSolidPng(700, 300, [10, 200, 30])]);
      expect((scores as Float32Array).length).toBe(9176);
    } finally {
      await sut.close();
    }
  });
});

describe('OnnxTagger on a fixed-batch copy of the DeepDanbooru test model', () => {
  it('should run every image when the graph accepts only batch 1', async () => {
    const dir = join(tempRoot, 'dd-batch1');
    await mkdir(dir, { recursive: true });
    for (const file of ['tags.txt', 'tags-character.txt']) {
      await copyFile(join(MODELS, DEEPDANBOORU_TEST_MODEL.folder, file), join(dir, file));
    }
    await writeFile(join(dir, 'model.onnx'), buildFamilyModel({ ...DEEPDANBOORU_TEST_MODEL, batch: 1 }));
    const sut = await OnnxTagger.load(dir, { device: 'cpu', logger });
    try {
      const pngs = await Promise.all([makeSolidPng(8, 8, [255, 0, 0]), makeSolidPng(8, 8, [0, 0, 255])]);
      const results = await sut.predictImages(pngs);
      expect(sut.batchLimit).toBe(1);
      expectClose(
        results[0] as Float32Array,
        expectedFamilyScores(DEEPDANBOORU_TEST_MODEL, [1, 0, 0]),
        DEEPDANBOORU_TEST_MODEL.labels,
      );
      expectClose(
        results[1] as Float32Array,
        expectedFamilyScores(DEEPDANBOORU_TEST_MODEL, [0, 0, 1]),
        DEEPDANBOORU_TEST_MODEL.labels,
      );
    } finally {
      await sut.close();
    }
  });
});
