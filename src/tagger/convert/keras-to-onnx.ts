/**
 * Converts a Keras model (a Keras .h5 file's or a TF.js layers model's config + decoded weights) to an ONNX graph that
 * computes the same function. Users run it (`models import`), so it lives in the product, not in scripts/.
 *
 * An image input (NHWC) is transposed to NCHW once and every spatial layer then works in NCHW; an input of another
 * rank stays in Keras's order until a `Reshape` makes it an image.
 * BatchNormalization that directly follows a linear convolution whose output nothing else reads is folded into that
 * convolution (in double precision, rounded once to float32); any other BatchNormalization is emitted as an op.
 * 'same' padding follows TensorFlow's rule exactly, which is asymmetric for even totals (the extra row/column goes at
 * the bottom/right): ONNX gets explicit pads, never `auto_pad`.
 */
import {
  type DecodedWeight,
  functionalConfig,
  type KerasLayer,
  type KerasModelConfig,
  type LayersModelJson,
  modelConfigOf,
} from './keras-model.js';
import { batchNormAxis, KerasLayerBuilder, type Tensor } from './keras-layers.js';
import { OnnxGraphBuilder } from './onnx-graph.js';

export { samePadding } from './keras-math.js';

export interface ConvertOptions {
  inputName?: string;
  outputName?: string;
  /** Symbolic batch dimension name. (Default: `batch`) */
  batchName?: string;
  producerName: string;
  producerVersion: string;
  docString: string;
  metadata?: Record<string, string>;
}

export interface ConversionResult {
  onnx: Uint8Array;
  /** Source layers by Keras class name. */
  layerCounts: Record<string, number>;
  /** BatchNormalization layers folded into the preceding convolution. */
  foldedBatchNorms: number;
  /** ONNX ops by type. */
  opCounts: Record<string, number>;
  inputShape: number[];
  outputShape: number[];
}

const CONV_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D']);
/** Layers that work on a tensor of any rank in Keras's order (no channel axis involved). */
const ELEMENTWISE = new Set(['Activation', 'ReLU', 'Add', 'Flatten', 'Dropout', 'GaussianNoise', 'GaussianDropout']);

export function convertLayersModel(
  modelJson: LayersModelJson,
  weights: ReadonlyMap<string, DecodedWeight>,
  options: ConvertOptions,
): ConversionResult {
  return new LayersConverter(modelConfigOf(modelJson), weights, options).convert();
}

/**
 * Converts a Keras `model_config` (functional or Sequential, as a Keras .h5 file holds it) with its weights keyed
 * `<layer>/<weight>` (`conv1/kernel`, `bn1/moving_mean`).
 */
export function convertKerasModel(
  modelConfig: { class_name: string; config: unknown },
  weights: ReadonlyMap<string, DecodedWeight>,
  options: ConvertOptions,
): ConversionResult {
  return new LayersConverter(functionalConfig(modelConfig), weights, options).convert();
}

class LayersConverter {
  private readonly graph = new OnnxGraphBuilder();
  private readonly ops: KerasLayerBuilder;
  private readonly tensors = new Map<string, Tensor>();
  private readonly layers: KerasLayer[];
  private readonly outputLayer: string;
  /** Conv layer name → the BatchNormalization layer folded into it. */
  private readonly foldInto = new Map<string, KerasLayer>();
  private readonly folded = new Set<string>();
  private readonly inputName: string;
  private readonly outputName: string;
  private readonly batchName: string;
  private readonly modelName: string;

  constructor(
    config: KerasModelConfig['config'],
    weights: ReadonlyMap<string, DecodedWeight>,
    private readonly options: ConvertOptions,
  ) {
    this.ops = new KerasLayerBuilder(this.graph, weights);
    this.modelName = config.name;
    this.layers = config.layers;
    if (config.input_layers.length !== 1 || config.output_layers.length !== 1) {
      throw new Error('only models with one input and one output are supported');
    }
    this.outputLayer = config.output_layers[0]![0];
    this.inputName = options.inputName ?? 'input';
    this.outputName = options.outputName ?? 'output';
    this.batchName = options.batchName ?? 'batch';
    this.planBatchNormFolding();
  }

  convert(): ConversionResult {
    let inputShape: number[] | undefined;
    const layerCounts: Record<string, number> = {};
    for (const layer of this.layers) {
      layerCounts[layer.class_name] = (layerCounts[layer.class_name] ?? 0) + 1;
      if (layer.class_name === 'InputLayer') {
        inputShape = this.convertInput(layer);
        continue;
      }
      this.convertLayer(layer);
    }
    const result = this.tensors.get(this.outputLayer);
    if (!inputShape || !result) throw new Error('the model has no input layer or its output layer was not converted');
    // Every converted tensor is a node output (even an alias resolves to one), so renaming gives the public name.
    this.graph.renameTensor(result.name, this.outputName);
    const onnx = this.graph.encode({
      graphName: this.modelName,
      input: { name: this.inputName, dims: [this.batchName, ...inputShape] },
      output: { name: this.outputName, dims: [this.batchName, ...result.shape] },
      producerName: this.options.producerName,
      producerVersion: this.options.producerVersion,
      docString: this.options.docString,
      metadata: this.options.metadata ?? {},
    });
    return {
      onnx,
      layerCounts,
      foldedBatchNorms: this.folded.size,
      opCounts: this.graph.opCounts(),
      inputShape,
      outputShape: result.shape,
    };
  }

