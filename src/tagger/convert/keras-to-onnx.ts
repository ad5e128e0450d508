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
import { batchNormAffine, foldAffineIntoConv, kerasKernelToOnnx, outputSize, pair, samePadding } from './keras-math.js';
import { type AttributeValue, OnnxGraphBuilder } from './onnx-graph.js';

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

/**
 * A converted layer output: its ONNX tensor and its shape without the batch dimension: `[C, H, W]` for an image
 * (held NCHW), `[N]` flat, or, with `kerasOrder`, any other rank in Keras's own order.
 */
interface Tensor {
  name: string;
  shape: number[];
  kerasOrder?: boolean;
}

const CONV_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D']);
/** Layers that work on a tensor of any rank in Keras's order (no channel axis involved). */
const ELEMENTWISE = new Set(['Activation', 'ReLU', 'Add', 'Flatten', 'Dropout', 'GaussianNoise', 'GaussianDropout']);

/**
 * A BatchNormalization's axis: tf.keras 2.x saves it after `build()`, which turns `-1` into the list `[3]`; Keras 2.2
 * and TF.js write the number as given.
 */
function batchNormAxis(layer: KerasLayer): unknown {
  const axis = layer.config['axis'];
  return Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
}

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
    private readonly weights: ReadonlyMap<string, DecodedWeight>,
    private readonly options: ConvertOptions,
  ) {
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

  private weight(layer: string, key: string): DecodedWeight {
    const found = this.weights.get(`${layer}/${key}`);
    if (!found) throw new Error(`weight ${layer}/${key} is missing`);
    return found;
  }

  private optionalWeight(layer: string, key: string): DecodedWeight | undefined {
    return this.weights.get(`${layer}/${key}`);
  }

  private convertLayer(layer: KerasLayer): void {
    this.tensors.set(layer.name, this.convertLayerOps(layer, this.inputsOf(layer)));
  }

  /** Emits the ops of one layer; returns its output tensor (an input tensor itself for inference-time identities). */
  private convertLayerOps(layer: KerasLayer, inputs: Tensor[]): Tensor {
    const input = inputs[0]!;
    const config = layer.config;
    if (layer.class_name === 'Reshape') return this.convertReshape(layer, input);
    if (input.kerasOrder && !ELEMENTWISE.has(layer.class_name)) {
      throw new Error(`layer ${layer.name}: ${layer.class_name} on a rank-${input.shape.length + 1} tensor`);
    }
    switch (layer.class_name) {
      case 'Conv2D':
      case 'DepthwiseConv2D':
        return this.convertConv(layer, input);
      case 'BatchNormalization':
        return this.folded.has(layer.name) ? input : this.convertBatchNorm(layer, input);
      case 'ZeroPadding2D':
        return this.convertZeroPadding(layer, input);
      case 'ReLU':
        return this.convertRelu(layer, input);
      case 'Activation':
        return this.activation(String(config['activation']), input, layer.name);
      case 'Softmax':
        if (config['axis'] !== undefined && config['axis'] !== -1) {
          throw new Error(`${layer.name}: softmax axis must be -1`);
        }
        return this.activation('softmax', input, layer.name);
      case 'Add':
        return this.convertAdd(layer, inputs);
      case 'AveragePooling2D':
      case 'MaxPooling2D':
        return this.convertPooling(layer, input);
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D':
        return this.convertGlobalPooling(layer, input);
      case 'Flatten':
        return this.convertFlatten(layer, input);
      case 'Dense':
        return this.convertDense(layer, input);
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

  private convertConv(layer: KerasLayer, input: Tensor): Tensor {
    const config = layer.config;
    const depthwise = layer.class_name === 'DepthwiseConv2D';
    if ((config['data_format'] ?? 'channels_last') !== 'channels_last')
      throw new Error(`${layer.name}: channels_first`);
    if ((config['groups'] ?? 1) !== 1) throw new Error(`${layer.name}: grouped Conv2D is not supported`);
    const kernel = this.weight(layer.name, depthwise ? 'depthwise_kernel' : 'kernel');
    const [kh, kw, cin, k3] = kernel.shape as [number, number, number, number];
    const [c, h, w] = input.shape as [number, number, number];
    if (cin !== c) throw new Error(`${layer.name}: kernel expects ${cin} channels, input has ${c}`);
    const { values: onnxKernel, dims } = kerasKernelToOnnx(kernel.values, [kh, kw, cin, k3], depthwise);
    const cout = dims[0];
    const bias = new Float64Array(cout);
    if (config['use_bias']) bias.set(this.weight(layer.name, 'bias').values);
    const batchNorm = this.foldInto.get(layer.name);
    if (batchNorm) {
      foldAffineIntoConv(onnxKernel, bias, this.batchNormAffine(batchNorm, cout));
      this.folded.add(batchNorm.name);
    }
    const [sh, sw] = pair(config['strides'] ?? 1, `${layer.name} strides`);
    const [dh, dw] = pair(config['dilation_rate'] ?? 1, `${layer.name} dilation_rate`);
    const padding = config['padding'];
    let padH: [number, number] = [0, 0];
    let padW: [number, number] = [0, 0];
    if (padding === 'same') {
      padH = samePadding(h, kh, sh, dh);
      padW = samePadding(w, kw, sw, dw);
    } else if (padding !== 'valid') {
      throw new Error(`${layer.name}: padding ${String(padding)} is not supported`);
    }
    const weightName = this.graph.addFloat(`${layer.name}/W`, dims, onnxKernel);
    const biasName = this.graph.addFloat(`${layer.name}/B`, [cout], bias);
    const activation = String(config['activation'] ?? 'linear');
    const convOut = this.graph.addNode(
      'Conv',
      [input.name, weightName, biasName],
      this.preActivationName(layer, activation),
      {
        group: depthwise ? cin : 1,
        kernel_shape: [kh, kw],
        strides: [sh, sw],
        dilations: [dh, dw],
        pads: [padH[0], padW[0], padH[1], padW[1]],
      },
    );
    const shape = [cout, outputSize(h, kh, sh, padH, dh), outputSize(w, kw, sw, padW, dw)];
    return this.activation(activation, { name: convOut, shape }, layer.name);
  }

  /** Name of a layer's main op output: the layer name itself unless an activation follows. */
  private preActivationName(layer: KerasLayer, activation: string): string {
    return activation === 'linear' ? layer.name : `${layer.name}/linear`;
  }

  /** The folded form of a BatchNormalization layer: per-channel scale and shift, in double precision. */
  private batchNormAffine(layer: KerasLayer, channels: number): { scale: Float64Array; shift: Float64Array } {
    const mean = this.weight(layer.name, 'moving_mean').values;
    if (mean.length !== channels) throw new Error(`${layer.name}: ${mean.length} channels, expected ${channels}`);
    return batchNormAffine({
      gamma: this.optionalWeight(layer.name, 'gamma')?.values,
      beta: this.optionalWeight(layer.name, 'beta')?.values,
      mean,
      variance: this.weight(layer.name, 'moving_variance').values,
      epsilon: Number(layer.config['epsilon'] ?? 1e-3),
    });
  }

  private convertBatchNorm(layer: KerasLayer, input: Tensor): Tensor {
    const axis = batchNormAxis(layer);
    if (axis !== -1 && !(axis === 3 && input.shape.length === 3) && !(axis === 1 && input.shape.length === 1)) {
      throw new Error(`${layer.name}: BatchNormalization over axis ${String(axis)} is not supported`);
    }
    const channels = input.shape[0]!;
    const epsilon = Number(layer.config['epsilon'] ?? 1e-3);
    const gamma = this.optionalWeight(layer.name, 'gamma')?.values ?? new Float32Array(channels).fill(1);
    const beta = this.optionalWeight(layer.name, 'beta')?.values ?? new Float32Array(channels);
    const inputs = [
      input.name,
      this.graph.addFloat(`${layer.name}/scale`, [channels], gamma),
      this.graph.addFloat(`${layer.name}/bias`, [channels], beta),
      this.graph.addFloat(`${layer.name}/mean`, [channels], this.weight(layer.name, 'moving_mean').values),
      this.graph.addFloat(`${layer.name}/var`, [channels], this.weight(layer.name, 'moving_variance').values),
    ];
    // ONNX BatchNormalization wants [N, C, ...]; a flat [N, C] tensor qualifies as is.
    const name = this.graph.addNode('BatchNormalization', inputs, layer.name, { epsilon: { float: epsilon } });
    return { name, shape: input.shape };
  }

  private convertZeroPadding(layer: KerasLayer, input: Tensor): Tensor {
    const padding = layer.config['padding'];
    let top: number;
    let bottom: number;
    let left: number;
    let right: number;
    if (Array.isArray(padding) && Array.isArray(padding[0])) {
      [top, bottom] = pair(padding[0], `${layer.name} padding`);
      [left, right] = pair(padding[1], `${layer.name} padding`);
    } else {
      [top, left] = pair(padding, `${layer.name} padding`);
      [bottom, right] = [top, left];
    }
    const pads = this.graph.addInt64(`${layer.name}/pads`, [8], [0, 0, top, left, 0, 0, bottom, right]);
    const name = this.graph.addNode('Pad', [input.name, pads], layer.name, { mode: 'constant' });
    const [c, h, w] = input.shape as [number, number, number];
    return { name, shape: [c, h + top + bottom, w + left + right] };
  }

  private convertRelu(layer: KerasLayer, input: Tensor): Tensor {
    const { max_value: maxValue, negative_slope: slope, threshold } = layer.config;
    if ((slope ?? 0) !== 0 || (threshold ?? 0) !== 0) {
      throw new Error(`${layer.name}: ReLU with a negative slope or threshold is not supported`);
    }
    if (maxValue === null || maxValue === undefined)
      return { ...input, name: this.graph.addNode('Relu', [input.name], layer.name) };
    return this.clip(input, 0, Number(maxValue), layer.name);
  }

  private clip(input: Tensor, min: number, max: number, output: string): Tensor {
    const bounds = [this.graph.addFloat(`${output}/min`, [], [min]), this.graph.addFloat(`${output}/max`, [], [max])];
    return { ...input, name: this.graph.addNode('Clip', [input.name, ...bounds], output) };
  }

  /** Applies a Keras activation by name; the result is named `output`. */
  private activation(name: string, input: Tensor, output: string): Tensor {
    const unary: Record<string, string> = {
      relu: 'Relu',
      sigmoid: 'Sigmoid',
      tanh: 'Tanh',
      elu: 'Elu',
      softplus: 'Softplus',
    };
    if (name === 'linear') return input;
    if (name === 'relu6') return this.clip(input, 0, 6, output);
    if (name === 'softmax') {
      // Keras takes the last axis: the channel, which is axis 1 both for [N, C] and for NCHW.
      const axis = input.kerasOrder ? -1 : 1;
      return { ...input, name: this.graph.addNode('Softmax', [input.name], output, { axis }) };
    }
    const op = unary[name];
    if (!op) throw new Error(`activation ${name} is not supported`);
    return { ...input, name: this.graph.addNode(op, [input.name], output) };
  }

  private convertAdd(layer: KerasLayer, inputs: Tensor[]): Tensor {
    if (inputs.length < 2) throw new Error(`${layer.name}: Add needs two inputs or more`);
    let sum = inputs[0]!.name;
    for (let i = 1; i < inputs.length; i++) {
      const out = i === inputs.length - 1 ? layer.name : `${layer.name}/${i}`;
      sum = this.graph.addNode('Add', [sum, inputs[i]!.name], out);
    }
    return { ...inputs[0]!, name: sum };
  }

  private convertPooling(layer: KerasLayer, input: Tensor): Tensor {
    const config = layer.config;
    const [kh, kw] = pair(config['pool_size'] ?? 2, `${layer.name} pool_size`);
    const [sh, sw] = pair(config['strides'] ?? [kh, kw], `${layer.name} strides`);
    const [c, h, w] = input.shape as [number, number, number];
    const padH: [number, number] = config['padding'] === 'same' ? samePadding(h, kh, sh) : [0, 0];
    const padW: [number, number] = config['padding'] === 'same' ? samePadding(w, kw, sw) : [0, 0];
    // TF's 'same' average pooling divides by the pixels inside the image: ONNX count_include_pad 0.
    const op = layer.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool';
    const attributes: Record<string, AttributeValue> = {
      kernel_shape: [kh, kw],
      strides: [sh, sw],
      pads: [padH[0], padW[0], padH[1], padW[1]],
    };
    if (op === 'AveragePool') attributes['count_include_pad'] = 0;
    const name = this.graph.addNode(op, [input.name], layer.name, attributes);
    return { name, shape: [c, outputSize(h, kh, sh, padH), outputSize(w, kw, sw, padW)] };
  }

  private convertGlobalPooling(layer: KerasLayer, input: Tensor): Tensor {
    const op = layer.class_name === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool';
    const pooled = this.graph.addNode(op, [input.name], `${layer.name}/pooled`);
    if (layer.config['keepdims'] === true) throw new Error(`${layer.name}: keepdims is not supported`);
    return { name: this.graph.addNode('Flatten', [pooled], layer.name, { axis: 1 }), shape: [input.shape[0]!] };
  }

  /** Keras reshapes in NHWC order: an image goes back to NHWC first, and a rank-3 result becomes NCHW again. */
  private convertReshape(layer: KerasLayer, input: Tensor): Tensor {
    const size = input.shape.reduce((a, b) => a * b, 1);
    const target = [...(layer.config['target_shape'] as number[])];
    const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const unknown = target.indexOf(-1);
    if (unknown >= 0) target[unknown] = size / known;
    if (target.reduce((a, b) => a * b, 1) !== size || !target.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`${layer.name}: cannot reshape [${input.shape}] to [${String(layer.config['target_shape'])}]`);
    }
    const image = input.shape.length === 3 && !input.kerasOrder;
    const source = image
      ? this.graph.addNode('Transpose', [input.name], `${layer.name}/nhwc`, { perm: [0, 2, 3, 1] })
      : input.name;
    // 0 copies the batch dimension from the input.
    const shape = this.graph.addInt64(`${layer.name}/shape`, [target.length + 1], [0, ...target]);
    if (target.length !== 3) {
      const name = this.graph.addNode('Reshape', [source, shape], layer.name);
      return { name, shape: target, kerasOrder: target.length !== 1 };
    }
    const reshaped = this.graph.addNode('Reshape', [source, shape], `${layer.name}/nhwc_out`);
    const [h, w, c] = target as [number, number, number];
    return { name: this.graph.addNode('Transpose', [reshaped], layer.name, { perm: [0, 3, 1, 2] }), shape: [c, h, w] };
  }

  private convertFlatten(layer: KerasLayer, input: Tensor): Tensor {
    if (input.shape.length === 1) return input;
    if (input.kerasOrder) {
      const size = input.shape.reduce((a, b) => a * b, 1);
      return { name: this.graph.addNode('Flatten', [input.name], layer.name, { axis: 1 }), shape: [size] };
    }
    const [c, h, w] = input.shape as [number, number, number];
    // Keras flattens NHWC (channel fastest); from NCHW that needs a transpose unless the map is 1×1.
    const source =
      h === 1 && w === 1
        ? input.name
        : this.graph.addNode('Transpose', [input.name], `${layer.name}/nhwc`, { perm: [0, 2, 3, 1] });
    return { name: this.graph.addNode('Flatten', [source], layer.name, { axis: 1 }), shape: [c * h * w] };
  }

  private convertDense(layer: KerasLayer, input: Tensor): Tensor {
    if (input.shape.length !== 1)
      throw new Error(`${layer.name}: Dense on a rank-${input.shape.length + 1} tensor is not supported`);
    const kernel = this.weight(layer.name, 'kernel');
    const [inputs, units] = kernel.shape as [number, number];
    if (inputs !== input.shape[0])
      throw new Error(`${layer.name}: kernel expects ${inputs} inputs, got ${input.shape[0]}`);
    const bias = layer.config['use_bias'] ? this.weight(layer.name, 'bias').values : new Float32Array(units);
    const activation = String(layer.config['activation'] ?? 'linear');
    // Gemm without transB takes B as [K, N], which is Keras's kernel layout as stored.
    const gemm = this.graph.addNode(
      'Gemm',
      [
        input.name,
        this.graph.addFloat(`${layer.name}/W`, [inputs, units], kernel.values),
        this.graph.addFloat(`${layer.name}/B`, [units], bias),
      ],
      this.preActivationName(layer, activation),
    );
    return this.activation(activation, { name: gemm, shape: [units] }, layer.name);
  }
}
