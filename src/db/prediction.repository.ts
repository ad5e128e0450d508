import type { PrismaClient } from './generated/client.js';

/** Scores of one post under one model version: `scores[i]` belongs to vocabulary index `labelIdx[i]`. */
export interface StoredPrediction {
  postId: number;
  modelId: number;
  labelIdx: number[];
  scores: number[];
  /** Scores below this were not stored. */
  floor: number;
  /** The post's tagsVersion when it was scored. */
  tagsVersion: number;
  scoredAt: Date;
}

export type PredictionInput = Omit<StoredPrediction, 'scoredAt'>;

export class PredictionRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Stores the scores of a post under a model, replacing earlier ones for the same (post, model). */
  async upsert(input: PredictionInput): Promise<void> {
    if (input.labelIdx.length !== input.scores.length) {
      throw new RangeError(`labelIdx (${input.labelIdx.length}) and scores (${input.scores.length}) differ in length`);
    }
    const data = {
      labelIdx: input.labelIdx,
      scores: input.scores,
      floor: input.floor,
      tagsVersion: input.tagsVersion,
    };
    await this.prisma.prediction.upsert({
      where: { postId_modelId: { postId: input.postId, modelId: input.modelId } },
      create: { ...data, postId: input.postId, modelId: input.modelId },
      // createdAt doubles as "scored at": re-scoring moves it.
      update: { ...data, createdAt: new Date() },
    });
  }

  /** The stored scores of a post under a model, or null. Scores are float4 in the database (≈7 digits). */
  async get(postId: number, modelId: number): Promise<StoredPrediction | null> {
    const row = await this.prisma.prediction.findUnique({ where: { postId_modelId: { postId, modelId } } });
    if (!row) return null;
    return {
      postId: row.postId,
      modelId: row.modelId,
      labelIdx: row.labelIdx,
      scores: row.scores,
      floor: row.floor,
      tagsVersion: row.tagsVersion,
      scoredAt: row.createdAt,
    };
  }
}