  /** Finds each BatchNormalization that can be folded: sole reader of a conv with a linear activation. */
  private planBatchNormFolding(): void {
    const readers = new Map<string, number>();
    for (const layer of this.layers) {
      for (const node of layer.inbound_nodes)
        for (const ref of node) readers.set(ref[0], (readers.get(ref[0]) ?? 0) + 1);
    }
    const byName = new Map(this.layers.map((layer) => [layer.name, layer]));
    for (const layer of this.layers) {
      if (layer.class_name !== 'BatchNormalization') continue;
      const refs = layer.inbound_nodes[0] ?? [];
      const source = refs.length === 1 ? byName.get(refs[0]![0]) : undefined;
      if (!source || !CONV_CLASSES.has(source.class_name)) continue;
      if ((source.config['activation'] ?? 'linear') !== 'linear' || readers.get(source.name) !== 1) continue;
      if (source.name === this.outputLayer) continue;
      const axis = batchNormAxis(layer);
      if (axis !== -1 && axis !== 3) continue;
      this.foldInto.set(source.name, layer);
    }
  }

  /** Returns the input's shape without the batch dimension, in Keras's order. */
  private convertInput(layer: KerasLayer): number[] {
    const shape = (layer.config['batch_input_shape'] ?? layer.config['batch_shape']) as Array<number | null>;
    if (!Array.isArray(shape) || shape.length < 2 || shape.slice(1).some((d) => typeof d !== 'number')) {
      throw new Error(`input ${layer.name}: only inputs with a fixed size are supported, got [${shape}]`);
    }
    const dims = shape.slice(1) as number[];
    if (dims.length === 3) {
      const [h, w, c] = dims as [number, number, number];
      const name = this.graph.addNode('Transpose', [this.inputName], `${layer.name}/nchw`, { perm: [0, 3, 1, 2] });
      this.tensors.set(layer.name, { name, shape: [c, h, w] });
    } else {
      // Identity gives the input a node output of its own, so that renaming the graph output never renames it.
      const name = this.graph.addNode('Identity', [this.inputName], layer.name);
      this.tensors.set(layer.name, { name, shape: dims, kerasOrder: dims.length !== 1 });
    }
    return dims;
  }

  private inputsOf(layer: KerasLayer): Tensor[] {
    if (layer.inbound_nodes.length !== 1) throw new Error(`layer ${layer.name}: shared layers are not supported`);
    return layer.inbound_nodes[0]!.map(([source, nodeIndex, tensorIndex]) => {
      const tensor = this.tensors.get(source);
      if (!tensor || nodeIndex !== 0 || tensorIndex !== 0)
        throw new Error(`layer ${layer.name}: input ${source} is not available`);
      return tensor;
    });
  }

  private convertLayer(layer: KerasLayer): void {
    this.tensors.set(layer.name, this.convertLayerOps(layer, this.inputsOf(layer)));
  }

  /** Emits the ops of one layer; returns its output tensor (an input tensor itself for inference-time identities). */
  private convertLayerOps(layer: KerasLayer, inputs: Tensor[]): Tensor {
    const input = inputs[0]!;
    const config = layer.config;
    if (layer.class_name === 'Reshape') return this.ops.convertReshape(layer, input);
    if (input.kerasOrder && !ELEMENTWISE.has(layer.class_name)) {
      throw new Error(`layer ${layer.name}: ${layer.class_name} on a rank-${input.shape.length + 1} tensor`);
    }
    switch (layer.class_name) {
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const batchNorm = this.foldInto.get(layer.name);
        if (batchNorm) this.folded.add(batchNorm.name);
        return this.ops.convertConv(layer, input, batchNorm);
      }
      case 'BatchNormalization':
        return this.folded.has(layer.name) ? input : this.ops.convertBatchNorm(layer, input);
      case 'ZeroPadding2D':
        return this.ops.convertZeroPadding(layer, input);
      case 'ReLU':
        return this.ops.convertRelu(layer, input);
      case 'Activation':
        return this.ops.activation(String(config['activation']), input, layer.name);
      case 'Softmax':
        if (config['axis'] !== undefined && config['axis'] !== -1) {
          throw new Error(`${layer.name}: softmax axis must be -1`);
        }
        return this.ops.activation('softmax', input, layer.name);
      case 'Add':
        return this.ops.convertAdd(layer, inputs);
      case 'AveragePooling2D':
      case 'MaxPooling2D':
        return this.ops.convertPooling(layer, input);
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D':
        return this.ops.convertGlobalPooling(layer, input);
      case 'Flatten':
        return this.ops.convertFlatten(layer, input);
      case 'Dense':
        return this.ops.convertDense(layer, input);
      case 'Dropout':
      case 'SpatialDropout2D':
      case 'GaussianNoise':
      case 'GaussianDropout':
        // Inference-time identities.
        return input;
      default:
        throw new Error(`layer ${layer.name}: ${layer.class_name} is not supported by this converter`);
    }
  }
}
