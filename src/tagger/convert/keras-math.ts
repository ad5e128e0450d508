/**
 * The arithmetic of the conversion, kept apart from the graph building: TensorFlow's padding rule, Keras → ONNX
 * kernel layouts, and BatchNormalization folding. Pure functions over typed arrays.
 */

/** TensorFlow's 'same' padding for one spatial axis: `[begin, end]`, the odd pixel at the end (bottom/right). */
export function samePadding(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const out = Math.ceil(size / stride);
  const effectiveKernel = (kernel - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + effectiveKernel - size, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** Output length of a convolution or pooling along one axis with explicit pads. */
export function outputSize(size: number, kernel: number, stride: number, pads: [number, number], dilation = 1): number {
  return Math.floor((size + pads[0] + pads[1] - ((kernel - 1) * dilation + 1)) / stride) + 1;
}

/** A Keras int-or-pair setting (`strides: 2` or `strides: [2, 2]`) as a pair. */
export function pair(value: unknown, what: string): [number, number] {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) {
    return [value[0] as number, value[1] as number];
  }
  throw new Error(`${what}: expected a number or a pair, got ${JSON.stringify(value)}`);
}

/**
 * Keras kernel `[kh, kw, in, out]` (depthwise: `[kh, kw, in, multiplier]`) → ONNX `[out, in/group, kh, kw]`. For
 * depthwise, TF's output channel `i·multiplier + m` is group i's m-th output, which is ONNX's grouped order.
 */
export function kerasKernelToOnnx(
  values: ArrayLike<number>,
  [kh, kw, cin, k3]: [number, number, number, number],
  depthwise: boolean,
): { values: Float64Array; dims: [number, number, number, number] } {
  const cout = depthwise ? cin * k3 : k3;
  const out = new Float64Array(cout * (depthwise ? 1 : cin) * kh * kw);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        for (let j = 0; j < k3; j++) {
          const target = depthwise ? ((i * k3 + j) * kh + y) * kw + x : ((j * cin + i) * kh + y) * kw + x;
          out[target] = values[((y * kw + x) * cin + i) * k3 + j]!;
        }
      }
    }
  }
  return { values: out, dims: [cout, depthwise ? 1 : cin, kh, kw] };
}

/**
 * Inference-mode BatchNormalization `(x − mean) · gamma / √(variance + ε) + beta` as `x · scale + shift`, in double
 * precision. Absent gamma (`scale: false`) is 1, absent beta (`center: false`) is 0.
 */
export function batchNormAffine(bn: {
  gamma: ArrayLike<number> | undefined;
  beta: ArrayLike<number> | undefined;
  mean: ArrayLike<number>;
  variance: ArrayLike<number>;
  epsilon: number;
}): { scale: Float64Array; shift: Float64Array } {
  const channels = bn.mean.length;
  const scale = new Float64Array(channels);
  const shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = (bn.gamma?.[c] ?? 1) / Math.sqrt(bn.variance[c]! + bn.epsilon);
    shift[c] = (bn.beta?.[c] ?? 0) - bn.mean[c]! * scale[c]!;
  }
  return { scale, shift };
}

/** Folds `y = conv(x)·scale + shift` into an ONNX-layout kernel `[out, …]` and bias, in place. */
export function foldAffineIntoConv(
  kernel: Float64Array,
  bias: Float64Array,
  { scale, shift }: { scale: Float64Array; shift: Float64Array },
): void {
  const perChannel = kernel.length / bias.length;
  for (let o = 0; o < bias.length; o++) {
    for (let k = 0; k < perChannel; k++) kernel[o * perChannel + k]! *= scale[o]!;
    bias[o] = bias[o]! * scale[o]! + shift[o]!;
  }
}
