/**
 * Builds a DeepDanbooru-layout release for tests: a Keras 2.x HDF5 model (`model_config`, `keras_version`, `backend`
 * attributes; `model_weights/<layer>/<layer>/<weight>:0` datasets listed by `layer_names` / `weight_names`) with the
 * layer types of resnet_custom_v3/v4 (KichangKim/DeepDanbooru deepdanbooru/model/resnet.py: conv_bn_relu stem,
 * MaxPool 3×3/2 same, a bottleneck block with a projection shortcut and one with an identity shortcut, Add, ReLU
 * activations, conv_gap = 1×1 conv without bias + GlobalAveragePooling2D, then Activation('sigmoid')), plus one
 * Conv2D with a bias; and beside it project.json, tags.txt, tags-general.txt, tags-character.txt, optionally zipped.
 * Written with h5wasm (HDF5's own library) and yazl, independent of the code under test.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import yazl from 'yazl';
import type { RefLayer } from './keras-reference.js';

export interface ReleaseSpec {
  inputSize: number;
  tags: readonly string[];
  characters?: readonly string[];
  /**
   * Per tag: `high` or `low` makes the model answer ≈1 or ≈0 for that tag on any image (features forced positive,
   * the last kernel ±). Absent: every weight is pseudo-random, for equivalence checks.
   */
  answers?: ReadonlyArray<'high' | 'low'>;
  seed?: number;
  /** Write `layer_names` split in chunks (`layer_names0`, `layer_names1`), as Keras does for very large models. */
  splitLayerNames?: boolean;
}

export interface BuiltModel {
  layers: RefLayer[];
  weights: Map<string, Float32Array>;
  output: string;
}

interface LayerDef {
  name: string;
  className: string;
  config: Record<string, unknown>;
  inputs: string[];
  weights: Array<{ key: string; shape: number[]; values: Float32Array }>;
}

