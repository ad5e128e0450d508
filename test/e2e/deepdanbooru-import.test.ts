/**
 * DeepDanbooru's layer set without the real weights: a Keras-2.x-layout HDF5 with the layers of resnet_custom_v3/v4
 * (built by test/helpers/deepdanbooru-release.ts), converted to ONNX and run in onnxruntime-node, against the plain
 * forward pass of test/helpers/keras-reference.ts; then `models import` on the release folder and on its .zip.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importDeepDanbooru } from '../../src/tagger/convert/deepdanbooru-import.js';
import { readKerasH5 } from '../../src/tagger/convert/keras-h5.js';
import { convertKerasModel } from '../../src/tagger/convert/keras-to-onnx.js';
import { loadModelFolder } from '../../src/tagger/model-folder.js';
import { pseudoRandomBytes } from '../helpers/images.js';
import { referenceModel, writeKerasH5, writeRelease, zipRelease } from '../helpers/deepdanbooru-release.js';
import { referenceForward } from '../helpers/keras-reference.js';

const TAGS = [
  '1girl',
  'solo',
  'red_theme',
  'blue_theme',
  'hatsune_miku',
  'rating:safe',
  'rating:questionable',
  'rating:explicit',
];
const SPEC = { inputSize: 32, tags: TAGS, characters: ['hatsune_miku'], seed: 7 };
const RELEASE_FILES = [
  'project.json',
  'tags.txt',
  'tags-general.txt',
  'tags-character.txt',
  'model-resnet_custom_v3.h5',
];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ddb-import-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('Keras → ONNX on DeepDanbooru layer types', () => {
  it('should compute what the reference forward pass computes, within 1e-4', async () => {
    const path = join(dir, 'model.h5');
    await writeKerasH5(path, SPEC);
    const keras = await readKerasH5(path);
    const conversion = convertKerasModel(keras.modelConfig, keras.weights, {
      producerName: 't',
      producerVersion: '1',
      docString: '',
    });
    expect(conversion.layerCounts).toMatchObject({
      Conv2D: 10,
      BatchNormalization: 8,
      Add: 2,
      MaxPooling2D: 1,
      GlobalAveragePooling2D: 1,
    });
    // Every BatchNormalization follows a bias-free linear conv, as in resnet_custom_v3: all folded, axis -1 or [3].
    expect(conversion.foldedBatchNorms).toBe(8);
    const session = await ort.InferenceSession.create(conversion.onnx);
    const reference = referenceModel(SPEC);
    const count = 2;
    const size = 32 * 32 * 3;
    const input = Float32Array.from(pseudoRandomBytes(count * size, 3), (v) => v / 255);

    const { output } = await session.run({ input: new ort.Tensor('float32', input, [count, 32, 32, 3]) });
    const scores = output!.data as Float32Array;

    for (let n = 0; n < count; n++) {
      const expected = referenceForward(
        reference.layers,
        { shape: [32, 32, 3], data: Float64Array.from(input.subarray(n * size, (n + 1) * size)) },
        (layer, key) => reference.weights.get(`${layer}/${key}`),
        reference.output,
      );
      const actual = [...scores.subarray(n * TAGS.length, (n + 1) * TAGS.length)];
      const worst = Math.max(...actual.map((v, i) => Math.abs(v - expected.data[i]!)));
      expect(worst).toBeLessThan(1e-4);
      // Not saturated: a wrong layer would show.
      expect(Math.max(...actual) - Math.min(...actual)).toBeGreaterThan(0.01);
    }
    await session.release();
  });
});

describe('readKerasH5', () => {
  it('should read layer_names split in chunks (layer_names0, layer_names1) as Keras writes them for big models', async () => {
    await writeKerasH5(join(dir, 'whole.h5'), SPEC);
    await writeKerasH5(join(dir, 'split.h5'), { ...SPEC, splitLayerNames: true });

    const whole = await readKerasH5(join(dir, 'whole.h5'));
    const sut = await readKerasH5(join(dir, 'split.h5'));

    expect(sut.weights.size).toBe(whole.weights.size);
    expect([...sut.weights.keys()]).toEqual([...whole.weights.keys()]);
    expect(sut.weights.get('conv2d_9/kernel')?.values).toEqual(whole.weights.get('conv2d_9/kernel')?.values);
  });
});

describe('importDeepDanbooru', () => {
  it('should install a release folder as a DeepDanbooru model folder with the AREA recipe', async () => {
    const release = await writeRelease(join(dir, 'deepdanbooru-v3-test'), SPEC);

    const sut = await importDeepDanbooru(release, { modelsDir: join(dir, 'models') });

    expect(sut).toMatchObject({
      name: 'deepdanbooru-v3-test',
      modelType: 'resnet_custom_v3',
      labels: 8,
      characters: 1,
      ratings: 3,
      inputSize: 32,
    });
    const folder = await loadModelFolder(sut.dir);
    expect(folder.family).toBe('deepdanbooru');
    expect(folder.recipe).toMatchObject({ inputSize: 32, resize: 'area', fit: 'contain', pad: 'edge', scale: '0-1' });
    expect(folder.labels.map((l) => `${l.name}:${l.category}`)).toEqual([
      '1girl:0',
      'solo:0',
      'red_theme:0',
      'blue_theme:0',
      'hatsune_miku:4',
      'rating:safe:9',
      'rating:questionable:9',
      'rating:explicit:9',
    ]);
    expect((await readdir(sut.dir)).sort()).toEqual([
      'model.json',
      'model.onnx',
      'project.json',
      'tags-character.txt',
      'tags-general.txt',
      'tags.txt',
    ]);
    // No staging folder is left behind.
    expect(await readdir(join(dir, 'models'))).toEqual(['deepdanbooru-v3-test']);
  });

  it('should import the .zip as published and give the same model.onnx as the folder', async () => {
    const release = await writeRelease(join(dir, 'release'), SPEC);
    await zipRelease(release, RELEASE_FILES, join(dir, 'deepdanbooru-v3-20211112-sgd-e28.zip'));
    const fromFolder = await importDeepDanbooru(release, { modelsDir: join(dir, 'a'), name: 'x' });

    const sut = await importDeepDanbooru(join(dir, 'deepdanbooru-v3-20211112-sgd-e28.zip'), {
      modelsDir: join(dir, 'b'),
    });

    expect(sut.name).toBe('deepdanbooru-v3-20211112-sgd-e28');
    expect(await readFile(join(sut.dir, 'model.onnx'))).toEqual(await readFile(join(fromFolder.dir, 'model.onnx')));
  });

  it.each([
    {
      case: 'tags.txt one tag short',
      mutate: (d: string) => writeFile(join(d, 'tags.txt'), TAGS.slice(0, -1).join('\n')),
      message: /8 outputs and tags.txt 7 tags/,
    },
    { case: 'no tags.txt', mutate: (d: string) => rm(join(d, 'tags.txt')), message: /no tags.txt/ },
    { case: 'no model', mutate: (d: string) => rm(join(d, 'model-resnet_custom_v3.h5')), message: /no model-\*\.h5/ },
    {
      case: 'not HDF5',
      mutate: (d: string) => writeFile(join(d, 'model-resnet_custom_v3.h5'), 'not hdf5'),
      message: /model-resnet_custom_v3.h5/,
    },
    {
      case: 'a character tags.txt lacks',
      mutate: (d: string) => writeFile(join(d, 'tags-character.txt'), 'kagamine_rin'),
      message: /lacks: kagamine_rin/,
    },
  ])('should refuse a broken release ($case) and install nothing', async ({ mutate, message }) => {
    const release = await writeRelease(join(dir, 'release'), SPEC);
    await mutate(release);

    const error = await importDeepDanbooru(release, { modelsDir: join(dir, 'models') }).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(message) });
    expect(await readdir(join(dir, 'models')).catch(() => [])).toEqual([]);
  });

  it('should refuse to overwrite an installed model unless forced', async () => {
    const release = await writeRelease(join(dir, 'release'), SPEC);
    await importDeepDanbooru(release, { modelsDir: join(dir, 'models') });

    await expect(importDeepDanbooru(release, { modelsDir: join(dir, 'models') })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/exists; pass --force/),
    });
    const forced = await importDeepDanbooru(release, { modelsDir: join(dir, 'models'), force: true });
    expect(existsSync(join(forced.dir, 'model.onnx'))).toBe(true);
  });
});
