import { Prisma, type PrismaClient } from './generated/client.js';

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

/** An audit entry as the audit page shows it: with the post's remote id and the suggestion's tag. */
export interface AuditView {
  id: number;
  at: Date;
  actor: string;
  action: string;
  suggestionId: number | null;
  postId: number | null;
  remoteId: number | null;
  tag: string | null;
  detail: unknown;
  origin: string | null;
}

export interface AuditQuery {
  /** Pages backwards: entries older than this id. */
  beforeId?: number;
  actor?: string;
  action?: string;
  postId?: number;
  limit: number;
}

/** The audit log filtered, newest first (shared with the post detail, src/db/post-detail.ts). */
export async function listAuditViews(prisma: PrismaClient, query: AuditQuery): Promise<AuditView[]> {
  const sql = Prisma.sql;
  const parts: Prisma.Sql[] = [sql`TRUE`];
  if (query.beforeId !== undefined) parts.push(sql`d.id < ${query.beforeId}`);
  if (query.actor) parts.push(sql`d.actor = ${query.actor}`);
  if (query.action) parts.push(sql`d.action = ${query.action}`);
  if (query.postId !== undefined) parts.push(sql`d.post_id = ${query.postId}`);
  const rows = await prisma.$queryRaw<
    {
      id: number;
      at: Date;
      actor: string;
      action: string;
      suggestion_id: number | null;
      post_id: number | null;
      remote_id: number | null;
      tag: string | null;
      detail: unknown;
      origin: string | null;
    }[]
  >`
    SELECT d.id, d.at, d.actor, d.action, d.suggestion_id, d.post_id, p.remote_id, s.tag, d.detail, d.origin
    FROM decisions d LEFT JOIN posts p ON p.id = d.post_id LEFT JOIN suggestions s ON s.id = d.suggestion_id
    WHERE ${Prisma.join(parts, ' AND ')} ORDER BY d.id DESC LIMIT ${query.limit}`;
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    suggestionId: r.suggestion_id,
    postId: r.post_id,
    remoteId: r.remote_id,
    tag: r.tag,
    detail: r.detail,
    origin: r.origin,
  }));
}

/**
 * The append-only audit log (the `decisions` table). Nothing here updates or deletes. The suggestion moves write their
 * own rows in the same transaction (src/db/suggestion-moves.ts); this repository records the others and reads the log.
 */
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

  /** The log filtered by actor, action or post, newest first; `beforeId` pages backwards. */
  async listFiltered(query: AuditQuery): Promise<AuditView[]> {
    return listAuditViews(this.prisma, query);
  }
}
