/**
 * Secrets every process of one installation shares, made once and kept in the database: the dashboard's
 * cookie-signing key, so a CSRF cookie signed by one replica (or before a restart) is still good at another.
 */
import type { PrismaClient } from './generated/client.js';

export class AppSecretRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** The stored secret `name`; the first caller stores `make()` (concurrent first callers all get the same one). */
  async getOrCreate(name: string, make: () => string): Promise<string> {
    await this.prisma.appSecret.createMany({ data: [{ name, value: make() }], skipDuplicates: true });
    const row = await this.prisma.appSecret.findUniqueOrThrow({ where: { name }, select: { value: true } });
    return row.value;
  }
}
