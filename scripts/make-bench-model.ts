/**
 * Writes a realistic-size tagger with random weights, for benchmarks only (accuracy is irrelevant, speed is not): a
 * ConvNeXt-T-like graph at 448×448 with one sigmoid output per WD v3 label, as a WD-family model folder
 * (model.onnx + selected_tags.csv) outside git. Deterministic: the same seed and label list give the same bytes.
 *
 *   npx tsx scripts/make-bench-model.ts [--vit] [--out DIR] [--force] [--no-check]
 *
 * `--vit` writes the ViT-B/16-like model at 448 instead (scripts/make-bench-vit.ts: wd-vit-tagger-v3's shape, 94 M
 * parameters with the head, 360 MiB). DIR defaults to BENCH_MODEL_DIR (BENCH_VIT_MODEL_DIR with --vit), else
 * `${os.tmpdir()}/booru-tagger-bench/convnext-t-like` (`vit-b16-448-like`). An existing folder made
 * by the same generator version is reused unless --force. Unless --no-check, the folder is then loaded through
 * OnnxTagger on the CPU (as the worker loads it) and timed at batch 1.
 *
 * Graph (opset 17, IR 8), as timm's ConvNeXt exports: NHWC input → Transpose → stem Conv 4×4/4 → LayerNorm →
 * stages of depths [3, 3, 9, 3] and widths [96, 192, 384, 768], each block depthwise Conv 7×7 → LayerNormalization over
 * channels → MatMul ×4 → GELU (Erf form) → MatMul back → layer scale → residual Add; LayerNorm + Conv 2×2/2 between
 * stages; GlobalAveragePool → LayerNorm → MatMul to the labels → Sigmoid. LayerNormalization runs on the channel axis
 * through NCHW↔NHWC Transposes, like the exported model. The head's bias (headBias) makes a dozen labels per image
 * score above the default add threshold and about 1% above the storage floor, so the diff and the database see a
 * realistic number of suggestions and stored scores.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import onnxProto from 'onnx-proto';
import { parseSelectedTagsCsv } from '../src/tagger/vocabulary.js';
import type { VitShape } from './make-bench-vit.js';

const { onnx } = onnxProto;
type TensorProto = InstanceType<typeof onnx.TensorProto>;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type AttributeProto = InstanceType<typeof onnx.AttributeProto>;

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The real WD v3 vocabulary, when the shared folder is there. */
export const WD_V3_TAGS_CSV = resolve(PROJECT_ROOT, '..', 'shared', 'vocab', 'wd_v3_selected_tags.csv');
export const DEFAULT_BENCH_MODEL_DIR = join(tmpdir(), 'booru-tagger-bench', 'convnext-t-like');
export const DEFAULT_VIT_BENCH_MODEL_DIR = join(tmpdir(), 'booru-tagger-bench', 'vit-b16-448-like');

/** The bench architectures: ConvNeXt-T-like (smaller, faster) and ViT-B/16-like (wd-vit-tagger-v3's shape). */
export type BenchArch = 'convnext-t' | 'vit-b16';

/** Bump when the graph or the weights change, so that cached folders are rewritten. */
const GENERATOR_VERSION = 2;
const STAMP_FILE = 'bench-model.stamp.json';
export const OPSET = 17;
// IR version 8 goes with opset 17; onnxruntime-node 1.30 reads IR versions up to 11.
export const IR_VERSION = 8;

export interface BenchModelShape {
  inputSize: number;
  depths: readonly number[];
  dims: readonly number[];
  seed: number;
}

export const CONVNEXT_T_448: BenchModelShape = {
  inputSize: 448,
  depths: [3, 3, 9, 3],
  dims: [96, 192, 384, 768],
  seed: 1,
};

