/**
 * The project-made test model `models/test-colors`: a real ONNX graph in the WD family layout whose scores are known
 * by construction. `scripts/make-test-model.ts` writes the graph from these weights, and tests predict its scores
 * with {@link expectedTestModelScores}, so the formulas exist only here.
 *
 * Graph: `input` float32 NHWC `[batch, 448, 448, 3]` (BGR, 0–255) → ReduceMean over H and W → `[batch, 3]` holding
 * `[meanB, meanG, meanR]` → MatMul with a 3×K weight matrix → Add a K bias → Sigmoid → `output` `[batch, K]`.
 * Slopes are steep (0.05–0.2 per unit of 0–255) so that solid colours score near 0 or 1 and mixed images land
 * in between.
 */

/** One label of the test model: score = sigmoid(b·meanB + g·meanG + r·meanR + bias). */
export interface TestModelLabelSpec {
  tagId: number;
  name: string;
  /** 9 rating, 0 general, 4 character (WD `selected_tags.csv` categories). */
  category: number;
  /** Weights on the mean blue, green and red values (0–255), in the tensor's BGR order. */
  weights: readonly [b: number, g: number, r: number];
  bias: number;
  /** What the label means, for the model's README. */
  meaning: string;
}

/** Model input edge in pixels, as WD v3. */
export const TEST_MODEL_INPUT_SIZE = 448;

/** Row i is output i, exactly as in `selected_tags.csv`. */
export const TEST_MODEL_LABELS: readonly TestModelLabelSpec[] = [
  {
    tagId: 9999999,
    name: 'general',
    category: 9,
    weights: [0, 0.05, -0.05],
    bias: 2,
    meaning: 'rating general: high unless the image is more red than green',
  },
  {
    tagId: 9999998,
    name: 'sensitive',
    category: 9,
    weights: [0, -0.05, 0.05],
    bias: -2,
    meaning: 'rating sensitive: the mirror of general',
  },
  {
    tagId: 9999997,
    name: 'questionable',
    category: 9,
    weights: [-0.05, -0.05, 0.05],
    bias: -4,
    meaning: 'rating questionable: red clearly above green + blue',
  },
  {
    tagId: 9999996,
    name: 'explicit',
    category: 9,
    weights: [-0.1, -0.1, 0.1],
    bias: -20,
    meaning: 'rating explicit: (nearly) pure red only',
  },
  {
    tagId: 100001,
    name: 'red_theme',
    category: 0,
    weights: [-0.05, -0.05, 0.05],
    bias: -2.5,
    meaning: 'red above green + blue',
  },
  {
    tagId: 100002,
    name: 'green_theme',
    category: 0,
    weights: [-0.05, 0.05, -0.05],
    bias: -2.5,
    meaning: 'green above red + blue',
  },
  {
    tagId: 100003,
    name: 'blue_theme',
    category: 0,
    weights: [0.05, -0.05, -0.05],
    bias: -2.5,
    meaning: 'blue above red + green',
  },
  {
    tagId: 100004,
    name: 'aqua_theme',
    category: 0,
    weights: [0.05, 0.05, -0.1],
    bias: -19,
    meaning: 'green and blue both high, red low',
  },
  {
    tagId: 100005,
    name: 'yellow_theme',
    category: 0,
    weights: [-0.1, 0.05, 0.05],
    bias: -19,
    meaning: 'red and green both high, blue low',
  },
  {
    tagId: 100006,
    name: 'dark',
    category: 0,
    weights: [-0.04, -0.04, -0.04],
    bias: 4,
    meaning: 'R + G + B below 100',
  },
  {
    tagId: 100007,
    name: 'white_background',
    category: 0,
    weights: [0.05, 0.05, 0.05],
    bias: -34,
    meaning: 'R + G + B above 680 (nearly white)',
  },
  {
    tagId: 100008,
    name: 'hatsune_miku',
    category: 4,
    weights: [0.1, 0.1, -0.2],
    bias: -40,
    meaning: 'strongly aqua: green + blue − 2·red above 400',
  },
];

/** The logistic function, in float64. */
function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * The scores the test model gives an image whose tensor has these channel means (0–255). Computed in float64; the
 * model computes in float32, so compare within about 1e-4.
 */
export function expectedTestModelScores(meanB: number, meanG: number, meanR: number): number[] {
  return TEST_MODEL_LABELS.map(({ weights: [wb, wg, wr], bias }) =>
    sigmoid(wb * meanB + wg * meanG + wr * meanR + bias),
  );
}
