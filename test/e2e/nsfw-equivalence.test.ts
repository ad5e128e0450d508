/**
 * Proves the project's TF.js → ONNX conversion of NSFWJS's MobileNetV2 (models/nsfw-mobilenet-v2): the committed
 * model.onnx is what the converter writes today, byte for byte; the weights are dequantized exactly as TF.js does;
 * and TF.js itself (CPU backend) and onnxruntime-node give the same class probabilities, within 1e-4, for the same
 * input tensors: project-made images, and the real images of ../shared/fixtures/media when that checkout is there.
 * A small model built with TF.js's own layers API covers what MobileNetV2 does not use (asymmetric 'same' padding,
 * depth multipliers, unfolded BatchNormalization, pooling, Flatten of a map, a Dropout as the output).
 *
 * TF.js's CPU backend takes about 3.5 s per 224×224 image here, so the real images are one per fixture folder;
 * NSFW_EQUIVALENCE=all compares every decodable still image (`npx tsx scripts/nsfw-report.ts --equivalence` too).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFixtureImages } from '../../scripts/tfjs-onnx/fixture-images.js';
import { imageToNsfwTensor } from '../../scripts/tfjs-onnx/image-tensor.js';
import { convertLayersModel, samePadding } from '../../src/tagger/convert/keras-to-onnx.js';
import { decodeWeights, type LayersModelJson, type WeightSpec } from '../../src/tagger/convert/keras-model.js';
import { buildNsfwModelFolder, NSFW_INPUT_SIZE, NSFW_MODEL_DIR } from '../../scripts/tfjs-onnx/nsfw-model-folder.js';
import { NSFW_CLASSES, readNsfwjsModel } from '../../scripts/tfjs-onnx/nsfwjs-source.js';
import { loadTfjsReference, type TfjsReference } from '../../scripts/tfjs-onnx/tfjs-reference.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelDir = join(projectRoot, NSFW_MODEL_DIR);
const TOLERANCE = 1e-4;
const SIZE = NSFW_INPUT_SIZE;
const PIXELS = SIZE * SIZE * 3;
const CHUNK = 4;

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Project-made images: gradients, shapes, noise, flat colours, an animated GIF's first frame. */
async function makeProjectImages(): Promise<{ name: string; bytes: Buffer }[]> {
  const gradient = Buffer.alloc(320 * 200 * 3);
  for (let y = 0; y < 200; y++) {
    for (let x = 0; x < 320; x++)
      gradient.set([(x * 255) / 319, (y * 255) / 199, 255 - (x * 255) / 319], (y * 320 + x) * 3);
  }
  const random = makeRandom(8);
  const noise = Buffer.alloc(256 * 256 * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(random() * 256);
  const shapes = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="400">
      <rect width="300" height="400" fill="#fdf6e3"/>
      <circle cx="150" cy="120" r="70" fill="#e8b89a" stroke="#222" stroke-width="4"/>
      <rect x="70" y="200" width="160" height="170" rx="30" fill="#d33682" stroke="#222" stroke-width="4"/>
      <path d="M20 380 Q150 250 280 380" stroke="#268bd2" stroke-width="8" fill="none"/>
    </svg>`,
  );
  const flat = (r: number, g: number, b: number) =>
    sharp({ create: { width: 64, height: 48, channels: 3, background: { r, g, b } } })
      .png()
      .toBuffer();
  return [
    {
      name: 'gradient',
      bytes: await sharp(gradient, { raw: { width: 320, height: 200, channels: 3 } })
        .png()
        .toBuffer(),
    },
    {
      name: 'noise',
      bytes: await sharp(noise, { raw: { width: 256, height: 256, channels: 3 } })
        .webp({ lossless: true })
        .toBuffer(),
    },
    { name: 'shapes', bytes: await sharp(shapes).jpeg({ quality: 90 }).toBuffer() },
    { name: 'skin', bytes: await flat(224, 172, 150) },
    { name: 'black', bytes: await flat(0, 0, 0) },
    { name: 'white', bytes: await flat(255, 255, 255) },
  ];
}

async function runOnnx(
  session: ort.InferenceSession,
  batch: Float32Array,
  count: number,
  dims: number[],
): Promise<Float32Array> {
  const result = await session.run({ input: new ort.Tensor('float32', batch, [count, ...dims]) });
  return result['output']!.data as Float32Array;
}

/** Runs images through both in chunks; returns the largest absolute difference and both outputs per image. */
async function compareOnImages(
  reference: TfjsReference,
  session: ort.InferenceSession,
  tensors: Float32Array[],
): Promise<{ maxDiff: number; tfjs: Float32Array[]; onnx: Float32Array[] }> {
  let maxDiff = 0;
  const tfjsRows: Float32Array[] = [];
  const onnxRows: Float32Array[] = [];
  for (let start = 0; start < tensors.length; start += CHUNK) {
    const chunk = tensors.slice(start, start + CHUNK);
    const batch = new Float32Array(chunk.length * PIXELS);
    for (const [i, tensor] of chunk.entries()) batch.set(tensor, i * PIXELS);
    const expected = await reference.predict(batch, chunk.length, SIZE);
    const actual = await runOnnx(session, batch, chunk.length, [SIZE, SIZE, 3]);
    expect(actual.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i]! - actual[i]!));
    for (let i = 0; i < chunk.length; i++) {
      tfjsRows.push(expected.slice(i * NSFW_CLASSES.length, (i + 1) * NSFW_CLASSES.length));
      onnxRows.push(actual.slice(i * NSFW_CLASSES.length, (i + 1) * NSFW_CLASSES.length));
    }
  }
  return { maxDiff, tfjs: tfjsRows, onnx: onnxRows };
}

describe('convertLayersModel (NSFWJS MobileNetV2)', () => {
  let reference: TfjsReference;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    reference = await loadTfjsReference();
    session = await ort.InferenceSession.create(join(modelDir, 'model.onnx'), { graphOptimizationLevel: 'all' });
  });

  afterAll(async () => {
    reference?.dispose();
    await session?.release();
  });

  describe('the committed model folder', () => {
    it('should be what the converter writes today, byte for byte, with its sha256 in the README', async () => {
      const sut = buildNsfwModelFolder();
      for (const [name, content] of Object.entries(sut.files)) {
        const committed = await readFile(join(modelDir, name));
        expect(committed.equals(Buffer.from(content)), `${name} differs from a fresh conversion`).toBe(true);
      }
      const sha256 = createHash('sha256').update(sut.files['model.onnx']).digest('hex');
      expect(await readFile(join(modelDir, 'README.md'), 'utf8')).toContain(sha256);
      expect(sut.files['selected_tags.csv'].trim().split('\n').slice(1)).toEqual(
        NSFW_CLASSES.map((name) => `0,${name.toLowerCase()},9,0`),
      );
    });

    it('should declare input [batch, 224, 224, 3] and output [batch, 5]', () => {
      expect(session.inputNames).toEqual(['input']);
      expect(session.outputNames).toEqual(['output']);
      const shapes = [...session.inputMetadata, ...session.outputMetadata].map((meta) =>
        meta.isTensor ? meta.shape : [],
      );
      expect(shapes).toEqual([
        ['batch', SIZE, SIZE, 3],
        ['batch', NSFW_CLASSES.length],
      ]);
    });
  });

  describe('decodeWeights', () => {
    it('should dequantize every uint8 weight to exactly the float32 values TF.js decodes', () => {
      const source = readNsfwjsModel();
      const specs = source.modelJson.weightsManifest.flatMap((group) => group.weights);
      expect(specs.every((spec) => spec.quantization?.dtype === 'uint8')).toBe(true);
      const sut = decodeWeights(specs, source.weightData);
      const expected = reference.decodedWeights();
      expect([...sut.keys()].sort()).toEqual(Object.keys(expected).sort());
      for (const [name, weight] of sut) {
        expect(Buffer.from(weight.values.buffer).equals(Buffer.from(expected[name]!.buffer)), name).toBe(true);
      }
    });
  });

  describe('inference', () => {
    it('should give TF.js probabilities within 1e-4 on project-made images', { timeout: 120_000 }, async () => {
      const images = await makeProjectImages();
      const tensors = await Promise.all(images.map((image) => imageToNsfwTensor(image.bytes, SIZE)));
      const sut = await compareOnImages(reference, session, tensors);
      console.info(`project-made images: ${images.length}, largest |TF.js − ONNX| = ${sut.maxDiff.toExponential(2)}`);
      expect(sut.maxDiff).toBeLessThan(TOLERANCE);
      for (const row of sut.onnx) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      // Not a constant function: the images do not all get the same verdict.
      const argmax = sut.onnx.map((row) => row.indexOf(Math.max(...row)));
      expect(new Set(argmax).size).toBeGreaterThan(1);
    });

    it('should give TF.js probabilities within 1e-4 on the real fixture images', {
      timeout: 300_000,
    }, async (context) => {
      const fixtures = await listFixtureImages(projectRoot);
      if (!fixtures.present) {
        console.info(`skipped: ${fixtures.root} is absent`);
        context.skip();
      }
      let images = fixtures.images;
      if (process.env['NSFW_EQUIVALENCE'] !== 'all') {
        const byFolder = new Map<string, (typeof images)[number]>();
        for (const image of images) {
          const folder = dirname(image.name);
          if (!byFolder.has(folder)) byFolder.set(folder, image);
        }
        images = [...byFolder.values()];
      }
      const tensors = await Promise.all(images.map((image) => imageToNsfwTensor(image.path, SIZE)));
      const sut = await compareOnImages(reference, session, tensors);
      console.info(
        `real images: ${images.length} of ${fixtures.images.length} decodable (${fixtures.skipped.length} undecodable ` +
          `skipped), largest |TF.js − ONNX| = ${sut.maxDiff.toExponential(2)}`,
      );
      expect(images.length).toBeGreaterThan(0);
      expect(sut.maxDiff).toBeLessThan(TOLERANCE);
    });
  });
});

describe('convertLayersModel (layers MobileNetV2 does not use)', () => {
  it.each([
    [224, 3, 2, [0, 1]],
    [225, 3, 2, [1, 1]],
    [7, 3, 1, [1, 1]],
    [10, 2, 1, [0, 1]],
    [10, 4, 3, [1, 2]],
    [8, 1, 1, [0, 0]],
  ])('should pad %i pixels for kernel %i stride %i as TensorFlow does: %j', (size, kernel, stride, expected) => {
    expect(samePadding(size, kernel, stride)).toEqual(expected);
  });

  it('should match TF.js on a probe model with asymmetric same padding, pooling and unfolded BatchNormalization', async () => {
    const input = tf.input({ shape: [9, 10, 3], name: 'probe_input' });
    const conv = tf.layers
      .conv2d({ name: 'conv_same_s2', filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })
      .apply(input) as tf.SymbolicTensor;
    const bnAfterRelu = tf.layers.batchNormalization({ name: 'bn_unfolded' }).apply(conv) as tf.SymbolicTensor;
    const depthwise = tf.layers
      .depthwiseConv2d({
        name: 'dw_same_s2',
        kernelSize: [3, 2],
        strides: 2,
        padding: 'same',
        depthMultiplier: 2,
        useBias: false,
      })
      .apply(bnAfterRelu) as tf.SymbolicTensor;
    const bnFolded = tf.layers.batchNormalization({ name: 'bn_folded' }).apply(depthwise) as tf.SymbolicTensor;
    const relu6 = tf.layers.reLU({ name: 'relu6', maxValue: 6 }).apply(bnFolded) as tf.SymbolicTensor;
    const evenKernel = tf.layers
      .conv2d({ name: 'conv_even_same', filters: 5, kernelSize: 2, padding: 'same', activation: 'tanh' })
      .apply(relu6) as tf.SymbolicTensor;
    const padded = tf.layers
      .zeroPadding2d({
        name: 'pad',
        padding: [
          [1, 0],
          [0, 2],
        ],
      })
      .apply(evenKernel) as tf.SymbolicTensor;
    const maxPool = tf.layers
      .maxPooling2d({ name: 'max_same', poolSize: 2, strides: 2, padding: 'same' })
      .apply(padded) as tf.SymbolicTensor;
    const avgPool = tf.layers
      .averagePooling2d({ name: 'avg_same', poolSize: 2, strides: 2, padding: 'same' })
      .apply(padded) as tf.SymbolicTensor;
    const pooled = tf.layers.add({ name: 'pooled' }).apply([maxPool, avgPool]) as tf.SymbolicTensor;
    const flat = tf.layers.flatten({ name: 'flat' }).apply(pooled) as tf.SymbolicTensor;
    const dense = tf.layers
      .dense({ name: 'dense_flat', units: 6, activation: 'sigmoid' })
      .apply(flat) as tf.SymbolicTensor;
    const global = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(padded) as tf.SymbolicTensor;
    const denseGlobal = tf.layers.dense({ name: 'dense_gap', units: 6 }).apply(global) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'sum' }).apply([dense, denseGlobal]) as tf.SymbolicTensor;
    const softmax = tf.layers.activation({ name: 'softmax', activation: 'softmax' }).apply(sum) as tf.SymbolicTensor;
    const output = tf.layers.dropout({ name: 'dropout', rate: 0.5 }).apply(softmax) as tf.SymbolicTensor;
    const model = tf.model({ name: 'probe', inputs: input, outputs: output });

    // Deterministic weights; variances positive so that BatchNormalization is not trivial.
    const random = makeRandom(42);
    model.setWeights(
      model.weights.map((weight) => {
        const shape = weight.shape as number[];
        const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () =>
          weight.name.includes('variance') ? 0.2 + random() : random() * 2 - 1,
        );
        return tf.tensor(values, shape);
      }),
    );
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (saved) => {
        artifacts = saved;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const specs = artifacts!.weightSpecs as WeightSpec[];
    const data = artifacts!.weightData!;
    const bytes = new Uint8Array(Array.isArray(data) ? await new Blob(data).arrayBuffer() : data);
    const modelJson = { modelTopology: artifacts!.modelTopology, weightsManifest: [{ paths: [], weights: specs }] };
    const sut = convertLayersModel(modelJson as unknown as LayersModelJson, decodeWeights(specs, bytes), {
      producerName: 'test',
      producerVersion: '1',
      docString: 'probe',
    });
    expect(sut.foldedBatchNorms).toBe(1);
    expect(sut.opCounts['BatchNormalization']).toBe(1);

    const batch = Float32Array.from({ length: 3 * 9 * 10 * 3 }, () => random());
    const expected = (await (model.predict(tf.tensor4d(batch, [3, 9, 10, 3])) as tf.Tensor).data()) as Float32Array;
    const session = await ort.InferenceSession.create(sut.onnx);
    const actual = await runOnnx(session, batch, 3, [9, 10, 3]);
    await session.release();
    model.dispose();
    expect(actual.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(1e-5);
  });
});
