/**
 * How a model family wants its images turned into tensors and its outputs into probabilities. The defaults per
 * family live here; a folder's `model.json` may override any field (DESIGN §4).
 */

/** sharp's resize kernels. `cubic` is Catmull-Rom (a = −0.5), the same cubic as PIL's `BICUBIC`. */
export const RESIZE_KERNELS = [
  'nearest',
  'linear',
  'cubic',
  'mitchell',
  'lanczos2',
  'lanczos3',
  'mks2013',
  'mks2021',
] as const;
export type ResizeKernel = (typeof RESIZE_KERNELS)[number];

/** Model families the loader recognises. DeepDanbooru (`tags.txt`) is planned and slots in beside `wd`. */
export type ModelFamily = 'wd';

export interface PreprocessRecipe {
  /** Edge of the square model input, in pixels. */
  inputSize: number;
  /** Tensor layout: `NHWC` (WD, DeepDanbooru) or `NCHW` (most PyTorch exports). */
  layout: 'NHWC' | 'NCHW';
  /** Channel order in the tensor. */
  channels: 'RGB' | 'BGR';
  /** Value range before `mean`/`std`: raw 0–255 or divided by 255. */
  scale: '0-255' | '0-1';
  /** Subtracted per channel after scaling, given in R, G, B order. (Default: none) */
  mean?: readonly [number, number, number];
  /** Divides per channel after subtracting `mean`, given in R, G, B order. (Default: none) */
  std?: readonly [number, number, number];
  /** What fills the sides when the image is padded to a square: white, black, or its own edge pixels repeated. */
  pad: 'white' | 'black' | 'edge';
  /** Kernel that resizes the padded square to `inputSize`. */
  resize: ResizeKernel;
  /** What the output needs to become probabilities: nothing, a sigmoid per output, or a softmax over the row. */
  outputActivation: 'none' | 'sigmoid' | 'softmax';
  /** Input tensor name. (Default: the session's first input) */
  inputName?: string;
  /** Output tensor name. (Default: the session's first output) */
  outputName?: string;
}

/**
 * WD family (WD14 v2, WD v3): the reference `prepare_image` of SmilingWolf's tagger composites alpha on white, pastes
 * the image at ((max−w)/2, (max−h)/2) on a white square, resizes with PIL bicubic (only when the square is not already
 * `inputSize`), flips RGB→BGR, and feeds float 0–255 NHWC. Outputs are sigmoid probabilities already.
 */
export const WD_RECIPE: Readonly<PreprocessRecipe> = Object.freeze({
  inputSize: 448,
  layout: 'NHWC',
  channels: 'BGR',
  scale: '0-255',
  pad: 'white',
  resize: 'cubic',
  outputActivation: 'none',
});

export const DEFAULT_RECIPES: Readonly<Record<ModelFamily, Readonly<PreprocessRecipe>>> = { wd: WD_RECIPE };

/** Number of float32 values in one image's tensor. */
export function tensorLength(recipe: Pick<PreprocessRecipe, 'inputSize'>): number {
  return recipe.inputSize * recipe.inputSize * 3;
}
