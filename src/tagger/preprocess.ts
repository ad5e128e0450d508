/**
 * Image bytes → model input tensor, with sharp. For the WD family this reproduces the reference `prepare_image`
 * (DESIGN §4): first frame, EXIF orientation applied, alpha composited on white, padded to a centred white square
 * (offsets floored, as PIL's `paste((max-w)//2, (max-h)//2)`), resized to the input size only when it differs,
 * RGB→BGR, float 0–255, NHWC. DeepDanbooru resizes to fit first and pads with the edge; other recipes vary layout,
 * channel order, scale, mean/std, fit (pad, contain, squish), pad colour, alpha handling and kernel.
 *
 * Every failure is an {@link AppError}: MEDIA_CORRUPT (undecodable, truncated, empty), MEDIA_TOO_LARGE (over the
 * pixel limit), MEDIA_UNSUPPORTED (a video, archive or other non-image container).
 */
import sharp, { type Metadata, type Sharp } from 'sharp';
import { AppError } from '../shared/errors.js';
import { areaSquare } from './area-resize.js';
import { decodeGate } from './decode-gate.js';
import { mediaError, refuseNonImages } from './media-facts.js';
import { pixelsToTensor } from './pixels-to-tensor.js';
import type { PreprocessRecipe, ResizeKernel } from './recipe.js';
import { type DecodedWebp, webpDecoder } from './webp-decoder.js';
import { plainWebpSize } from './webp-header.js';

export interface PreprocessLimits {
  /** Largest width × height decoded; bigger images fail with MEDIA_TOO_LARGE before decoding. */
  maxPixels: number;
  /** Longest a decode may take, in seconds; a slower one fails with MEDIA_TOO_LARGE. (Default: 30) */
  timeoutSeconds?: number;
  /**
   * Decode still WebP files up to {@link FAST_WEBP_MAX_PIXELS} with libwebp in worker threads (`webp-decoder.ts`)
   * instead of sharp's loader: the same pixels, about half the CPU. (Default: true; false is for tests comparing the
   * two)
   */
  fastWebp?: boolean;
}

/**
 * The largest WebP (in pixels) decoded by `webp-decoder.ts`: it holds the whole RGBA image at once where sharp
 * streams, so only images up to 2048² take it (every booru sample size); larger ones stream through sharp.
 */
export const FAST_WEBP_MAX_PIXELS = 2048 * 2048;

/** A default for {@link PreprocessLimits.timeoutSeconds}. */
const DEFAULT_DECODE_TIMEOUT_SECONDS = 30;

/** A default for {@link PreprocessLimits.maxPixels}: 8000 × 8000. */
export const DEFAULT_MAX_PIXELS = 64_000_000;

/**
 * Longest side an image keeps before the recipe's own pad and resize: a longer one is shrunk to it first (with the
 * recipe's kernel), so padding to a square never allocates more than this² × 3 bytes, whatever the image's shape.
 * Images up to this size (nearly every booru original) go through the recipe exactly as before.
 */
export const MAX_WORKING_SIDE = 4096;

/** Longest side accepted, in pixels: a decode's line buffers grow with the width. */
export const MAX_SIDE = 50_000;

/** Longest side ÷ shortest side accepted: past it the image is a strip a few pixels wide in the model's square. */
export const MAX_ASPECT_RATIO = 100;

/** The working side for a recipe: {@link MAX_WORKING_SIDE}, or the input size when a model's input is larger. */
function workingSideOf(recipe: Pick<PreprocessRecipe, 'inputSize'>): number {
  return Math.max(MAX_WORKING_SIDE, recipe.inputSize);
}

// libvips' operation cache keeps recent results for reuse with the same input; every decode here has new bytes, so it
// would only hold memory (measured: a third more peak RSS over a few large decodes).
sharp.cache(false);

const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };
const BLACK = { r: 0, g: 0, b: 0, alpha: 1 };

function sharpInput(bytes: Buffer, limits: PreprocessLimits): Sharp {
  // failOn 'warning' (sharp's default, stated here on purpose) rejects truncated and damaged data instead of
  // tagging a half-grey image. pages: 1 decodes only the first frame of an animation.
  return sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'warning', pages: 1, autoOrient: true });
}

