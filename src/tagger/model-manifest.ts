/**
 * `model.json`: an optional manifest in a model folder that overrides anything the loader would infer (DESIGN §4).
 * Parsed strictly, so a misspelt key is an error instead of a silently ignored setting.
 */
import { z } from 'zod';
import { AppError } from '../shared/errors.js';
import { MODEL_FAMILIES, RESIZE_KERNELS, type ResizeKernel, type ResizeMethod } from './recipe.js';

/** Kernel names other tools use, mapped onto sharp's. */
const KERNEL_ALIASES = { bilinear: 'linear', bicubic: 'cubic' } as const satisfies Record<string, ResizeKernel>;

const rgbTriple = z.tuple([z.number(), z.number(), z.number()]);

const modelManifestSchema = z
  .object({
    /** Display name. (Default: the folder name) */
    name: z.string().min(1).optional(),
    /** Version stamped on every prediction. (Default: the first 12 hex digits of model.onnx's sha256) */
    version: z.string().min(1).optional(),
    /** Model family. (Default: inferred from the vocabulary file) */
    family: z.enum(MODEL_FAMILIES).optional(),
    /** What the outputs are for: `tags` (the diff) or `rating` (a rating classifier). (Default: tags) */
    purpose: z.enum(['tags', 'rating']).optional(),
    inputSize: z.number().int().min(1).max(8192).optional(),
    layout: z.enum(['NHWC', 'NCHW']).optional(),
    channels: z.enum(['RGB', 'BGR']).optional(),
    scale: z.enum(['0-255', '0-1']).optional(),
    mean: rgbTriple.optional(),
    std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).optional(),
    fit: z.enum(['pad', 'contain', 'squish']).optional(),
    pad: z.enum(['white', 'black', 'edge']).optional(),
    alpha: z.enum(['white', 'drop']).optional(),
    /**
     * A sharp kernel, or `area` (TF's AREA, exact); `bilinear` and `bicubic` (PIL/TF names) are read as `linear` and
     * `cubic`.
     */
    resize: z
      .enum([...RESIZE_KERNELS, 'area', ...(Object.keys(KERNEL_ALIASES) as Array<keyof typeof KERNEL_ALIASES>)])
      .transform(
        (kernel): ResizeMethod =>
          kernel in KERNEL_ALIASES ? KERNEL_ALIASES[kernel as keyof typeof KERNEL_ALIASES] : (kernel as ResizeMethod),
      )
      .optional(),
    outputActivation: z.enum(['none', 'sigmoid', 'softmax']).optional(),
    inputName: z.string().min(1).optional(),
    outputName: z.string().min(1).optional(),
    /** Category per label name, overriding the vocabulary file's (e.g. DeepDanbooru tags.txt has none). */
    labelCategories: z.record(z.string(), z.number().int().min(0).max(99)).optional(),
    /** Default thresholds by category name (`general`, `character`…) or tag name, 0–1. */
    thresholds: z.record(z.string(), z.number().min(0).max(1)).optional(),
    description: z.string().optional(),
  })
  .strict();

export type ModelManifest = z.infer<typeof modelManifestSchema>;

/** Parses the text of a `model.json`; throws MODEL_INVALID naming every bad key. */
export function parseModelManifest(text: string, source = 'model.json'): ModelManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AppError('MODEL_INVALID', `${source} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const result = modelManifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new AppError('MODEL_INVALID', `${source} is invalid:\n  ${problems.join('\n  ')}`, {
      details: { source, problems },
    });
  }
  return result.data;
}
