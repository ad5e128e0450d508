/**
 * The HDF5 reader and the Keras → ONNX converter on files Keras itself wrote (../shared/fixtures/keras-h5: standalone
 * Keras 2.1.6 and tf.keras, Sequential MNIST CNNs): every weight as h5py stored it, and the converted graph in
 * onnxruntime-node against a plain forward pass written in the test (test/helpers/keras-reference.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import h5wasm from 'h5wasm/node';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readKerasH5 } from '../../src/tagger/convert/keras-h5.js';
import { convertKerasModel } from '../../src/tagger/convert/keras-to-onnx.js';
import { pseudoRandomBytes } from '../helpers/images.js';
import { type RefLayer, referenceForward } from '../helpers/keras-reference.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURES = resolve(projectRoot, '..', 'shared', 'fixtures', 'keras-h5');
const present = existsSync(FIXTURES);

const CASES = [
  { file: 'keras_model.h5', kerasVersion: '2.1.6', layers: 10 },
  // tf.keras's list has no InputLayer: the converter adds one from the first layer's batch_input_shape, as Keras does.
  { file: 'tf_keras_model.h5', kerasVersion: '2.1.6-tf', layers: 10 },
];

/** The fixture's layer list and weights, read straight through h5wasm by the paths Keras writes. */
async function readIndependently(path: string) {
  await h5wasm.ready;
  const file = new h5wasm.File(path, 'r');
  try {
    const config = JSON.parse(String(file.attrs['model_config']!.value)) as {
      config: Array<{ class_name: string; config: Record<string, unknown> }>;
    };
    const weights = new Map<string, Float32Array>();
    const layers: RefLayer[] = [];
    let previous: string | undefined;
    for (const layer of config.config) {
      const name = String(layer.config['name']);
      if (previous === undefined && layer.class_name !== 'InputLayer')
        layers.push({ name: 'in', className: 'InputLayer', config: {}, inputs: [] });
      layers.push({
        name,
        className: layer.class_name,
        config: layer.config,
        inputs: layers.length === 0 ? [] : [layers.at(-1)!.name],
      });
      previous = name;
      for (const key of ['kernel', 'bias']) {
        const dataset = file.get(`model_weights/${name}/${name}/${key}:0`);
        if (dataset instanceof h5wasm.Dataset) weights.set(`${name}/${key}`, dataset.value as Float32Array);
      }
    }
    return { layers, weights, output: previous! };
  } finally {
    file.close();
  }
}

describe.skipIf(!present)('Keras HDF5 files written by Keras (skipped: ../shared/fixtures/keras-h5 absent)', () => {
  it.each(CASES)('$file: reads the attributes and every weight as h5py stored them', async ({ file, kerasVersion }) => {
    const path = join(FIXTURES, file);
    const independent = await readIndependently(path);

    const sut = await readKerasH5(path);

    expect(sut.kerasVersion).toBe(kerasVersion);
    expect(sut.backend).toBe('tensorflow');
    expect(sut.modelConfig.class_name).toBe('Sequential');
    expect([...sut.weights.keys()].sort()).toEqual([...independent.weights.keys()].sort());
    for (const [key, values] of independent.weights) expect(sut.weights.get(key)!.values).toEqual(values);
  });

  it.each(CASES)(
    '$file: the ONNX conversion computes what the reference forward pass does',
    async ({ file, layers }) => {
      const path = join(FIXTURES, file);
      const model = await readKerasH5(path);
      const independent = await readIndependently(path);
      const conversion = convertKerasModel(model.modelConfig, model.weights, {
        producerName: 'test',
        producerVersion: '1',
        docString: file,
      });
      expect(Object.values(conversion.layerCounts).reduce((a, b) => a + b, 0)).toBe(layers);
      expect(conversion.inputShape).toEqual([28, 28]);
      expect(conversion.outputShape).toEqual([10]);
      const session = await ort.InferenceSession.create(conversion.onnx);
      const count = 3;
      const input = Float32Array.from(pseudoRandomBytes(count * 28 * 28, 7), (b) => b / 255);

      const { output } = await session.run({ input: new ort.Tensor('float32', input, [count, 28, 28]) });
      const scores = output!.data as Float32Array;

      for (let n = 0; n < count; n++) {
        const image = Float64Array.from(input.subarray(n * 784, (n + 1) * 784));
        const expected = referenceForward(
          independent.layers,
          { shape: [28, 28], data: image },
          (layer, key) => independent.weights.get(`${layer}/${key}`),
          independent.output,
        );
        const actual = [...scores.subarray(n * 10, (n + 1) * 10)];
        const worst = Math.max(...actual.map((v, i) => Math.abs(v - expected.data[i]!)));
        expect(worst).toBeLessThan(1e-5);
        expect(actual.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
      await session.release();
    },
  );
});