function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** The layer graph and its weights. */
function buildModel(spec: ReleaseSpec): { defs: LayerDef[]; output: string } {
  const next = random(spec.seed ?? 42);
  const uniform = (n: number, lo: number, hi: number) =>
    Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
  const defs: LayerDef[] = [];
  const shapes = new Map<string, number>();
  const add = (def: LayerDef) => {
    defs.push(def);
    return def.name;
  };
  const input = add({
    name: 'input_1',
    className: 'InputLayer',
    config: { batch_input_shape: [null, spec.inputSize, spec.inputSize, 3], dtype: 'float32', name: 'input_1' },
    inputs: [],
    weights: [],
  });
  shapes.set(input, 3);
  let n = 0;
  const conv = (
    x: string,
    filters: number,
    k: number,
    stride = 1,
    opts: { bias?: boolean; activation?: string; kernelScale?: number } = {},
  ) => {
    const cin = shapes.get(x)!;
    const name = n === 0 ? 'conv2d' : `conv2d_${n}`;
    n++;
    const scale = opts.kernelScale ?? Math.sqrt(2 / (k * k * cin));
    const weights = [
      { key: 'kernel', shape: [k, k, cin, filters], values: uniform(k * k * cin * filters, -scale, scale) },
    ];
    if (opts.bias) weights.push({ key: 'bias', shape: [filters], values: uniform(filters, -0.2, 0.2) });
    add({
      name,
      className: 'Conv2D',
      config: {
        name,
        filters,
        kernel_size: [k, k],
        strides: [stride, stride],
        padding: 'same',
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        activation: opts.activation ?? 'linear',
        use_bias: Boolean(opts.bias),
      },
      inputs: [x],
      weights,
    });
    shapes.set(name, filters);
    return name;
  };
  let b = 0;
  const bn = (x: string) => {
    const c = shapes.get(x)!;
    const name = b === 0 ? 'batch_normalization' : `batch_normalization_${b}`;
    b++;
    add({
      name,
      className: 'BatchNormalization',
      // tf.keras 2.x saves the axis as built, `[3]`; Keras 2.2 as given, `-1`: both kinds are here.
      config: { name, axis: b % 2 === 0 ? [3] : -1, momentum: 0.99, epsilon: 0.001, center: true, scale: true },
      inputs: [x],
      weights: [
        { key: 'gamma', shape: [c], values: uniform(c, 0.5, 1.5) },
        { key: 'beta', shape: [c], values: uniform(c, -0.3, 0.3) },
        { key: 'moving_mean', shape: [c], values: uniform(c, -0.2, 0.2) },
        { key: 'moving_variance', shape: [c], values: uniform(c, 0.5, 2) },
      ],
    });
    shapes.set(name, c);
    return name;
  };
  let a = 0;
  const act = (x: string, activation: string) => {
    const name = a === 0 ? 'activation' : `activation_${a}`;
    a++;
    add({ name, className: 'Activation', config: { name, activation, dtype: 'float32' }, inputs: [x], weights: [] });
    shapes.set(name, shapes.get(x)!);
    return name;
  };
  let s = 0;
  const sum = (x: string, y: string) => {
    const name = s === 0 ? 'add' : `add_${s}`;
    s++;
    add({ name, className: 'Add', config: { name }, inputs: [x, y], weights: [] });
    shapes.set(name, shapes.get(x)!);
    return name;
  };
  const convBnRelu = (x: string, f: number, k: number, stride = 1) => act(bn(conv(x, f, k, stride)), 'relu');

  let x = convBnRelu(input, 4, 7, 2);
  add({
    name: 'max_pooling2d',
    className: 'MaxPooling2D',
    config: {
      name: 'max_pooling2d',
      pool_size: [3, 3],
      strides: [2, 2],
      padding: 'same',
      data_format: 'channels_last',
    },
    inputs: [x],
    weights: [],
  });
  shapes.set('max_pooling2d', 4);
  x = 'max_pooling2d';
  // resnet_bottleneck_inc_block: 1×1, 3×3 stride 2, 1×1 + BN; projection shortcut 1×1 stride 2 + BN; Add; ReLU.
  const c3 = bn(conv(convBnRelu(convBnRelu(x, 2, 1), 2, 3, 2), 8, 1));
  const shortcut = bn(conv(x, 8, 1, 2));
  x = act(sum(c3, shortcut), 'relu');
  // resnet_bottleneck_block: identity shortcut.
  const d3 = bn(conv(convBnRelu(convBnRelu(x, 2, 1), 2, 3), 8, 1));
  x = act(sum(d3, x), 'relu');
  // A Conv2D with a bias and its own activation. With fixed answers it makes every feature ≈ 1 on any image.
  x = conv(x, 8, 3, 1, { bias: true, activation: 'relu', ...(spec.answers ? { kernelScale: 0.001 } : {}) });
  if (spec.answers) defs.at(-1)!.weights[1]!.values.fill(1);
  // conv_gap: 1×1 conv without bias to one channel per tag, global average, sigmoid.
  const gap = conv(x, spec.tags.length, 1, 1);
  if (spec.answers) {
    const kernel = defs.at(-1)!.weights[0]!.values;
    for (let c = 0; c < 8; c++)
      for (let t = 0; t < spec.tags.length; t++)
        kernel[c * spec.tags.length + t] = spec.answers[t] === 'high' ? 1.5 : -1.5;
  }
  add({
    name: 'global_average_pooling2d',
    className: 'GlobalAveragePooling2D',
    config: { name: 'global_average_pooling2d', data_format: 'channels_last' },
    inputs: [gap],
    weights: [],
  });
  const output = act('global_average_pooling2d', 'sigmoid');
  return { defs, output };
}

/** The model as the test's reference forward pass takes it. */
export function referenceModel(spec: ReleaseSpec): BuiltModel {
  const { defs, output } = buildModel(spec);
  const weights = new Map<string, Float32Array>();
  for (const def of defs) for (const w of def.weights) weights.set(`${def.name}/${w.key}`, w.values);
  return {
    layers: defs.map((d) => ({ name: d.name, className: d.className, config: d.config, inputs: d.inputs })),
    weights,
    output,
  };
}