/** mulberry32: small, fast, and the same on every platform. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTS = onnx.AttributeProto.AttributeType.INTS;
const INT = onnx.AttributeProto.AttributeType.INT;
const FLOAT = onnx.AttributeProto.AttributeType.FLOAT;

export function ints(name: string, values: number[]): AttributeProto {
  return onnx.AttributeProto.create({ name, type: INTS, ints: values });
}
export function int(name: string, value: number): AttributeProto {
  return onnx.AttributeProto.create({ name, type: INT, i: value });
}
export function float(name: string, value: number): AttributeProto {
  return onnx.AttributeProto.create({ name, type: FLOAT, f: value });
}

/** Collects nodes and initializers, naming values uniquely, and counts the trainable parameters. */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  parameters = 0;
  private counter = 0;
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = prng(seed);
  }

  /** A float initializer; little-endian bytes whatever the host. */
  tensor(name: string, dims: number[], fill: (i: number) => number, trainable = true): string {
    const count = dims.reduce((a, b) => a * b, 1);
    const view = new DataView(new ArrayBuffer(count * 4));
    for (let i = 0; i < count; i++) view.setFloat32(i * 4, fill(i), true);
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: new Uint8Array(view.buffer),
      }),
    );
    if (trainable) this.parameters += count;
    return name;
  }

  /** Uniform in ±sqrt(3 / fanIn)·gain: unit-variance outputs for unit-variance inputs. */
  weight(name: string, dims: number[], fanIn: number, gain = 1): string {
    const bound = Math.sqrt(3 / fanIn) * gain;
    return this.tensor(name, dims, () => (this.random() * 2 - 1) * bound);
  }

  /** A 1-D int64 initializer (a shape for Reshape). */
  int64(name: string, values: number[]): string {
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims: [values.length],
        dataType: onnx.TensorProto.DataType.INT64,
        int64Data: values,
      }),
    );
    return name;
  }

  constant(name: string, dims: number[], value: number, trainable = true): string {
    return this.tensor(name, dims, () => value, trainable);
  }

  node(opType: string, input: string[], attribute: AttributeProto[] = [], output?: string): string {
    const name = `${opType.toLowerCase()}_${this.counter++}`;
    const out = output ?? name;
    this.nodes.push(onnx.NodeProto.create({ name, opType, input, output: [out], attribute }));
    return out;
  }
}

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];

/** LayerNormalization over the last axis (epsilon as timm's ConvNeXt). */
export function layerNorm(g: GraphBuilder, x: string, channels: number, prefix: string): string {
  const scale = g.constant(`${prefix}.ln.weight`, [channels], 1);
  const bias = g.constant(`${prefix}.ln.bias`, [channels], 0);
  return g.node('LayerNormalization', [x, scale, bias], [int('axis', -1), float('epsilon', 1e-6)]);
}

/** LayerNorm over the channels of an NCHW tensor, through NHWC as the exported model does it. */
function layerNorm2d(g: GraphBuilder, x: string, channels: number, prefix: string): string {
  const nhwc = g.node('Transpose', [x], [ints('perm', TO_NHWC)]);
  return g.node('Transpose', [layerNorm(g, nhwc, channels, prefix)], [ints('perm', TO_NCHW)]);
}

/** GELU as PyTorch exports it: x · 0.5 · (1 + erf(x / √2)); onnxruntime fuses it into one Gelu kernel. */
export function gelu(g: GraphBuilder, x: string, consts: { sqrt2: string; one: string; half: string }): string {
  const erf = g.node('Erf', [g.node('Div', [x, consts.sqrt2])]);
  return g.node('Mul', [g.node('Mul', [x, g.node('Add', [erf, consts.one])]), consts.half]);
}

export interface BuiltBenchModel {
  bytes: Uint8Array;
  parameters: number;
}

/** Spread of the logits around {@link headBias}, from the random head weights. */
export const HEAD_SPREAD = 1.5;

/**
 * The head's bias per label, given the labels' categories in output order: the 16 first general labels (the most
 * frequent tags in WD's files: 1girl, solo…) +2, so they score high on every image; the `general` rating +1 and the
 * other ratings -3; every other label -8.
 */
export function headBias(categories: readonly number[]): number[] {
  let frequent = 0;
  let ratings = 0;
  return categories.map((category) => {
    if (category === 9) return ratings++ === 0 ? 1 : -3;
    if (category === 0 && frequent < 16) {
      frequent++;
      return 2;
    }
    return -8;
  });
}

