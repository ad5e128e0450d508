/**
 * A plain forward pass of a Keras model, written for the tests from Keras's documented semantics (NHWC, float64):
 * the oracle the ONNX conversion is checked against. It shares no code with src/tagger/convert on purpose.
 */

export interface RefTensor {
  /** Shape without the batch dimension, Keras order (NHWC for images). */
  shape: number[];
  data: Float64Array;
}

export interface RefLayer {
  name: string;
  className: string;
  config: Record<string, unknown>;
  /** Names of the layers feeding this one (empty for the input). */
  inputs: string[];
}

export type RefWeights = (layer: string, key: string) => ArrayLike<number> | undefined;

const two = (v: unknown): [number, number] =>
  typeof v === 'number' ? [v, v] : [(v as number[])[0]!, (v as number[])[1]!];

/** TensorFlow's rule: 'same' gives ceil(in/stride) outputs, the odd padding pixel after; 'valid' none. */
function window(size: number, kernel: number, stride: number, padding: string): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.floor((size - kernel) / stride) + 1, before: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return { out, before: Math.floor(total / 2) };
}

function activate(name: string, t: RefTensor): RefTensor {
  const data = Float64Array.from(t.data);
  if (name === 'linear') return t;
  if (name === 'relu') for (let i = 0; i < data.length; i++) data[i] = Math.max(0, data[i]!);
  else if (name === 'sigmoid') for (let i = 0; i < data.length; i++) data[i] = 1 / (1 + Math.exp(-data[i]!));
  else if (name === 'softmax') {
    const n = t.shape[t.shape.length - 1]!;
    for (let row = 0; row < data.length; row += n) {
      let max = -Infinity;
      for (let i = 0; i < n; i++) max = Math.max(max, data[row + i]!);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += data[row + i] = Math.exp(data[row + i]! - max);
      for (let i = 0; i < n; i++) data[row + i]! /= sum;
    }
  } else throw new Error(`reference: activation ${name}`);
  return { shape: t.shape, data };
}

function conv(
  t: RefTensor,
  kernel: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  config: Record<string, unknown>,
): RefTensor {
  const [h, w, cin] = t.shape as [number, number, number];
  const [kh, kw] = two(config['kernel_size']);
  const [sh, sw] = two(config['strides'] ?? 1);
  const cout = Number(config['filters']);
  const padding = String(config['padding']);
  const y = window(h, kh, sh, padding);
  const x = window(w, kw, sw, padding);
  const out = new Float64Array(y.out * x.out * cout);
  for (let oy = 0; oy < y.out; oy++)
    for (let ox = 0; ox < x.out; ox++)
      for (let o = 0; o < cout; o++) {
        let sum = bias ? bias[o]! : 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh + ky - y.before;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw + kx - x.before;
            if (ix < 0 || ix >= w) continue;
            for (let i = 0; i < cin; i++)
              sum += t.data[(iy * w + ix) * cin + i]! * kernel[((ky * kw + kx) * cin + i) * cout + o]!;
          }
        }
        out[(oy * x.out + ox) * cout + o] = sum;
      }
  return activate(String(config['activation'] ?? 'linear'), { shape: [y.out, x.out, cout], data: out });
}

function pool(t: RefTensor, config: Record<string, unknown>, max: boolean): RefTensor {
  const [h, w, c] = t.shape as [number, number, number];
  const [kh, kw] = two(config['pool_size'] ?? 2);
  const [sh, sw] = two(config['strides'] ?? [kh, kw]);
  const padding = String(config['padding'] ?? 'valid');
  const y = window(h, kh, sh, padding);
  const x = window(w, kw, sw, padding);
  const out = new Float64Array(y.out * x.out * c);
  for (let oy = 0; oy < y.out; oy++)
    for (let ox = 0; ox < x.out; ox++)
      for (let ch = 0; ch < c; ch++) {
        let acc = max ? -Infinity : 0;
        let count = 0;
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const iy = oy * sh + ky - y.before;
            const ix = ox * sw + kx - x.before;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue; // padding never wins a max nor counts in a mean
            const v = t.data[(iy * w + ix) * c + ch]!;
            acc = max ? Math.max(acc, v) : acc + v;
            count++;
          }
        out[(oy * x.out + ox) * c + ch] = max ? acc : acc / count;
      }
  return { shape: [y.out, x.out, c], data: out };
}

function runLayer(layer: RefLayer, inputs: RefTensor[], weight: RefWeights): RefTensor {
  const t = inputs[0]!;
  const c = layer.config;
  const need = (key: string) => {
    const w = weight(layer.name, key);
    if (!w) throw new Error(`reference: ${layer.name}/${key} missing`);
    return w;
  };
  switch (layer.className) {
    case 'Reshape':
      return { shape: (c['target_shape'] as number[]).slice(), data: t.data };
    case 'Conv2D':
      return conv(t, need('kernel'), c['use_bias'] ? need('bias') : undefined, c);
    case 'MaxPooling2D':
    case 'MaxPool2D':
      return pool(t, c, true);
    case 'AveragePooling2D':
      return pool(t, c, false);
    case 'GlobalAveragePooling2D': {
      const [h, w, ch] = t.shape as [number, number, number];
      const out = new Float64Array(ch);
      for (let p = 0; p < h * w; p++) for (let i = 0; i < ch; i++) out[i]! += t.data[p * ch + i]! / (h * w);
      return { shape: [ch], data: out };
    }
    case 'BatchNormalization': {
      const ch = t.shape[t.shape.length - 1]!;
      const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((k) =>
        weight(layer.name, k),
      );
      const eps = Number(c['epsilon'] ?? 1e-3);
      const data = t.data.map((v, i) => {
        const k = i % ch;
        return ((v - mean![k]!) / Math.sqrt(variance![k]! + eps)) * (gamma?.[k] ?? 1) + (beta?.[k] ?? 0);
      });
      return { shape: t.shape, data };
    }
    case 'Activation':
      return activate(String(c['activation']), t);
    case 'Add':
      return {
        shape: t.shape,
        data: t.data.map((_, i) => inputs.reduce((sum, other) => sum + other.data[i]!, 0)),
      };
    case 'Flatten':
      return { shape: [t.data.length], data: t.data };
    case 'Dense': {
      const units = Number(c['units']);
      const kernel = need('kernel');
      const bias = c['use_bias'] ? need('bias') : undefined;
      const n = t.data.length;
      const out = new Float64Array(units);
      for (let o = 0; o < units; o++) {
        let sum = bias ? bias[o]! : 0;
        for (let i = 0; i < n; i++) sum += t.data[i]! * kernel[i * units + o]!;
        out[o] = sum;
      }
      return activate(String(c['activation'] ?? 'linear'), { shape: [units], data: out });
    }
    case 'Dropout':
      return t;
    default:
      throw new Error(`reference: ${layer.className}`);
  }
}

/** Runs the layers (topological order; the first is the input) on one input; returns the named output. */
export function referenceForward(layers: RefLayer[], input: RefTensor, weight: RefWeights, output: string): RefTensor {
  const values = new Map<string, RefTensor>();
  for (const layer of layers) {
    if (layer.inputs.length === 0) values.set(layer.name, input);
    else
      values.set(
        layer.name,
        runLayer(
          layer,
          layer.inputs.map((name) => values.get(name)!),
          weight,
        ),
      );
  }
  return values.get(output)!;
}
