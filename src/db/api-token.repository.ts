/**
 * Personal API tokens: a user's bearer secrets for scripts and bots. Only the sha256 of a token is stored (like
 * sessions), so a database leak yields no usable token; a token acts with its user's role and dies when it expires
 * (`TAGGER_TOKEN_DAYS`), is revoked, its user's password changes, or its user is disabled.
 */
import type { PrismaClient } from './generated/client.js';
import type { Role } from './user.repository.js';

export interface ApiTokenView {
  id: number;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  expiresAt: Date | null;
}

export interface TokenOwner {
  tokenId: number;
  user: { id: number; name: string; role: Role };
}

const tokenSelect = {
  id: true,
  name: true,
  createdAt: true,
  lastUsedAt: true,
  revokedAt: true,
  expiresAt: true,
} as const;

export class ApiTokenRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Stores a new token for `userId` under the hash of its secret, valid until `expiresAt` (the callers' setting). */
  async create(input: { userId: number; name: string; tokenHash: string; expiresAt?: Date }): Promise<ApiTokenView> {
    return this.prisma.apiToken.create({ data: input, select: tokenSelect });
  }

  /** The user a live token belongs to, or null (unknown, revoked, expired, or its user disabled); records the use. */
  async findOwner(tokenHash: string, now: Date = new Date()): Promise<TokenOwner | null> {
    const row = await this.prisma.apiToken.findFirst({
      // A token without an expiry (none are made any more; the migration gave old ones one) never expires.
      where: {
        tokenHash,
        revokedAt: null,
        OR: [{ expiresAt: null }, { expiresAt: { gt: now } }],
        user: { disabledAt: null },
      },
      select: { id: true, lastUsedAt: true, user: { select: { id: true, name: true, role: true } } },
    });
    if (!row) return null;
    // At most one write a minute per token: a busy bot must not turn every read into a write.
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > 60_000) {
      await this.prisma.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: now } });
    }
    return { tokenId: row.id, user: row.user };
  }

  /** A user's tokens, newest first, revoked ones included. */
  async listForUser(userId: number): Promise<ApiTokenView[]> {
    return this.prisma.apiToken.findMany({ where: { userId }, orderBy: { id: 'desc' }, select: tokenSelect });
  }

  /** Revokes one of the user's own tokens; false when it is not theirs or already revoked. */
  async revoke(userId: number, tokenId: number, now: Date = new Date()): Promise<boolean> {
    const { count } = await this.prisma.apiToken.updateMany({
      where: { id: tokenId, userId, revokedAt: null },
      data: { revokedAt: now },
    });
    return count === 1;
  }
}