/** The sharp kernel for the 8-bit path; `area` (exact only in {@link preprocessImage}) falls back to `linear` here. */
function sharpKernel(recipe: PreprocessRecipe): ResizeKernel {
  return recipe.resize === 'area' ? 'linear' : recipe.resize;
}
/**
 * Decodes `bytes` and returns the model's square as packed RGB bytes (`inputSize² × 3`, row-major), per the
 * recipe's `fit`, `pad`, `alpha` and `resize`: the stage before any channel reordering or scaling. Exported for tests
 * and benchmarks. Memory is bounded by construction: at most {@link MAX_WORKING_SIDE}² × 3 bytes per decode past the
 * streaming shrink, and the decodes of the whole process share {@link decodeGate}'s pixel budget.
 */
export async function letterboxImage(
  bytes: Buffer,
  recipe: PreprocessRecipe,
  limits: PreprocessLimits,
): Promise<Buffer> {
  const header = await headerSize(bytes, limits);
  // Refused sizes never wait; the rest wait for their share of the process-wide decode budget.
  return decodeGate.run(header.width * header.height, () => decodeToSquare(bytes, recipe, limits, header));
}

interface Header {
  width: number;
  height: number;
  /** A still WebP that `webp-decoder.ts` decodes to the same pixels as sharp (see {@link isPlainWebp}). */
  plainWebp: boolean;
}

/** The image's size from its header, refused (MEDIA_*) when it cannot be decoded within the limits. */
async function headerSize(bytes: Buffer, limits: PreprocessLimits): Promise<Header> {
  refuseNonImages(bytes);
  // A plain WebP (a booru's sample) is sized from its RIFF header; anything else, or a WebP that header cannot vouch
  // for, asks sharp.
  const plain = plainWebpSize(bytes);
  if (plain !== null) {
    return { ...checkedSize(plain, limits), plainWebp: plain.width * plain.height <= FAST_WEBP_MAX_PIXELS };
  }
  try {
    const metadata = await sharpInput(bytes, limits).metadata();
    return { ...checkedSize(metadata.autoOrient, limits), plainWebp: isPlainWebp(metadata) };
  } catch (error) {
    throw mediaError(error);
  }
}

/**
 * A WebP whose pixels libwebp alone gives exactly as sharp does: one frame, no EXIF orientation to apply, no ICC
 * profile to convert from, at most {@link FAST_WEBP_MAX_PIXELS}.
 */
function isPlainWebp(metadata: Metadata): boolean {
  return (
    metadata.format === 'webp' &&
    (metadata.pages ?? 1) === 1 &&
    (metadata.orientation ?? 1) === 1 &&
    !metadata.hasProfile &&
    (metadata.width ?? 0) * (metadata.height ?? 0) <= FAST_WEBP_MAX_PIXELS
  );
}

/** The header's size, or MEDIA_* when it cannot be decoded within the limits (pixels, side, aspect). */
function checkedSize(
  { width, height }: { width?: number; height?: number },
  limits: PreprocessLimits,
): { width: number; height: number } {
  if (!width || !height) throw new AppError('MEDIA_CORRUPT', 'image has no dimensions');
  if (width * height > limits.maxPixels) {
    throw new AppError('MEDIA_TOO_LARGE', `image is ${width}×${height}, over the limit of ${limits.maxPixels} pixels`);
  }
  const longest = Math.max(width, height);
  if (longest > MAX_SIDE) {
    throw new AppError('MEDIA_TOO_LARGE', `image is ${width}×${height}, longer than ${MAX_SIDE} pixels`);
  }
  if (longest > MAX_ASPECT_RATIO * Math.min(width, height)) {
    throw new AppError(
      'MEDIA_TOO_LARGE',
      `image is ${width}×${height}, longer than ${MAX_ASPECT_RATIO}:1 (it would vanish in the model's square)`,
    );
  }
  return { width, height };
}

/**
 * The first pass: the decoded image (shrunk to the working side when longer), alpha flattened or dropped, and for
 * `fit: pad` padded to a centred square. `width`/`height` are the image's size within `data`'s `rawWidth × rawHeight`.
 */
interface FirstPass {
  data: Buffer;
  width: number;
  height: number;
  rawWidth: number;
  rawHeight: number;
}

