/**
 * The parts of a Keras model config that the converter reads (the same `model_config` JSON in a Keras .h5 file and in
 * a TF.js layers `model.json`), and the weight decoding TF.js applies when it loads one (`tf.io.decodeWeights`).
 */

/** One weight in a manifest group; `quantization` is present when the converter stored it quantized. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  quantization?: {
    dtype: 'uint8' | 'uint16' | 'float16';
    /** Affine quantization: value = q·scale + min (uint8, uint16). */
    scale?: number;
    min?: number;
  };
}

export interface WeightsManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** `[layerName, nodeIndex, tensorIndex, kwargs]` as Keras writes inbound connections. */
type InboundRef = [string, number, number, Record<string, unknown>?];

export interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: InboundRef[][];
}

/** A functional Keras model's config: layers in topological order with their inbound connections. */
export interface KerasModelConfig {
  class_name: string;
  config: {
    name: string;
    layers: KerasLayer[];
    input_layers: [string, number, number][];
    output_layers: [string, number, number][];
  };
}

/** A Sequential model's config: Keras ≤ 2.2 writes the layer list bare, later versions `{ name, layers }`. */
interface KerasSequentialConfig {
  class_name: 'Sequential';
  config: SequentialLayer[] | { name?: string; layers: SequentialLayer[] };
}

type SequentialLayer = Omit<KerasLayer, 'inbound_nodes' | 'name'> & { name?: string };

export interface LayersModelJson {
  /** Keras's converter wraps the config in `model_config`; TF.js's own `model.save()` writes the config bare. */
  modelTopology: ({ model_config: KerasModelConfig } | KerasModelConfig) & { keras_version?: string };
  weightsManifest: WeightsManifestGroup[];
}

export function modelConfigOf(modelJson: Pick<LayersModelJson, 'modelTopology'>): KerasModelConfig['config'] {
  const topology = modelJson.modelTopology;
  return functionalConfig('model_config' in topology ? topology.model_config : topology);
}

/**
 * A Keras `model_config` (the JSON both a Keras .h5 file and a TF.js layers model carry) as a functional graph:
 * `Model`/`Functional` as is, `Sequential` chained layer after layer with an input layer in front (its own
 * `InputLayer` when it has one, else one made from the first layer's `batch_input_shape`, as Keras builds it).
 */
export function functionalConfig(modelConfig: { class_name: string; config: unknown }): KerasModelConfig['config'] {
  if (modelConfig.class_name === 'Model' || modelConfig.class_name === 'Functional') {
    return (modelConfig as KerasModelConfig).config;
  }
  if (modelConfig.class_name !== 'Sequential') {
    throw new Error(`only functional and Sequential models are supported, not ${modelConfig.class_name}`);
  }
  const sequential = (modelConfig as KerasSequentialConfig).config;
  const list = Array.isArray(sequential) ? sequential : sequential.layers;
  const name = (Array.isArray(sequential) ? undefined : sequential.name) ?? 'sequential';
  const first = list[0];
  if (!first) throw new Error('the Sequential model has no layers');
  const layers: KerasLayer[] = [];
  let previous: string;
  if (first.class_name === 'InputLayer') {
    previous = String(first.config['name'] ?? first.name);
    layers.push({ ...first, name: previous, inbound_nodes: [] });
  } else {
    const shape = first.config['batch_input_shape'] ?? first.config['batch_shape'];
    if (!Array.isArray(shape)) throw new Error('the Sequential model states no input shape');
    previous = `${String(first.config['name'] ?? first.name)}_input`;
    layers.push({ name: previous, class_name: 'InputLayer', config: { batch_input_shape: shape }, inbound_nodes: [] });
  }
  for (const layer of list) {
    if (layer.class_name === 'InputLayer') continue;
    const layerName = String(layer.config['name'] ?? layer.name);
    layers.push({ ...layer, name: layerName, inbound_nodes: [[[previous, 0, 0, {}]]] });
    previous = layerName;
  }
  return { name, layers, input_layers: [[layers[0]!.name, 0, 0]], output_layers: [[previous, 0, 0]] };
}

export interface DecodedWeight {
  shape: number[];
  values: Float32Array;
}

/**
 * Decodes the weight bytes exactly as TF.js 4.x does: float32 as is; uint8/uint16 affine-quantized weights as
 * `Float32Array` of `q * scale + min` (computed in double, rounded to float32 on store); float16 widened. TF.js
 * layers manifests have one scale and min per tensor (no per-channel quantization), which is what this reads.
 */
export function decodeWeights(specs: readonly WeightSpec[], data: Uint8Array): Map<string, DecodedWeight> {
  const weights = new Map<string, DecodedWeight>();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.dtype !== 'float32') throw new Error(`weight ${spec.name}: dtype ${spec.dtype} is not supported`);
    const values = new Float32Array(size);
    const q = spec.quantization;
    if (!q) {
      for (let i = 0; i < size; i++) values[i] = view.getFloat32(offset + i * 4, true);
      offset += size * 4;
    } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
      if (q.scale === undefined || q.min === undefined)
        throw new Error(`weight ${spec.name}: ${q.dtype} without scale/min`);
      const bytes = q.dtype === 'uint8' ? 1 : 2;
      for (let i = 0; i < size; i++) {
        const v = bytes === 1 ? view.getUint8(offset + i) : view.getUint16(offset + i * 2, true);
        values[i] = v * q.scale + q.min;
      }
      offset += size * bytes;
    } else if (q.dtype === 'float16') {
      for (let i = 0; i < size; i++) values[i] = float16ToNumber(view.getUint16(offset + i * 2, true));
      offset += size * 2;
    } else {
      throw new Error(`weight ${spec.name}: quantization ${String((q as { dtype: string }).dtype)} is not supported`);
    }
    if (offset > data.length) throw new Error(`weight ${spec.name} runs past the end of the weight data`);
    weights.set(spec.name, { shape: spec.shape, values });
  }
  if (offset !== data.length)
    throw new Error(`weight data has ${data.length - offset} bytes the manifest does not use`);
  return weights;
}

function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