/** h5py writes a list of names as fixed-length byte strings. */
function fixedStrings(names: readonly string[]): [string[], number[], string] {
  const width = Math.max(1, ...names.map((n) => n.length)) + 1;
  return [[...names], [names.length], `A${width}`];
}

/** Writes the model as Keras 2.x `model.save('x.h5')` lays it out. */
export async function writeKerasH5(path: string, spec: ReleaseSpec): Promise<void> {
  await h5wasm.ready;
  const { defs, output } = buildModel(spec);
  const config = {
    class_name: 'Model',
    config: {
      name: 'model',
      layers: defs.map((d) => ({
        name: d.name,
        class_name: d.className,
        config: d.config,
        inbound_nodes: d.inputs.length === 0 ? [] : [d.inputs.map((i) => [i, 0, 0, {}])],
      })),
      input_layers: [['input_1', 0, 0]],
      output_layers: [[output, 0, 0]],
    },
  };
  const file = new h5wasm.File(path, 'w');
  try {
    file.create_attribute('keras_version', '2.4.0');
    file.create_attribute('backend', 'tensorflow');
    file.create_attribute('model_config', JSON.stringify(config));
    const root = file.create_group('model_weights');
    const names = defs.map((d) => d.name);
    if (spec.splitLayerNames) {
      // As Keras's save_attributes_to_hdf5_group does past HDF5's 64 KB header limit: layer_names0, layer_names1…
      const half = Math.ceil(names.length / 2);
      root.create_attribute('layer_names0', ...fixedStrings(names.slice(0, half)));
      root.create_attribute('layer_names1', ...fixedStrings(names.slice(half)));
    } else {
      root.create_attribute('layer_names', ...fixedStrings(names));
    }
    root.create_attribute('backend', 'tensorflow');
    root.create_attribute('keras_version', '2.4.0');
    for (const def of defs) {
      const group = root.create_group(def.name);
      if (def.weights.length === 0) {
        group.create_attribute('weight_names', new Float64Array(0), [0]);
        continue;
      }
      group.create_attribute('weight_names', ...fixedStrings(def.weights.map((w) => `${def.name}/${w.key}:0`)));
      const inner = group.create_group(def.name);
      for (const w of def.weights) inner.create_dataset({ name: `${w.key}:0`, data: w.values, shape: w.shape });
    }
  } finally {
    file.close();
  }
}

/** Writes the release folder (the files of `deepdanbooru-v3-…zip`); returns its path. */
export async function writeRelease(dir: string, spec: ReleaseSpec, modelType = 'resnet_custom_v3'): Promise<string> {
  await mkdir(dir, { recursive: true });
  const characters = new Set(spec.characters ?? []);
  await writeKerasH5(join(dir, `model-${modelType}.h5`), spec);
  await writeFile(
    join(dir, 'project.json'),
    JSON.stringify(
      {
        image_width: spec.inputSize,
        image_height: spec.inputSize,
        database_path: 'D:\\DeepDanbooru\\dataset.sqlite',
        minimum_tag_count: 20,
        model: modelType,
        minibatch_size: 32,
        epoch_count: 30,
      },
      null,
      4,
    ),
  );
  // v3's tags.txt has no trailing newline.
  await writeFile(join(dir, 'tags.txt'), spec.tags.join('\n'));
  await writeFile(join(dir, 'tags-character.txt'), [...characters].join('\n'));
  await writeFile(
    join(dir, 'tags-general.txt'),
    spec.tags.filter((t) => !characters.has(t) && !t.startsWith('rating:')).join('\n'),
  );
  return dir;
}

/** Zips a release folder's files at the archive's root, as the published archives hold them. */
export async function zipRelease(dir: string, files: readonly string[], zipPath: string): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const file of files) zip.addFile(join(dir, file), file);
  zip.end();
  const out = createWriteStream(zipPath);
  zip.outputStream.pipe(out);
  await once(out, 'close');
}