async function sharpFirstPass(
  bytes: Buffer,
  recipe: PreprocessRecipe,
  limits: PreprocessLimits,
  header: Header,
  timeout: { seconds: number },
): Promise<FirstPass> {
  let { width, height } = header;
  const longest = Math.max(width, height);
  // Alpha is flattened (or dropped) before padding, so the pad colour never mixes with transparency.
  let decoded = sharpInput(bytes, limits);
  decoded = recipe.alpha === 'drop' ? decoded.removeAlpha() : decoded.flatten({ background: WHITE });
  decoded = decoded.toColourspace('srgb');

  // Memory bound: an image longer than the working side is shrunk to it while it streams in (shrink-on-load where
  // the format has it), before any padding, so no buffer below is larger than workingSide² × 3 bytes.
  const workingSide = workingSideOf(recipe);
  if (longest > workingSide) {
    const scale = workingSide / longest;
    [width, height] = [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
    decoded = decoded.resize(width, height, { kernel: sharpKernel(recipe), fit: 'fill' });
  }

  // 'pad' pads at the image's own size first: the padded square is what the kernel sees (WD's reference order).
  const side = Math.max(width, height);
  const [rawWidth, rawHeight] = recipe.fit === 'pad' ? [side, side] : [width, height];
  if (recipe.fit === 'pad' && (side !== width || side !== height)) {
    const left = Math.floor((side - width) / 2);
    const top = Math.floor((side - height) / 2);
    decoded = decoded.extend({
      left,
      top,
      right: side - width - left,
      bottom: side - height - top,
      background: recipe.pad === 'black' ? BLACK : WHITE,
      extendWith: recipe.pad === 'edge' ? 'copy' : 'background',
    });
  }
  const { data, info } = await decoded
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .timeout(timeout)
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== rawWidth || info.height !== rawHeight) {
    throw new AppError(
      'MEDIA_UNSUPPORTED',
      `decoded to ${info.width}×${info.height}×${info.channels}, expected ${rawWidth}×${rawHeight}×3`,
    );
  }
  return { data, width, height, rawWidth, rawHeight };
}

/**
 * Starts, ahead of the first image, the WebP decode worker that {@link letterboxImage} will use for `recipe`: called
 * when a model loads, so that the first posts are not decoded by sharp while a worker starts (~0.2 s on a slow core).
 */
export function warmDecoders(recipe: PreprocessRecipe): void {
  if (recipe.resize !== 'area' && recipe.pad !== 'edge') webpDecoder().warm();
}

/**
 * The first pass for a plain WebP ({@link isPlainWebp}) no longer than the working side: libwebp in a worker thread
 * (`webp-decoder.ts`), alpha and padding applied there in one pass (`rgba-square.mjs`): the same bytes as
 * {@link sharpFirstPass}. For `fit: pad` and `squish` the worker also does the one resize that follows, so the result
 * is the finished square (`final`). Null when the worker could not decode the file (sharp then does, and names what
 * is wrong) or none has started yet.
 */
async function plainWebpFirstPass(
  bytes: Buffer,
  recipe: PreprocessRecipe,
  timeout: { seconds: number },
): Promise<(FirstPass & { final: boolean }) | null> {
  // Until its first worker has started (start-up), sharp decodes: the first post does not wait for a worker.
  const decoder = webpDecoder();
  if (!decoder.ready) {
    decoder.warm();
    return null;
  }
  const size = recipe.inputSize;
  const final = recipe.fit !== 'contain';
  let image: DecodedWebp;
  try {
    image = await decoder.decode(
      bytes,
      {
        alpha: recipe.alpha === 'drop' ? 'drop' : 'white',
        padLevel: recipe.fit === 'pad' ? (recipe.pad === 'black' ? 0 : 255) : null,
      },
      final ? { width: size, height: size, kernel: sharpKernel(recipe) } : null,
      timeout.seconds * 1000,
    );
  } catch (error) {
    if (error instanceof AppError) throw error;
    return null;
  }
  const { rgb } = image;
  return {
    data: Buffer.from(rgb.data.buffer, rgb.data.byteOffset, rgb.data.byteLength),
    width: image.width,
    height: image.height,
    rawWidth: rgb.width,
    rawHeight: rgb.height,
    final,
  };
}

