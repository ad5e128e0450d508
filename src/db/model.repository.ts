import type { ModelLabel } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { PrismaClient } from './generated/client.js';
import { isUniqueViolation } from './prisma-errors.js';

/** What registers a model version. `sha256` (of the ONNX file) identifies it. */
export interface EnsureModelInput {
  name: string;
  version: string;
  sha256: string;
  /** wd, deepdanbooru, custom… */
  family: string;
  /** tags or rating. */
  purpose: string;
  /** The vocabulary in output order. */
  labels: ModelLabel[];
  /** The preprocessing recipe and other settings, as JSON. */
  manifest: Record<string, unknown>;
}

/** What a loaded model says of itself (a tagger's `model`), as far as registering it needs. */
export interface LoadedModelFacts {
  name: string;
  version: string;
  sha256: string;
  family: string;
  labels: readonly ModelLabel[];
  /** The preprocessing recipe in effect, stored as the manifest. */
  recipe: object;
}

/** The registration of a loaded model serving `purpose`. */
export function modelInputOf(model: LoadedModelFacts, purpose: 'tags' | 'rating'): EnsureModelInput {
  return {
    name: model.name,
    version: model.version,
    sha256: model.sha256,
    family: model.family,
    purpose,
    labels: [...model.labels],
    manifest: { ...model.recipe },
  };
}

/** A registered model version. */
export interface ModelRecord {
  id: number;
  name: string;
  version: string;
  sha256: string;
  family: string;
  purpose: string;
  vocabSize: number;
  labels: ModelLabel[];
  manifest: Record<string, unknown>;
}

export class ModelRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Registers the model (or refreshes its labels and manifest when the same file is registered again) and returns
   * its id. Throws `CONFLICT` when `name@version` is already registered for a different file.
   */
  async ensure(input: EnsureModelInput): Promise<number> {
    const data = {
      name: input.name,
      version: input.version,
      family: input.family,
      purpose: input.purpose,
      vocabSize: input.labels.length,
      labels: input.labels.map((l) => ({ name: l.name, category: l.category })),
      manifest: input.manifest as object,
    };
    try {
      const row = await this.prisma.model.upsert({
        where: { sha256: input.sha256 },
        create: { ...data, sha256: input.sha256 },
        update: data,
        select: { id: true },
      });
      return row.id;
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError(
          'CONFLICT',
          `model ${input.name}@${input.version} is already registered with another file (sha256 differs); ` +
            'give the new file its own version',
          { cause: error, details: { name: input.name, version: input.version, sha256: input.sha256 } },
        );
      }
      throw error;
    }
  }

  /** The model with this id, or null. */
  async findById(id: number): Promise<ModelRecord | null> {
    const row = await this.prisma.model.findUnique({ where: { id } });
    if (!row) return null;
    return {
      id: row.id,
      name: row.name,
      version: row.version,
      sha256: row.sha256,
      family: row.family,
      purpose: row.purpose,
      vocabSize: row.vocabSize,
      labels: row.labels as unknown as ModelLabel[],
      manifest: row.manifest as Record<string, unknown>,
    };
  }
}
