/**
 * The booru's tag metadata as the diff needs it: active aliases, deprecated tags, categories and active
 * implications. Filled by tag sync (a later stage); empty tables simply mean "nothing known yet".
 */
import type { BooruTagFacts } from '../core/tag-vocabulary.js';
import type { PrismaClient } from './generated/client.js';

export interface TagFactsSnapshot {
  facts: BooruTagFacts;
  implications: [string, string][];
}

export class TagRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Loads everything the diff needs for one booru. Categories are null when no tag list was synced. */
  async loadFacts(booruId: number): Promise<TagFactsSnapshot> {
    const [tags, aliases, implications] = await Promise.all([
      this.prisma.tag.findMany({ where: { booruId }, select: { name: true, category: true, isDeprecated: true } }),
      this.prisma.tagAlias.findMany({
        where: { booruId, status: 'active' },
        select: { antecedent: true, consequent: true },
      }),
      this.prisma.tagImplication.findMany({
        where: { booruId, status: 'active' },
        select: { antecedent: true, consequent: true },
      }),
    ]);
    return {
      facts: {
        aliases: new Map(aliases.map((a) => [a.antecedent, a.consequent])),
        deprecated: new Set(tags.filter((t) => t.isDeprecated).map((t) => t.name)),
        categories: tags.length === 0 ? null : new Map(tags.map((t) => [t.name, t.category])),
      },
      implications: implications.map((i) => [i.antecedent, i.consequent]),
    };
  }

  /** Upserts tags (name, category, post count, deprecation). */
  async upsertTags(
    booruId: number,
    tags: { name: string; category: number; postCount: number; isDeprecated: boolean }[],
  ): Promise<void> {
    for (const tag of tags) {
      await this.prisma.tag.upsert({
        where: { booruId_name: { booruId, name: tag.name } },
        create: { booruId, ...tag },
        update: { category: tag.category, postCount: tag.postCount, isDeprecated: tag.isDeprecated },
      });
    }
  }

  /** Records aliases or implications with their status (only active ones are applied). */
  async upsertRelations(
    booruId: number,
    kind: 'alias' | 'implication',
    rows: { antecedent: string; consequent: string; status: string }[],
  ): Promise<void> {
    for (const row of rows) {
      const where = {
        booruId_antecedent_consequent: { booruId, antecedent: row.antecedent, consequent: row.consequent },
      };
      const data = { booruId, ...row };
      if (kind === 'alias') await this.prisma.tagAlias.upsert({ where, create: data, update: { status: row.status } });
      else await this.prisma.tagImplication.upsert({ where, create: data, update: { status: row.status } });
    }
  }
}
