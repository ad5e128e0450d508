/**
 * A ViT-B/16-like tagger at 448×448 with random weights, for the bench only: the architecture of wd-vit-tagger-v3
 * (86 M parameters in the encoder, 784 patch tokens, 12 blocks of width 768 with 12 heads and an MLP of 3072), so
 * that `npm run bench` times what a user running WD v3 on a CPU sees. Written by `ensureBenchModel(dir, { arch:
 * 'vit-b16' })` (scripts/make-bench-model.ts), never committed.
 *
 * Graph (opset 17), as timm's ViT exports: NHWC input → Transpose → patch Conv 16×16/16 → tokens [batch, 784, 768] +
 * position embedding → 12 × (LayerNorm → Q, K, V MatMuls → scaled dot-product Softmax attention over 12 heads → output
 * MatMul → residual; LayerNorm → MatMul ×4 → GELU (Erf form) → MatMul back → residual) → LayerNorm → mean over the
 * tokens → the shared head (LayerNorm → MatMul to the labels → Sigmoid).
 */
import {
  type BuiltBenchModel,
  finishBenchModel,
  GraphBuilder,
  gelu,
  int,
  ints,
  layerNorm,
} from './make-bench-model.js';

export interface VitShape {
  arch: 'vit-b16';
  inputSize: number;
  patch: number;
  depth: number;
  dim: number;
  heads: number;
  mlpRatio: number;
  seed: number;
}

export const VIT_B16_448: VitShape = {
  arch: 'vit-b16',
  inputSize: 448,
  patch: 16,
  depth: 12,
  dim: 768,
  heads: 12,
  mlpRatio: 4,
  seed: 2,
};

/** The ONNX bytes of a ViT-like tagger with one sigmoid output per label (`categories` in output order). */
export function buildVitBenchModel(categories: readonly number[], shape: VitShape = VIT_B16_448): BuiltBenchModel {
  const g = new GraphBuilder(shape.seed);
  const consts = {
    sqrt2: g.constant('const.sqrt2', [], Math.SQRT2, false),
    one: g.constant('const.one', [], 1, false),
    half: g.constant('const.half', [], 0.5, false),
  };
  const { dim, heads, patch } = shape;
  const headDim = dim / heads;
  const tokens = (shape.inputSize / patch) ** 2;
  // Reshape targets; `0` copies the batch dimension.
  const toTokens = g.int64('shape.tokens', [0, dim, -1]);
  const toHeads = g.int64('shape.heads', [0, -1, heads, headDim]);
  const fromHeads = g.int64('shape.merge', [0, -1, dim]);
  const scale = g.constant('const.scale', [], 1 / Math.sqrt(headDim), false);

  let x = g.node('Transpose', ['input'], [ints('perm', [0, 3, 1, 2])]);
  x = g.node(
    'Conv',
    [x, g.weight('patch.weight', [dim, 3, patch, patch], 3 * patch * patch), g.constant('patch.bias', [dim], 0)],
    [ints('kernel_shape', [patch, patch]), ints('strides', [patch, patch])],
  );
  x = g.node('Transpose', [g.node('Reshape', [x, toTokens])], [ints('perm', [0, 2, 1])]);
  x = g.node('Add', [x, g.weight('pos_embed', [1, tokens, dim], 1, 0.02)]);

  const linear = (input: string, name: string, inDim: number, outDim: number) =>
    g.node('Add', [
      g.node('MatMul', [input, g.weight(`${name}.weight`, [inDim, outDim], inDim)]),
      g.constant(`${name}.bias`, [outDim], 0),
    ]);
  for (let block = 0; block < shape.depth; block++) {
    const p = `blocks.${block}`;
    const h = layerNorm(g, x, dim, `${p}.norm1`);
    const split = (name: string, perm: number[]) =>
      g.node(
        'Transpose',
        [g.node('Reshape', [linear(h, `${p}.attn.${name}`, dim, dim), toHeads])],
        [ints('perm', perm)],
      );
    const q = split('q', [0, 2, 1, 3]);
    const k = split('k', [0, 2, 3, 1]);
    const v = split('v', [0, 2, 1, 3]);
    const attention = g.node('Softmax', [g.node('Mul', [g.node('MatMul', [q, k]), scale])], [int('axis', -1)]);
    const merged = g.node('Reshape', [
      g.node('Transpose', [g.node('MatMul', [attention, v])], [ints('perm', [0, 2, 1, 3])]),
      fromHeads,
    ]);
    x = g.node('Add', [x, linear(merged, `${p}.attn.proj`, dim, dim)]);
    const hidden = dim * shape.mlpRatio;
    const m = gelu(g, linear(layerNorm(g, x, dim, `${p}.norm2`), `${p}.mlp.fc1`, dim, hidden), consts);
    x = g.node('Add', [x, linear(m, `${p}.mlp.fc2`, hidden, dim)]);
  }
  x = layerNorm(g, x, dim, 'norm');
  x = g.node('ReduceMean', [x], [ints('axes', [1]), int('keepdims', 0)]);
  return finishBenchModel(g, x, dim, categories, {
    inputSize: shape.inputSize,
    graphName: 'vit_b16_like',
    docString: 'Benchmark model: ViT-B/16-like graph at 448 with random weights. Its scores mean nothing.',
  });
}
