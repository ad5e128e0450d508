import type { PrismaClient } from './generated/client.js';

/** One audit entry: who did what, when, from where. */
export interface AuditEntry {
  userId: number | null;
  /** The user's name, or a system actor (`worker`, `cli`). */
  actor: string;
  /** approve, reject, apply, login, threshold… */
  action: string;
  suggestionId?: number | null;
  postId?: number | null;
  detail?: Record<string, unknown> | null;
  /** IP address, `cli`, `api`… */
  origin?: string | null;
}

export interface AuditRecord extends Required<AuditEntry> {
  id: number;
  at: Date;
}

/** The append-only audit log. Nothing here updates or deletes. */
export class AuditRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Appends an entry and returns its id. */
  async record(entry: AuditEntry): Promise<number> {
    const row = await this.prisma.decision.create({
      data: {
        userId: entry.userId,
        actor: entry.actor,
        action: entry.action,
        suggestionId: entry.suggestionId ?? null,
        postId: entry.postId ?? null,
        ...(entry.detail ? { detail: entry.detail as object } : {}),
        origin: entry.origin ?? null,
      },
      select: { id: true },
    });
    return row.id;
  }

  /** Newest first. */
  async list(page: { limit: number; offset: number }): Promise<AuditRecord[]> {
    const rows = await this.prisma.decision.findMany({
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: page.limit,
      skip: page.offset,
    });
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      userId: r.userId,
      actor: r.actor,
      action: r.action,
      suggestionId: r.suggestionId,
      postId: r.postId,
      detail: (r.detail as Record<string, unknown> | null) ?? null,
      origin: r.origin,
    }));
  }
}
