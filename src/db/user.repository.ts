import { AppError } from '../shared/errors.js';
import type { PrismaClient } from './generated/client.js';
import { isUniqueViolation } from './prisma-errors.js';

export type Role = 'viewer' | 'moderator' | 'admin';

/** A dashboard account. `passwordHash` is the slow hash (`scrypt$N$r$p$salt$hash`), never the password. */
export interface StoredUser {
  id: number;
  name: string;
  role: Role;
  passwordHash: string;
  createdAt: Date;
  disabledAt: Date | null;
}

export interface StoredSession {
  /** sha256 of the cookie value. */
  id: string;
  userId: number;
  csrfToken: string;
  expiresAt: Date;
  user: StoredUser;
}

const userSelect = {
  id: true,
  name: true,
  role: true,
  passwordHash: true,
  createdAt: true,
  disabledAt: true,
} as const;

export class UserRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Creates an account. Throws `CONFLICT` when the name is taken. */
  async create(input: { name: string; role: Role; passwordHash: string }): Promise<StoredUser> {
    try {
      return await this.prisma.user.create({ data: input, select: userSelect });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError('CONFLICT', `a user named "${input.name}" already exists`, { cause: error });
      }
      throw error;
    }
  }

  async findByName(name: string): Promise<StoredUser | null> {
    return this.prisma.user.findUnique({ where: { name }, select: userSelect });
  }

  async findById(id: number): Promise<StoredUser | null> {
    return this.prisma.user.findUnique({ where: { id }, select: userSelect });
  }

  /**
   * Replaces the password hash, ends the user's sessions and revokes their API tokens (a changed password locks out
   * whoever held the old one, browser or script).
   */
  async setPassword(userId: number, passwordHash: string, now: Date = new Date()): Promise<void> {
    await this.prisma.$transaction([
      this.prisma.user.update({ where: { id: userId }, data: { passwordHash } }),
      this.prisma.session.deleteMany({ where: { userId } }),
      this.prisma.apiToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now } }),
    ]);
  }

  /** Every account, by name. */
  async list(): Promise<StoredUser[]> {
    return this.prisma.user.findMany({ orderBy: { name: 'asc' }, select: userSelect });
  }

  async createSession(input: { id: string; userId: number; csrfToken: string; expiresAt: Date }): Promise<void> {
    await this.prisma.session.create({ data: input });
  }

  /** The session with its user, or null when it is unknown, expired, or its user is disabled. */
  async findSession(id: string, now: Date = new Date()): Promise<StoredSession | null> {
    const row = await this.prisma.session.findFirst({
      where: { id, expiresAt: { gt: now }, user: { disabledAt: null } },
      select: { id: true, userId: true, csrfToken: true, expiresAt: true, user: { select: userSelect } },
    });
    return row;
  }

  async deleteSession(id: string): Promise<void> {
    await this.prisma.session.deleteMany({ where: { id } });
  }

  /** Removes expired sessions; returns how many. */
  async deleteExpiredSessions(now: Date = new Date()): Promise<number> {
    const { count } = await this.prisma.session.deleteMany({ where: { expiresAt: { lte: now } } });
    return count;
  }
}