/** The ONNX bytes of a ConvNeXt-like tagger with one sigmoid output per label (`categories` in output order). */
export function buildBenchModel(
  categories: readonly number[],
  shape: BenchModelShape = CONVNEXT_T_448,
): BuiltBenchModel {
  const g = new GraphBuilder(shape.seed);
  const consts = {
    sqrt2: g.constant('const.sqrt2', [], Math.SQRT2, false),
    one: g.constant('const.one', [], 1, false),
    half: g.constant('const.half', [], 0.5, false),
  };

  let x = g.node('Transpose', ['input'], [ints('perm', TO_NCHW)]);
  const stemDim = shape.dims[0]!;
  x = g.node(
    'Conv',
    [x, g.weight('stem.weight', [stemDim, 3, 4, 4], 48), g.constant('stem.bias', [stemDim], 0)],
    [ints('kernel_shape', [4, 4]), ints('strides', [4, 4])],
  );
  x = layerNorm2d(g, x, stemDim, 'stem');

  shape.depths.forEach((depth, stage) => {
    const c = shape.dims[stage]!;
    if (stage > 0) {
      const prev = shape.dims[stage - 1]!;
      const p = `downsample${stage}`;
      x = layerNorm2d(g, x, prev, p);
      x = g.node(
        'Conv',
        [x, g.weight(`${p}.weight`, [c, prev, 2, 2], prev * 4), g.constant(`${p}.bias`, [c], 0)],
        [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])],
      );
    }
    for (let block = 0; block < depth; block++) {
      const p = `stages.${stage}.blocks.${block}`;
      const residual = x;
      let y = g.node(
        'Conv',
        [x, g.weight(`${p}.dw.weight`, [c, 1, 7, 7], 49), g.constant(`${p}.dw.bias`, [c], 0)],
        [ints('kernel_shape', [7, 7]), ints('pads', [3, 3, 3, 3]), int('group', c)],
      );
      y = g.node('Transpose', [y], [ints('perm', TO_NHWC)]);
      y = layerNorm(g, y, c, p);
      y = g.node('Add', [
        g.node('MatMul', [y, g.weight(`${p}.fc1.weight`, [c, 4 * c], c)]),
        g.constant(`${p}.fc1.bias`, [4 * c], 0),
      ]);
      y = gelu(g, y, consts);
      y = g.node('Add', [
        g.node('MatMul', [y, g.weight(`${p}.fc2.weight`, [4 * c, c], 4 * c)]),
        g.constant(`${p}.fc2.bias`, [c], 0),
      ]);
      // Layer scale: timm starts it at 1e-6; 0.5 keeps random activations lively without letting the stream explode.
      y = g.node('Mul', [y, g.constant(`${p}.gamma`, [c], 0.5)]);
      y = g.node('Transpose', [y], [ints('perm', TO_NCHW)]);
      x = g.node('Add', [residual, y]);
    }
  });

  const last = shape.dims[shape.dims.length - 1]!;
  x = g.node('Flatten', [g.node('GlobalAveragePool', [x])], [int('axis', 1)]);
  return finishBenchModel(g, x, last, categories, {
    inputSize: shape.inputSize,
    graphName: 'convnext_t_like',
    docString: 'Benchmark model: ConvNeXt-T-like graph with random weights. Its scores mean nothing.',
  });
}

/**
 * The part every bench model shares: LayerNorm over the pooled `features` [batch, dim] → MatMul to the labels →
 * Sigmoid, and the ModelProto around the graph (input `input` NHWC, output `output` [batch, labels]).
 */
