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

/**
 * How the image is resized: a sharp kernel (8-bit, libvips), or `area`, TensorFlow's AREA resize computed exactly in
 * float (`area-resize.ts`): DeepDanbooru's own method.
 */
export type ResizeMethod = ResizeKernel | 'area';

/**
 * Model families the loader recognises: `wd` (selected_tags.csv), `deepdanbooru` (tags.txt) and `custom`, whose
 * whole recipe comes from model.json (ML-Danbooru, animetimm, NSFW classifiers…).
 */
export const MODEL_FAMILIES = ['wd', 'deepdanbooru', 'custom'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/** What a model's outputs are for: tag scores (the diff) or a rating classifier (rating suggestions only). */
export type ModelPurpose = 'tags' | 'rating';

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
  /**
   * How a non-square image becomes a square: `pad` pads it to a centred square at its own size, then resizes (WD's
   * reference order); `contain` resizes it to fit inside `inputSize` keeping its aspect, then pads (DeepDanbooru);
   * `squish` resizes straight to `inputSize`×`inputSize`, ignoring the aspect (no padding).
   */
  fit: 'pad' | 'contain' | 'squish';
  /** What fills the sides when the image is padded to a square: white, black, or its own edge pixels repeated. */
  pad: 'white' | 'black' | 'edge';
  /**
   * Transparency: `white` composites it on white (WD); `drop` discards the alpha channel and keeps the colour
   * underneath (DeepDanbooru's `decode_png(channels=3)`).
   */
  alpha: 'white' | 'drop';
  /** Kernel that resizes to `inputSize`, or `area` (TF's AREA, exact, float). */
  resize: ResizeMethod;
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
  fit: 'pad',
  pad: 'white',
  alpha: 'white',
  resize: 'cubic',
  outputActivation: 'none',
});

/**
 * DeepDanbooru (KichangKim/DeepDanbooru `load_image_for_evaluate`): decode to 3 channels (alpha dropped), resize to
 * fit 512×512 keeping the aspect with TF's `AREA` (reproduced exactly, `area-resize.ts`), centre it on a 512 square
 * padded with its own edge pixels (skimage `warp(order=1, mode='edge')`), RGB, /255, NHWC. The model ends in a
 * sigmoid, so outputs are probabilities already.
 */
export const DEEPDANBOORU_RECIPE: Readonly<PreprocessRecipe> = Object.freeze({
  inputSize: 512,
  layout: 'NHWC',
  channels: 'RGB',
  scale: '0-1',
  fit: 'contain',
  pad: 'edge',
  alpha: 'drop',
  resize: 'area',
  outputActivation: 'none',
});

/**
 * A starting point for `custom` models, which should state their recipe in model.json: the torchvision/timm
 * convention (NCHW, RGB, 0–1) at 224, white pad, bicubic, raw outputs. The input size is taken from the graph when
 * the graph fixes it.
 */
const CUSTOM_RECIPE: Readonly<PreprocessRecipe> = Object.freeze({
  inputSize: 224,
  layout: 'NCHW',
  channels: 'RGB',
  scale: '0-1',
  fit: 'pad',
  pad: 'white',
  alpha: 'white',
  resize: 'cubic',
  outputActivation: 'none',
});

export const DEFAULT_RECIPES: Readonly<Record<ModelFamily, Readonly<PreprocessRecipe>>> = {
  wd: WD_RECIPE,
  deepdanbooru: DEEPDANBOORU_RECIPE,
  custom: CUSTOM_RECIPE,
};

/** Number of float32 values in one image's tensor. */
export function tensorLength(recipe: Pick<PreprocessRecipe, 'inputSize'>): number {
  return recipe.inputSize * recipe.inputSize * 3;
}
