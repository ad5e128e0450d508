/**
 * The source model run by TF.js itself (CPU backend, pure JavaScript): the reference the ONNX conversion is proven
 * against. Loads the same decoded JSON and weight bytes the converter reads, through `tf.io.fromMemory`.
 */
import * as tf from '@tensorflow/tfjs';
import type { WeightSpec } from '../../src/tagger/convert/keras-model.js';
import { readNsfwjsModel } from './nsfwjs-source.js';

export interface TfjsReference {
  /** Runs `count` NHWC images packed in `batch`; returns `count × classes` probabilities. */
  predict(batch: Float32Array, count: number, size: number): Promise<Float32Array>;
  /** The weights as TF.js decoded them, by name, for comparing dequantization. */
  decodedWeights(): Record<string, Float32Array>;
  dispose(): void;
}

export async function loadTfjsReference(modelName = 'mobilenet_v2'): Promise<TfjsReference> {
  await tf.setBackend('cpu');
  await tf.ready();
  const source = readNsfwjsModel(modelName);
  const weightSpecs = source.modelJson.weightsManifest.flatMap((group) => group.weights) as WeightSpec[];
  const weightData = source.weightData.slice().buffer;
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: source.modelJson.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
      weightSpecs: weightSpecs as tf.io.WeightsManifestEntry[],
      weightData,
    }),
  );
  return {
    async predict(batch, count, size) {
      const output = tf.tidy(() => model.predict(tf.tensor4d(batch, [count, size, size, 3])) as tf.Tensor);
      const values = (await output.data()) as Float32Array;
      output.dispose();
      return values;
    },
    decodedWeights() {
      const decoded = tf.io.decodeWeights(weightData, weightSpecs as tf.io.WeightsManifestEntry[]);
      const out: Record<string, Float32Array> = {};
      for (const [name, tensor] of Object.entries(decoded)) {
        out[name] = tensor.dataSync() as Float32Array;
        tensor.dispose();
      }
      return out;
    },
    dispose() {
      model.dispose();
    },
  };
}