async function decodeToSquare(
  bytes: Buffer,
  recipe: PreprocessRecipe,
  limits: PreprocessLimits,
  header: Header,
): Promise<Buffer> {
  const timeout = { seconds: limits.timeoutSeconds ?? DEFAULT_DECODE_TIMEOUT_SECONDS };
  try {
    const size = recipe.inputSize;
    const padColour = recipe.pad === 'black' ? BLACK : WHITE;
    const extendWith = recipe.pad === 'edge' ? 'copy' : 'background';
    const fastWebp =
      header.plainWebp &&
      limits.fastWebp !== false &&
      recipe.pad !== 'edge' &&
      Math.max(header.width, header.height) <= workingSideOf(recipe);
    const fast = fastWebp ? await plainWebpFirstPass(bytes, recipe, timeout) : null;
    if (fast?.final) return fast.data;
    const { data, width, height, rawWidth, rawHeight } =
      fast ?? (await sharpFirstPass(bytes, recipe, limits, header, timeout));
    // sharp always resizes before it extends, so each fit is one more pass over the decoded pixels.
    const raw = () => sharp(data, { raw: { width: rawWidth, height: rawHeight, channels: 3 } });
    if (recipe.fit === 'contain') {
      const scale = size / Math.max(width, height);
      const fitWidth = Math.max(1, Math.round(width * scale));
      const fitHeight = Math.max(1, Math.round(height * scale));
      if (fitWidth === size && fitHeight === size && width === size) return data;
      let contained = raw();
      if (fitWidth !== width || fitHeight !== height) {
        contained = contained.resize(fitWidth, fitHeight, { kernel: sharpKernel(recipe), fit: 'fill' });
      }
      const left = Math.floor((size - fitWidth) / 2);
      const top = Math.floor((size - fitHeight) / 2);
      return await contained
        .extend({
          left,
          top,
          right: size - fitWidth - left,
          bottom: size - fitHeight - top,
          background: padColour,
          extendWith,
        })
        .raw({ depth: 'uchar' })
        .timeout(timeout)
        .toBuffer();
    }
    if (rawWidth === size && rawHeight === size) return data;
    return await raw()
      .resize(size, size, { kernel: sharpKernel(recipe), fit: 'fill' })
      .raw({ depth: 'uchar' })
      .timeout(timeout)
      .toBuffer();
  } catch (error) {
    throw mediaError(error);
  }
}

/**
 * Decodes `bytes` to packed RGB bytes at the image's own size (first frame, EXIF orientation applied, alpha dropped
 * or composited on white per the recipe), for paths that resize by themselves (the AREA path, `area-resize.ts`).
 */
async function decodeRgb(
  bytes: Buffer,
  recipe: Pick<PreprocessRecipe, 'alpha'>,
  limits: PreprocessLimits,
): Promise<{ data: Buffer; width: number; height: number }> {
  const { width, height } = await headerSize(bytes, limits);
  try {
    const decoded = sharpInput(bytes, limits);
    const { data, info } = await (recipe.alpha === 'drop'
      ? decoded.removeAlpha()
      : decoded.flatten({ background: WHITE })
    )
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .timeout({ seconds: limits.timeoutSeconds ?? DEFAULT_DECODE_TIMEOUT_SECONDS })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== width || info.height !== height) {
      throw new AppError(
        'MEDIA_UNSUPPORTED',
        `decoded to ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×3`,
      );
    }
    return { data, width, height };
  } catch (error) {
    throw mediaError(error);
  }
}

/** Image bytes → the recipe's float square (RGB 0–255) by the AREA path. MEDIA_* AppError as {@link decodeRgb}. */
async function areaLetterbox(bytes: Buffer, recipe: PreprocessRecipe, limits: PreprocessLimits): Promise<Float32Array> {
  const { data, width, height } = await decodeRgb(bytes, recipe, limits);
  return areaSquare(data, width, height, recipe);
}

/** Image bytes → one model input tensor per the recipe. Throws AppError (MEDIA_*) for images it cannot use. */
export async function preprocessImage(
  bytes: Buffer,
  recipe: PreprocessRecipe,
  limits: PreprocessLimits,
): Promise<Float32Array> {
  // TF's AREA resize keeps float pixels: its own module, so it never goes through sharp's 8-bit resize.
  // It decodes at full size (a box average cannot be split into shrink-on-load passes exactly), so the whole
  // decode and resize hold their share of the process-wide decode budget.
  if (recipe.resize === 'area') {
    const { width, height } = await headerSize(bytes, limits);
    return pixelsToTensor(await decodeGate.run(width * height, () => areaLetterbox(bytes, recipe, limits)), recipe);
  }
  return pixelsToTensor(await letterboxImage(bytes, recipe, limits), recipe);
}
