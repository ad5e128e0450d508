import type { PrismaClient } from './generated/client.js';

/**
 * Where each crawl of a booru stopped. `kind` names the crawl (posts, changes, tags, aliases…); the value is opaque
 * to the database (a highest id, a timestamp, a page token).
 */
export class CursorRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** The stored cursor, or null before the first crawl of this kind. */
  async get(booruId: number, kind: string): Promise<string | null> {
    const row = await this.prisma.crawlCursor.findUnique({
      where: { booruId_kind: { booruId, kind } },
      select: { value: true },
    });
    return row?.value ?? null;
  }

  /** Stores the cursor (creating it on first use). */
  async set(booruId: number, kind: string, value: string): Promise<void> {
    await this.prisma.crawlCursor.upsert({
      where: { booruId_kind: { booruId, kind } },
      create: { booruId, kind, value },
      update: { value },
    });
  }
}
