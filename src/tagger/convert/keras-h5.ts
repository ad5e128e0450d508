/**
 * Reads a Keras HDF5 model file (`model.save('x.h5')` from Keras 2.x or tf.keras): the `model_config`,
 * `keras_version` and `backend` attributes, and every layer's weights from `model_weights/<layer>/<weight name>`
 * as the `layer_names` / `weight_names` attributes list them.
 *
 * HDF5 is read with h5wasm (the HDF5 C library compiled to WebAssembly): it reads every layout and attribute
 * encoding h5py writes (fixed-length byte strings from h5py 2, variable-length UTF-8 from h5py 3, chunked and
 * compressed datasets), and on Node it reads the file through the filesystem, so a 600 MB release model is never
 * loaded whole; only one weight at a time is copied out.
 */
import { open } from 'node:fs/promises';
import h5wasm from 'h5wasm/node';
import type { DecodedWeight } from './keras-model.js';

export interface KerasH5Model {
  /** The parsed `model_config` attribute: `{ class_name, config }`. */
  modelConfig: { class_name: string; config: unknown };
  kerasVersion: string | null;
  backend: string | null;
  /** Weights keyed `<layer>/<weight>` (`conv1/kernel`, `bn1/moving_mean`), float32. */
  weights: Map<string, DecodedWeight>;
}

type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Entity = ReturnType<H5Group['get']>;

/** An attribute as text: h5py writes str as variable-length UTF-8 and `np.bytes_` as fixed-length bytes. */
function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value).replace(/\0+$/, '');
  if (Array.isArray(value) && value.length === 1) return text(value[0]);
  return null;
}

/** A list attribute as strings; h5py writes an empty list as an empty float64 array. */
function textList(value: unknown, what: string): string[] {
  if (value === null || value === undefined) return [];
  if (ArrayBuffer.isView(value) && (value as unknown as ArrayLike<unknown>).length === 0) return [];
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : null;
  if (!list) throw new Error(`${what}: expected a list of names`);
  return list.map((item) => {
    const name = text(item);
    if (name === null) throw new Error(`${what}: expected a list of names`);
    return name;
  });
}

function attribute(entity: { attrs: Record<string, { value: unknown }> }, name: string): unknown {
  return entity.attrs[name]?.value;
}

/**
 * A list attribute as Keras's `load_attributes_from_hdf5_group` reads it: `name`, or when Keras had to split it
 * (over HDF5's 64 KB object-header limit, a model with thousands of layers) `name0`, `name1`, … in order.
 */
function listAttribute(entity: { attrs: Record<string, { value: unknown }> }, name: string, what: string): string[] {
  if (entity.attrs[name] !== undefined) return textList(attribute(entity, name), what);
  const out: string[] = [];
  for (let chunk = 0; entity.attrs[`${name}${chunk}`] !== undefined; chunk++) {
    out.push(...textList(attribute(entity, `${name}${chunk}`), what));
  }
  return out;
}

function isGroup(entity: H5Entity): entity is H5Group {
  return entity instanceof h5wasm.Group;
}

/** `conv1/kernel:0` → `kernel`; `block1/bn/moving_mean:0` → `moving_mean`. */
function weightKey(weightName: string): string {
  const last = weightName.split('/').pop() ?? weightName;
  return last.replace(/:\d+$/, '');
}

function readWeight(group: H5Group, path: string, where: string): DecodedWeight {
  const dataset = group.get(path);
  if (!(dataset instanceof h5wasm.Dataset)) throw new Error(`${where}: weight ${path} is missing`);
  const shape = dataset.shape ?? [];
  const value = dataset.value;
  let values: Float32Array;
  if (value instanceof Float32Array) values = value;
  else if (value instanceof Float64Array) values = Float32Array.from(value);
  else if (typeof value === 'number') values = Float32Array.of(value);
  else throw new Error(`${where}: weight ${path} has dtype ${String(dataset.dtype)}, expected float`);
  return { shape, values };
}

let ready: Promise<unknown> | undefined;

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** HDF5's superblock signature sits at 0, 512, 1024, 2048… (a user block before it doubles each time). */
async function isHdf5(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(8);
    for (let offset = 0; offset + 8 <= size; offset = offset === 0 ? 512 : offset * 2) {
      await handle.read(head, 0, 8, offset);
      if (head.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    await handle.close();
  }
}

export async function readKerasH5(file: string): Promise<KerasH5Model> {
  ready ??= h5wasm.ready;
  await ready;
  if (!(await isHdf5(file))) throw new Error(`${file} is not an HDF5 file (no HDF5 signature)`);
  let h5: InstanceType<typeof h5wasm.File>;
  try {
    h5 = new h5wasm.File(file, 'r');
  } catch (error) {
    throw new Error(`${file} is not an HDF5 file h5wasm can open (${String(error)})`);
  }
  try {
    const configText = text(attribute(h5, 'model_config'));
    if (configText === null) {
      throw new Error(`${file} has no model_config attribute: a weights-only file (save_weights) is not a model`);
    }
    const modelConfig = JSON.parse(configText) as KerasH5Model['modelConfig'];
    const root = h5.get('model_weights');
    const weightsRoot: H5Group = root && isGroup(root) ? root : h5;
    const weights = new Map<string, DecodedWeight>();
    for (const layer of listAttribute(weightsRoot, 'layer_names', `${file} layer_names`)) {
      const group = weightsRoot.get(layer);
      if (!group || !isGroup(group)) throw new Error(`${file}: layer ${layer} has no weights group`);
      for (const name of listAttribute(group, 'weight_names', `${file} ${layer} weight_names`)) {
        weights.set(`${layer}/${weightKey(name)}`, readWeight(group, name, `${file} ${layer}`));
      }
    }
    return {
      modelConfig,
      kerasVersion: text(attribute(h5, 'keras_version')),
      backend: text(attribute(h5, 'backend')),
      weights,
    };
  } finally {
    h5.close();
  }
}