export function finishBenchModel(
  g: GraphBuilder,
  features: string,
  dim: number,
  categories: readonly number[],
  info: { inputSize: number; graphName: string; docString: string },
): BuiltBenchModel {
  const x = layerNorm(g, features, dim, 'head.norm');
  // Unit-variance features times weights of variance 1.5²/dim give logits of spread 1.5 around a per-label bias
  // (headBias), so the outputs look like a real tagger's: a dozen labels above 0.35, about 1% above 0.01.
  const bias = headBias(categories);
  const logits = g.node('Add', [
    g.node('MatMul', [x, g.weight('head.fc.weight', [dim, categories.length], dim, HEAD_SPREAD)]),
    g.tensor('head.fc.bias', [categories.length], (i) => bias[i]!),
  ]);
  g.node('Sigmoid', [logits], [], 'output');

  const valueInfo = (name: string, dims: Array<number | string>) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
        },
      },
    });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'booru-tagger scripts/make-bench-model.ts',
    producerVersion: String(GENERATOR_VERSION),
    docString: info.docString,
    graph: {
      name: info.graphName,
      input: [valueInfo('input', ['batch', info.inputSize, info.inputSize, 3])],
      output: [valueInfo('output', ['batch', categories.length])],
      initializer: g.initializers,
      node: g.nodes,
    },
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), parameters: g.parameters };
}

/**
 * `selected_tags.csv`: the real WD v3 file when ../shared/vocab has it, else 10,861 made-up names in the same shape
 * (4 ratings, 8,106 general, 2,751 character).
 */
export async function benchVocabulary(): Promise<{
  csv: string;
  labels: number;
  categories: number[];
  source: string;
}> {
  if (existsSync(WD_V3_TAGS_CSV)) {
    const csv = await readFile(WD_V3_TAGS_CSV, 'utf8');
    const categories = parseSelectedTagsCsv(csv, WD_V3_TAGS_CSV).map((label) => label.category);
    return { csv, labels: categories.length, categories, source: 'wd_v3_selected_tags.csv' };
  }
  const rows = ['tag_id,name,category,count'];
  ['general', 'sensitive', 'questionable', 'explicit'].forEach((name, i) => {
    rows.push(`${9999999 - i},${name},9,${1_000_000 - i}`);
  });
  for (let i = 0; i < 8106; i++) rows.push(`${i + 1},general_tag_${String(i).padStart(5, '0')},0,${900_000 - i * 100}`);
  for (let i = 0; i < 2751; i++)
    rows.push(`${100_000 + i},character_${String(i).padStart(4, '0')}_(series),4,${5000 - i}`);
  const csv = `${rows.join('\n')}\n`;
  const categories = parseSelectedTagsCsv(csv).map((label) => label.category);
  return { csv, labels: categories.length, categories, source: 'generated' };
}

export interface BenchModelInfo {
  dir: string;
  labels: number;
  labelSource: string;
  parameters: number;
  fileBytes: number;
  sha256: string;
  /** False when an up-to-date folder was already there. */
  written: boolean;
}

interface Stamp {
  generator: number;
  shape: BenchModelShape | VitShape;
  labels: number;
  labelSource: string;
  parameters: number;
  fileBytes: number;
  sha256: string;
}

