/**
 * The project-made test models of the other families (`models/test-deepdanbooru`, `models/test-nchw-logits`): real
 * ONNX graphs whose scores are known by construction, like `models/test-colors`. Each graph averages every input
 * channel over the image, then applies one linear layer (weights per label over the tensor's channel means, in the
 * tensor's channel order and value units) and, for DeepDanbooru, a sigmoid inside the graph. `expectedFamilyScores`
 * predicts the outputs, so the formulas live only here; scripts/make-family-test-model.ts writes the graphs.
 */

export interface FamilyLabelSpec {
  name: string;
  category: number;
  /** Weights on the tensor's three channel means, in the tensor's channel order. */
  weights: readonly [number, number, number];
  bias: number;
}

export interface FamilyModelSpec {
  /** Folder under models/. */
  folder: string;
  layout: 'NHWC' | 'NCHW';
  inputSize: number;
  inputName: string;
  outputName: string;
  /** A fixed batch dimension, or null for a symbolic one. */
  batch: number | null;
  /** `sigmoid`: the graph ends in a sigmoid (probabilities); `none`: it emits logits. */
  graphActivation: 'sigmoid' | 'none';
  /** A second output, listed first, so that a loader taking "the first output" reads the wrong one. */
  decoyOutput: boolean;
  labels: readonly FamilyLabelSpec[];
  /** model.json, when the folder has one. */
  manifest: Record<string, unknown> | null;
}

/**
 * DeepDanbooru layout: NHWC 512, RGB, 0–1, sigmoid in the graph; `tags.txt` with the three rating pseudo-tags last,
 * and `tags-character.txt` naming the character. Means are 0–1, so slopes are 255× those of test-colors.
 */
export const DEEPDANBOORU_TEST_MODEL: FamilyModelSpec = {
  folder: 'test-deepdanbooru',
  layout: 'NHWC',
  inputSize: 512,
  inputName: 'input_1',
  outputName: 'activation_172',
  batch: null,
  graphActivation: 'sigmoid',
  decoyOutput: false,
  labels: [
    { name: 'red_theme', category: 0, weights: [12.75, -12.75, -12.75], bias: -2.5 },
    { name: 'green_theme', category: 0, weights: [-12.75, 12.75, -12.75], bias: -2.5 },
    { name: 'blue_theme', category: 0, weights: [-12.75, -12.75, 12.75], bias: -2.5 },
    { name: 'white_background', category: 0, weights: [12.75, 12.75, 12.75], bias: -34 },
    { name: 'hatsune_miku', category: 4, weights: [-51, 25.5, 25.5], bias: -40 },
    { name: 'rating:safe', category: 9, weights: [-12.75, 12.75, 0], bias: 2 },
    { name: 'rating:questionable', category: 9, weights: [12.75, -12.75, -12.75], bias: -4 },
    { name: 'rating:explicit', category: 9, weights: [25.5, -25.5, -25.5], bias: -20 },
  ],
  manifest: null,
};

/**
 * An animetimm / ML-Danbooru style export: NCHW, RGB normalised with mean 0.5 / std 0.5 (values −1…1), a fixed batch
 * of 1, input `pixel_values`, logits on the second output `logits` (the first is a decoy), sigmoid applied by the
 * loader per model.json. 64² keeps the file small.
 */
export const NCHW_LOGITS_TEST_MODEL: FamilyModelSpec = {
  folder: 'test-nchw-logits',
  layout: 'NCHW',
  inputSize: 64,
  inputName: 'pixel_values',
  outputName: 'logits',
  batch: 1,
  graphActivation: 'none',
  decoyOutput: true,
  labels: [
    { name: 'general', category: 9, weights: [-3, 3, 0], bias: 2 },
    { name: 'sensitive', category: 9, weights: [3, -3, 0], bias: -2 },
    { name: 'red_theme', category: 0, weights: [3, -3, -3], bias: -2.5 },
    { name: 'green_theme', category: 0, weights: [-3, 3, -3], bias: -2.5 },
    { name: 'blue_theme', category: 0, weights: [-3, -3, 3], bias: -2.5 },
    { name: 'dark', category: 0, weights: [-2, -2, -2], bias: -1 },
  ],
  manifest: {
    family: 'custom',
    layout: 'NCHW',
    channels: 'RGB',
    scale: '0-1',
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
    fit: 'pad',
    pad: 'black',
    resize: 'bicubic',
    outputActivation: 'sigmoid',
    inputName: 'pixel_values',
    outputName: 'logits',
    thresholds: { general: 0.4, dark: 0.6 },
  },
};

export const FAMILY_TEST_MODELS: readonly FamilyModelSpec[] = [DEEPDANBOORU_TEST_MODEL, NCHW_LOGITS_TEST_MODEL];

/** The probabilities a family test model gives for tensor channel means `means` (tensor order and units). */
export function expectedFamilyScores(spec: FamilyModelSpec, means: readonly [number, number, number]): number[] {
  return spec.labels.map((label) => {
    const z = label.weights[0] * means[0] + label.weights[1] * means[1] + label.weights[2] * means[2] + label.bias;
    return 1 / (1 + Math.exp(-z));
  });
}
