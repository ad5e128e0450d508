/**
 * The ONNX ops of each supported Keras layer (Conv2D, DepthwiseConv2D, BatchNormalization, Activation, ReLU, Softmax,
 * Add, pooling, Flatten, Reshape, Dense, ZeroPadding2D), added to the graph being built; `keras-to-onnx.ts` walks the
 * model and hands each layer here. Spatial tensors are held NCHW; see `keras-to-onnx.ts` for the conventions.
 */
import { batchNormAffine, foldAffineIntoConv, kerasKernelToOnnx, outputSize, pair, samePadding } from './keras-math.js';
import type { DecodedWeight, KerasLayer } from './keras-model.js';
import type { AttributeValue, OnnxGraphBuilder } from './onnx-graph.js';

/**
 * A converted layer output: its ONNX tensor and its shape without the batch dimension: `[C, H, W]` for an image
 * (held NCHW), `[N]` flat, or, with `kerasOrder`, any other rank in Keras's own order.
 */
export interface Tensor {
  name: string;
  shape: number[];
  kerasOrder?: boolean;
}

/**
 * A BatchNormalization's axis: tf.keras 2.x saves it after `build()`, which turns `-1` into the list `[3]`; Keras 2.2
 * and TF.js write the number as given.
 */
export function batchNormAxis(layer: KerasLayer): unknown {
  const axis = layer.config['axis'];
  return Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
}

/** Emits one layer's ops into `graph`, reading the layer's weights (keyed `<layer>/<weight>`) from `weights`. */
export class KerasLayerBuilder {
  constructor(
    private readonly graph: OnnxGraphBuilder,
    private readonly weights: ReadonlyMap<string, DecodedWeight>,
  ) {}

  private weight(layer: string, key: string): DecodedWeight {
    const found = this.weights.get(`${layer}/${key}`);
    if (!found) throw new Error(`weight ${layer}/${key} is missing`);
    return found;
  }

  private optionalWeight(layer: string, key: string): DecodedWeight | undefined {
    return this.weights.get(`${layer}/${key}`);
  }

  /** A Conv2D or DepthwiseConv2D, with `batchNorm` (the BatchNormalization reading only it) folded in when given. */
  convertConv(layer: KerasLayer, input: Tensor, batchNorm: KerasLayer | undefined): Tensor {
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
    if (batchNorm) foldAffineIntoConv(onnxKernel, bias, this.batchNormAffine(batchNorm, cout));
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

  convertBatchNorm(layer: KerasLayer, input: Tensor): Tensor {
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

  convertZeroPadding(layer: KerasLayer, input: Tensor): Tensor {
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

  convertRelu(layer: KerasLayer, input: Tensor): Tensor {
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
  activation(name: string, input: Tensor, output: string): Tensor {
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

  convertAdd(layer: KerasLayer, inputs: Tensor[]): Tensor {
    if (inputs.length < 2) throw new Error(`${layer.name}: Add needs two inputs or more`);
    let sum = inputs[0]!.name;
    for (let i = 1; i < inputs.length; i++) {
      const out = i === inputs.length - 1 ? layer.name : `${layer.name}/${i}`;
      sum = this.graph.addNode('Add', [sum, inputs[i]!.name], out);
    }
    return { ...inputs[0]!, name: sum };
  }

  convertPooling(layer: KerasLayer, input: Tensor): Tensor {
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

  convertGlobalPooling(layer: KerasLayer, input: Tensor): Tensor {
    const op = layer.class_name === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool';
    const pooled = this.graph.addNode(op, [input.name], `${layer.name}/pooled`);
    if (layer.config['keepdims'] === true) throw new Error(`${layer.name}: keepdims is not supported`);
    return { name: this.graph.addNode('Flatten', [pooled], layer.name, { axis: 1 }), shape: [input.shape[0]!] };
  }

  /** Keras reshapes in NHWC order: an image goes back to NHWC first, and a rank-3 result becomes NCHW again. */
  convertReshape(layer: KerasLayer, input: Tensor): Tensor {
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

  convertFlatten(layer: KerasLayer, input: Tensor): Tensor {
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

  convertDense(layer: KerasLayer, input: Tensor): Tensor {
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
