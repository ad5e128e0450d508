/**
 * Builds the files of the test model `models/test-colors/` from src/tagger/test-model-spec.ts. Used by
 * scripts/make-test-model.ts and by tests that need a variant (a fixed batch dimension). Deterministic.
 */
import onnxProto from 'onnx-proto';
import type { FamilyModelSpec } from './test-family-specs.js';
import { TEST_MODEL_INPUT_SIZE, TEST_MODEL_LABELS } from '../src/tagger/test-model-spec.js';

const { onnx } = onnxProto;

export const OPSET = 13;
// IR version 7 is the one that goes with opset 13; onnxruntime-node 1.30 reads IR versions up to 11.
export const IR_VERSION = 7;

/** Little-endian float32 bytes, independent of the host's byte order. */
function float32Bytes(values: readonly number[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  for (const [i, v] of values.entries()) view.setFloat32(i * 4, v, true);
  return new Uint8Array(view.buffer);
}

function floatTensor(name: string, dims: number[], values: number[]): InstanceType<typeof onnx.TensorProto> {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: float32Bytes(values),
  });
}

function tensorValueInfo(name: string, dims: Array<number | string>): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

export interface TestModelOptions {
  /** A fixed batch dimension instead of the symbolic `batch` (tests of fixed-batch graphs). */
  batch?: number;
  /** Added to the named labels' biases: a model that errs in a known way (tests of several models voting). */
  biasShift?: Readonly<Record<string, number>>;
}

