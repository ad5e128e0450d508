import type { BooruKind } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { PrismaClient } from './generated/client.js';
import { isUniqueViolation } from './prisma-errors.js';

/** A configured booru as stored. */
export interface BooruRecord {
  id: number;
  name: string;
  kind: BooruKind;
  baseUrl: string;
  credentialsRef: string | null;
  activeModelId: number | null;
  activeRatingModelId: number | null;
}

export interface EnsureBooruInput {
  name: string;
  kind: BooruKind;
  baseUrl: string;
  credentialsRef?: string | null;
}

const booruSelect = {
  id: true,
  name: true,
  kind: true,
  baseUrl: true,
  credentialsRef: true,
  activeModelId: true,
  activeRatingModelId: true,
} as const;

export class BooruRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Returns the booru with this base URL, creating it or refreshing its name and kind. Throws `CONFLICT` when the
   * name is already taken by a booru with another base URL.
   */
  async ensure(input: EnsureBooruInput): Promise<BooruRecord> {
    const data = {
      name: input.name,
      kind: input.kind,
      ...(input.credentialsRef !== undefined ? { credentialsRef: input.credentialsRef } : {}),
    };
    try {
      return await this.prisma.booru.upsert({
        where: { baseUrl: input.baseUrl },
        create: { ...data, baseUrl: input.baseUrl },
        update: data,
        select: booruSelect,
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError('CONFLICT', `a booru named "${input.name}" already exists with another base URL`, {
          cause: error,
          details: { name: input.name, baseUrl: input.baseUrl },
        });
      }
      throw error;
    }
  }

  /** The booru with this id, or null. */
  /** Every stored booru's base URL. */
  async listBaseUrls(): Promise<string[]> {
    const rows = await this.prisma.booru.findMany({ select: { baseUrl: true }, orderBy: { id: 'asc' } });
    return rows.map((r) => r.baseUrl);
  }

  async findById(id: number): Promise<BooruRecord | null> {
    return this.prisma.booru.findUnique({ where: { id }, select: booruSelect });
  }

  /** Makes `modelId` the model whose scores drive this booru's tag suggestions (rating: the rating model). */
  async setActiveModel(booruId: number, modelId: number | null, purpose: 'tags' | 'rating' = 'tags'): Promise<void> {
    await this.prisma.booru.update({
      where: { id: booruId },
      data: purpose === 'tags' ? { activeModelId: modelId } : { activeRatingModelId: modelId },
    });
  }

  /** Every booru, by id: what a report or an export can be about. */
  async listBoorus(): Promise<{ id: number; name: string; kind: BooruKind; baseUrl: string }[]> {
    return this.prisma.booru.findMany({
      select: { id: true, name: true, kind: true, baseUrl: true },
      orderBy: { id: 'asc' },
    });
  }
}