/** Writes the model folder into `dir` unless the same generator already did; returns what is there. */
export async function ensureBenchModel(
  dir: string = DEFAULT_BENCH_MODEL_DIR,
  options: { force?: boolean; arch?: BenchArch; shape?: BenchModelShape; log?: (message: string) => void } = {},
): Promise<BenchModelInfo> {
  const vit = options.arch === 'vit-b16' ? await import('./make-bench-vit.js') : null;
  const shape: BenchModelShape | VitShape = vit ? vit.VIT_B16_448 : (options.shape ?? CONVNEXT_T_448);
  const vocabulary = await benchVocabulary();
  const stampPath = join(dir, STAMP_FILE);
  if (!options.force && existsSync(stampPath) && existsSync(join(dir, 'model.onnx'))) {
    const stamp = JSON.parse(await readFile(stampPath, 'utf8')) as Stamp;
    const size = (await stat(join(dir, 'model.onnx'))).size;
    if (
      stamp.generator === GENERATOR_VERSION &&
      JSON.stringify(stamp.shape) === JSON.stringify(shape) &&
      stamp.labels === vocabulary.labels &&
      stamp.labelSource === vocabulary.source &&
      stamp.fileBytes === size
    ) {
      return { dir, ...stamp, written: false };
    }
  }
  options.log?.(`writing ${dir} (${vocabulary.labels} labels from ${vocabulary.source})`);
  const { bytes, parameters } = vit
    ? vit.buildVitBenchModel(vocabulary.categories)
    : buildBenchModel(vocabulary.categories, shape as BenchModelShape);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await mkdir(dir, { recursive: true });
  // Written under a temporary name first, so an interrupted run never leaves a truncated model.onnx behind.
  await writeFile(join(dir, 'model.onnx.partial'), bytes);
  await rename(join(dir, 'model.onnx.partial'), join(dir, 'model.onnx'));
  await writeFile(join(dir, 'selected_tags.csv'), vocabulary.csv);
  const stamp: Stamp = {
    generator: GENERATOR_VERSION,
    shape,
    labels: vocabulary.labels,
    labelSource: vocabulary.source,
    parameters,
    fileBytes: bytes.length,
    sha256,
  };
  await writeFile(
    join(dir, 'README.md'),
    `# ${'arch' in shape ? 'ViT-B/16-like at 448' : `${shape.dims.join('/')} ConvNeXt-like`} benchmark model (random weights)\n\nWritten by scripts/make-bench-model.ts ` +
      `for \`npm run bench\`. Its scores are meaningless. ${parameters.toLocaleString('en')} parameters, ` +
      `${vocabulary.labels} labels (${vocabulary.source}), input NHWC [batch, ${shape.inputSize}, ${shape.inputSize}, 3].\n`,
  );
  await writeFile(stampPath, `${JSON.stringify(stamp, null, 2)}\n`);
  return { dir, ...stamp, written: true };
}

/** Loads the folder as the worker does (CPU) and times `rounds` runs at batch `batch`; ms per image. */
export async function timeBenchModel(
  dir: string,
  batch = 1,
  rounds = 3,
): Promise<{ msPerImage: number; provider: string }> {
  const [{ OnnxTagger }, { pino }] = await Promise.all([import('../src/tagger/onnx-tagger.js'), import('pino')]);
  const tagger = await OnnxTagger.load(dir, { device: 'cpu', logger: pino({ level: 'silent' }) });
  try {
    const size = tagger.inputSize;
    const tensors = Array.from({ length: batch }, (_, b) => new Float32Array(size * size * 3).fill(64 + b));
    await tagger.predictBatch(tensors);
    const started = performance.now();
    for (let i = 0; i < rounds; i++) await tagger.predictBatch(tensors);
    return { msPerImage: (performance.now() - started) / (rounds * batch), provider: tagger.provider };
  } finally {
    await tagger.close();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const arch: BenchArch = args.includes('--vit') ? 'vit-b16' : 'convnext-t';
  const dir = resolve(
    outIndex >= 0 && args[outIndex + 1]
      ? args[outIndex + 1]!
      : arch === 'vit-b16'
        ? (process.env['BENCH_VIT_MODEL_DIR'] ?? DEFAULT_VIT_BENCH_MODEL_DIR)
        : (process.env['BENCH_MODEL_DIR'] ?? DEFAULT_BENCH_MODEL_DIR),
  );
  const started = performance.now();
  const info = await ensureBenchModel(dir, { arch, force: args.includes('--force'), log: (m) => console.error(m) });
  const summary: Record<string, unknown> = {
    ...info,
    fileMiB: Math.round((info.fileBytes / 2 ** 20) * 10) / 10,
    seconds: Math.round(performance.now() - started) / 1000,
  };
  if (!args.includes('--no-check')) {
    const timing = await timeBenchModel(dir);
    summary['cpuBatch1MsPerImage'] = Math.round(timing.msPerImage);
    summary['provider'] = timing.provider;
  }
  console.log(JSON.stringify(summary, null, 2));
}

// Not awaited at the top level: make-bench-vit.ts imports this module, and a pending top-level await here would
// leave that import waiting for ever.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