/** The test model's ONNX bytes: ReduceMean(W) → ReduceMean(H) → MatMul → Add → Sigmoid. */
export function buildTestModel(options: TestModelOptions = {}): Uint8Array {
  const batch = options.batch ?? 'batch';
  const k = TEST_MODEL_LABELS.length;
  const size = TEST_MODEL_INPUT_SIZE;
  // MatMul weight [3, K]: row c is channel c of the tensor (B, G, R), column k is label k.
  const weights: number[] = [];
  for (let c = 0; c < 3; c++) for (const label of TEST_MODEL_LABELS) weights.push(label.weights[c]!);
  const bias = TEST_MODEL_LABELS.map((label) => label.bias + (options.biasShift?.[label.name] ?? 0));

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'booru-tagger scripts/make-test-model.ts',
    producerVersion: '1',
    docString: 'Test model: score_k = sigmoid(w_k . [meanB, meanG, meanR] + b_k). See README.md.',
    graph: {
      name: 'test_colors',
      input: [tensorValueInfo('input', [batch, size, size, 3])],
      output: [tensorValueInfo('output', [batch, k])],
      initializer: [floatTensor('weights', [3, k], weights), floatTensor('bias', [k], bias)],
      node: [
        // Two means of 448 values each instead of one of 200,704: a float32 sum of that many values near 255 loses
        // precision (about 1e-3 relative, seen with a fixed-batch graph), and the scores must match to 1e-4.
        {
          name: 'row_means',
          opType: 'ReduceMean',
          input: ['input'],
          output: ['row_means'],
          attribute: [
            { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [2] },
            { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
          ],
        },
        {
          name: 'channel_means',
          opType: 'ReduceMean',
          input: ['row_means'],
          output: ['channel_means'],
          attribute: [
            { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] },
            { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
          ],
        },
        { name: 'matmul', opType: 'MatMul', input: ['channel_means', 'weights'], output: ['weighted'] },
        { name: 'add_bias', opType: 'Add', input: ['weighted', 'bias'], output: ['logits'] },
        { name: 'sigmoid', opType: 'Sigmoid', input: ['logits'], output: ['output'] },
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** `selected_tags.csv` in the WD format; none of the names needs quoting. */
export function buildSelectedTagsCsv(): string {
  const rows = TEST_MODEL_LABELS.map((label, i) => `${label.tagId},${label.name},${label.category},${1000 * (20 - i)}`);
  return ['tag_id,name,category,count', ...rows].join('\n') + '\n';
}

function formatTerm(weight: number, variable: string): string {
  if (weight === 0) return '';
  const magnitude = Math.abs(weight);
  return `${weight < 0 ? ' − ' : ' + '}${magnitude}·${variable}`;
}

export function buildReadme(modelSha256: string): string {
  const rows = TEST_MODEL_LABELS.map((label, i) => {
    const [wb, wg, wr] = label.weights;
    const terms = (formatTerm(wr, 'R') + formatTerm(wg, 'G') + formatTerm(wb, 'B'))
      .replace(/^ \+ /, '')
      .replace(/^ − /, '−');
    const bias = label.bias === 0 ? '' : label.bias < 0 ? ` − ${-label.bias}` : ` + ${label.bias}`;
    return `| ${i} | \`${label.name}\` | ${label.category} | σ(${terms.trim()}${bias}) | ${label.meaning} |`;
  });
  return `# test-colors: a test model with scores known by construction

Written by \`npm run model:test\` (scripts/make-test-model.ts) from the weights in
\`src/tagger/test-model-spec.ts\`; do not edit these files by hand. Every run writes byte-identical files.

It is a real ONNX graph (opset ${OPSET}, IR version ${IR_VERSION}) in the **WD family layout**, so it loads and runs
exactly as a WD v3 tagger does:

- input \`input\`: float32 NHWC \`[batch, ${TEST_MODEL_INPUT_SIZE}, ${TEST_MODEL_INPUT_SIZE}, 3]\`, BGR values 0–255 (the letterboxed image);
- output \`output\`: float32 \`[batch, ${TEST_MODEL_LABELS.length}]\`, probabilities; row *i* of \`selected_tags.csv\` is output *i*.

Graph: \`ReduceMean\` over W, then over H, gives the mean B, G and R of the image, then \`MatMul\` with a fixed 3×${TEST_MODEL_LABELS.length}
weight matrix, \`Add\` a bias and \`Sigmoid\`. So, with R, G, B the channel means (0–255) of the tensor:

| output | label | category | score | meaning |
|---|---|---|---|---|
${rows.join('\n')}

σ is the logistic function. Solid colours therefore score near 0 or 1 and mixed images in between; tests predict
every score with \`expectedTestModelScores(meanB, meanG, meanR)\`. The \`count\` column is a placeholder.

sha256 of model.onnx: \`${modelSha256}\`. Licence: MIT, as the project.
`;
}

/** A linear-over-channel-means graph of any family layout (see scripts/test-family-specs.ts). Deterministic. */
export function buildFamilyModel(spec: FamilyModelSpec): Uint8Array {
  const batch = spec.batch ?? 'batch';
  const k = spec.labels.length;
  const size = spec.inputSize;
  const weights: number[] = [];
  for (let c = 0; c < 3; c++) for (const label of spec.labels) weights.push(label.weights[c]!);
  const bias = spec.labels.map((label) => label.bias);
  // NHWC: mean over W (axis 2) then H (axis 1); NCHW: over W (axis 3) then H (axis 2). Two small means, not one big
  // one, for float32 precision (see buildTestModel).
  const [first, second] = spec.layout === 'NHWC' ? [2, 1] : [3, 2];
  const reduce = (name: string, input: string, axis: number) => ({
    name,
    opType: 'ReduceMean',
    input: [input],
    output: [name],
    attribute: [
      { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [axis] },
      { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
    ],
  });
  const logitsName = spec.graphActivation === 'sigmoid' ? 'logits' : spec.outputName;
  const nodes = [
    reduce('row_means', spec.inputName, first),
    reduce('channel_means', 'row_means', second),
    { name: 'matmul', opType: 'MatMul', input: ['channel_means', 'weights'], output: ['weighted'] },
    { name: 'add_bias', opType: 'Add', input: ['weighted', 'bias'], output: [logitsName] },
    ...(spec.graphActivation === 'sigmoid'
      ? [{ name: 'sigmoid', opType: 'Sigmoid', input: ['logits'], output: [spec.outputName] }]
      : []),
  ];
  const outputs = [tensorValueInfo(spec.outputName, [batch, k])];
  if (spec.decoyOutput) {
    nodes.push({ name: 'decoy', opType: 'Identity', input: ['channel_means'], output: ['features'] });
    outputs.unshift(tensorValueInfo('features', [batch, 3]));
  }
  const inputDims = spec.layout === 'NHWC' ? [batch, size, size, 3] : [batch, 3, size, size];
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'booru-tagger scripts/make-family-test-model.ts',
    producerVersion: '1',
    docString: `Test model ${spec.folder}: linear over the channel means. See README.md.`,
    graph: {
      name: spec.folder.replaceAll('-', '_'),
      input: [tensorValueInfo(spec.inputName, inputDims)],
      output: outputs,
      initializer: [floatTensor('weights', [3, k], weights), floatTensor('bias', [k], bias)],
      node: nodes,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The files of a family test model folder besides model.onnx and README.md. */
export function buildFamilyVocabulary(spec: FamilyModelSpec): Record<string, string> {
  const files: Record<string, string> = {};
  if (spec.manifest !== null) files['model.json'] = `${JSON.stringify(spec.manifest, null, 2)}\n`;
  if (spec.folder === 'test-deepdanbooru') {
    // DeepDanbooru's tags.txt has no trailing newline; tags-character.txt lists the characters.
    files['tags.txt'] = spec.labels.map((label) => label.name).join('\n');
    files['tags-character.txt'] = `${spec.labels
      .filter((label) => label.category === 4)
      .map((label) => label.name)
      .join('\n')}\n`;
  } else {
    const rows = spec.labels.map((label, i) => `${i},${label.name},${label.category},0`);
    files['selected_tags.csv'] = ['tag_id,name,category,count', ...rows].join('\n') + '\n';
  }
  return files;
}

export function buildFamilyReadme(spec: FamilyModelSpec, modelSha256: string): string {
  const rows = spec.labels.map(
    (label, i) => `| ${i} | \`${label.name}\` | ${label.category} | ${label.weights.join(', ')} | ${label.bias} |`,
  );
  const units = spec.folder === 'test-deepdanbooru' ? 'RGB, 0–1' : 'RGB, (x/255 − 0.5) / 0.5';
  return `# ${spec.folder}: a test model with scores known by construction

Written by \`npx tsx scripts/make-family-test-model.ts\` from \`scripts/test-family-specs.ts\`; do not edit by hand.
Every run writes byte-identical files.

A real ONNX graph (opset ${OPSET}, IR version ${IR_VERSION}): input \`${spec.inputName}\` float32 ${spec.layout}
\`[${spec.batch ?? 'batch'}, ${spec.layout === 'NHWC' ? `${spec.inputSize}, ${spec.inputSize}, 3` : `3, ${spec.inputSize}, ${spec.inputSize}`}]\` (${units}),
output \`${spec.outputName}\` \`[${spec.batch ?? 'batch'}, ${spec.labels.length}]\`${spec.graphActivation === 'sigmoid' ? ' (probabilities: the graph ends in a sigmoid)' : ' (logits; model.json asks the loader for a sigmoid)'}${spec.decoyOutput ? ', listed after a decoy output `features` (the channel means) that a loader must not read' : ''}.

score = σ(w · mean(channels) + b), with the channel means in the tensor's own order and units:

| output | label | category | w | b |
|---|---|---|---|---|
${rows.join('\n')}

sha256 of model.onnx: \`${modelSha256}\`. Licence: MIT, as the project.
`;
}
