/**
 * The tagger as the rest of the service sees it: image bytes in, one score per model label out. The worker depends
 * on this interface only; {@link OnnxTagger} implements it with onnxruntime-node, and tests use a fake.
 */
import type { ModelLabel, ScoreVector } from '../core/types.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { ModelFamily, ModelPurpose, PreprocessRecipe } from './recipe.js';

/**
 * Where inference should run. `auto` tries CUDA (GPU 0) and falls back to the CPU with a warning; `cuda:N` picks
 * GPU N; `cuda`, `cuda:N` and `webgpu` fail with MODEL_RUNTIME instead of falling back.
 */
export type Device = 'auto' | 'cpu' | 'cuda' | `cuda:${number}` | 'webgpu';

/** The execution provider a session actually runs on. */
export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

/** Identifies the model that produced a score; `version` is stamped on every stored prediction. */
export interface TaggerModelInfo {
  name: string;
  version: string;
  /** sha256 of model.onnx, lowercase hex. */
  sha256: string;
  family: ModelFamily;
  /** `tags` for a tagger, `rating` for a rating classifier (its labels are all category 9). */
  purpose: ModelPurpose;
  /** Same as {@link Tagger.labels}: the vocabulary, for registering the model. */
  labels: readonly ModelLabel[];
  /** Default thresholds from model.json, by category name (`general`, `character`) or tag name. */
  manifestThresholds?: Readonly<Record<string, number>>;
  /** How images are preprocessed and outputs read, as in effect (after model.json and the graph's own shape). */
  recipe: Readonly<PreprocessRecipe>;
}

/** Where a preprocess call's time went, in ms, added to the given counters. */
export interface PreprocessTiming {
  /** Decoding and resizing (sharp). */
  decodeMs: number;
  /** Pixels → Float32 tensor. */
  tensorMs: number;
}

export interface Tagger {
  readonly model: TaggerModelInfo;
  /** `labels[i]` names `scores[i]` of every {@link ScoreVector} this tagger returns. */
  readonly labels: readonly ModelLabel[];
  /** The execution provider in use, for start-up logs and status output. */
  readonly provider: ExecutionProvider;
  /** Edge of the square model input in pixels: the smallest image variant worth downloading. */
  readonly inputSize: number;

  /**
   * Decodes one image and turns it into the model's input tensor (the CPU-bound stage, so a worker can overlap it
   * with inference). Throws AppError MEDIA_CORRUPT, MEDIA_TOO_LARGE or MEDIA_UNSUPPORTED for images it cannot use.
   */
  preprocess(image: Buffer, timing?: PreprocessTiming): Promise<Float32Array>;

  /** Images per model run (a measured or configured device batch), when the tagger has one. */
  readonly batchLimit?: number;

  /** Scores tensors made by {@link preprocess}, as few model runs as the model allows; one result per tensor. */
  predictBatch(tensors: readonly Float32Array[]): Promise<ScoreVector[]>;

  /**
   * Gives back tensors made by {@link preprocess} that the caller will never read or pass again (their
   * {@link predictBatch} has settled): later preprocess calls reuse their memory. A 448² tensor is 2.4 MB, and
   * allocating one per image made V8 run a full collection every two or three images (external memory pressure),
   * ~25 ms of the main thread each time. Optional, and forgetting it is safe: the tensors are then collected.
   */
  recycle?(tensors: readonly Float32Array[]): void;

  /**
   * Preprocesses and scores images in one batch. An image that cannot be used yields its AppError in its slot
   * instead of failing the batch; a model failure still throws.
   */
  predictImages(images: readonly Buffer[]): Promise<Array<ScoreVector | AppError>>;

  /** Frees the model. The tagger cannot be used afterwards. */
  close(): Promise<void>;
}

/**
 * {@link Tagger.predictImages} for any tagger: preprocess each image (an image that cannot be used keeps its
 * AppError in its slot), then one {@link Tagger.predictBatch} over the rest.
 */
export async function predictImagesWith(
  tagger: Pick<Tagger, 'preprocess' | 'predictBatch'>,
  images: readonly Buffer[],
): Promise<Array<ScoreVector | AppError>> {
  const prepared = await Promise.all(
    images.map((image) =>
      tagger.preprocess(image).catch((error: unknown) =>
        error instanceof AppError
          ? error
          : new AppError('MEDIA_CORRUPT', `image cannot be preprocessed: ${coerceError(error).message}`, {
              cause: error,
            }),
      ),
    ),
  );
  const tensors = prepared.filter((p): p is Float32Array => p instanceof Float32Array);
  const scores = await tagger.predictBatch(tensors);
  let next = 0;
  return prepared.map((p) => (p instanceof Float32Array ? scores[next++]! : p));
}
