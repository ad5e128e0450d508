/**
 * The cluster-wide numbers /metrics reports from the database, where they are the truth whatever process is scraped:
 * queue depths, suggestions by action and status, decisions and write-backs so far (monotonic: the audit log and the
 * write-back log are never deleted from), leases, live workers and the age of each booru's tag sync.
 */
import type { PrismaClient } from './generated/client.js';
import { LATEST_FINISHED_SYNC } from './readiness.repository.js';
import { WORKER_STALE_MS } from './worker.repository.js';

export interface DatabaseMetrics {
  postsByState: { state: string; count: number }[];
  suggestions: { action: string; status: string; count: number }[];
  /** Moderators' decisions on suggestions so far (approve, reject, undo…), by the suggestion's action. */
  decisions: { action: string; verdict: string; count: number }[];
  writeBacks: { outcome: string; count: number }[];
  leases: { held: number; expired: number; oldestExpiredSeconds: number };
  liveWorkers: number;
  tagSyncAgeSeconds: { booru: string; seconds: number | null }[];
}

export class MetricsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async read(now = new Date()): Promise<DatabaseMetrics> {
    const [posts, suggestions, decisions, writeBacks, leases, liveWorkers, syncs] = await Promise.all([
      this.prisma.post.groupBy({ by: ['state'], _count: { _all: true } }),
      this.prisma.suggestion.groupBy({ by: ['action', 'status'], _count: { _all: true } }),
      this.prisma.$queryRaw<{ action: string; verdict: string; count: bigint }[]>`
        SELECT s.action::text AS action, d.action AS verdict, count(*) AS count
        FROM decisions d JOIN suggestions s ON s.id = d.suggestion_id
        GROUP BY 1, 2 ORDER BY 1, 2`,
      this.prisma.tagEdit.groupBy({ by: ['outcome'], _count: { _all: true }, orderBy: { outcome: 'asc' } }),
      this.prisma.$queryRaw<{ held: bigint; expired: bigint; oldest: number | null }[]>`
        SELECT count(*) FILTER (WHERE lease_expires_at > ${now}::timestamptz) AS held,
               count(*) FILTER (WHERE lease_expires_at <= ${now}::timestamptz) AS expired,
               extract(epoch FROM ${now}::timestamptz - min(lease_expires_at)
                 FILTER (WHERE lease_expires_at <= ${now}::timestamptz))::float8 AS oldest
        FROM posts WHERE lease_owner IS NOT NULL`,
      this.prisma.worker.count({ where: { lastSeenAt: { gt: new Date(now.getTime() - WORKER_STALE_MS) } } }),
      this.prisma.booru.findMany({
        select: {
          name: true,
          tagSyncs: { ...LATEST_FINISHED_SYNC, where: { status: 'ok', finishedAt: { not: null } } },
        },
        orderBy: { id: 'asc' },
      }),
    ]);
    const lease = leases[0];
    return {
      postsByState: posts.map((p) => ({ state: p.state, count: p._count._all })),
      suggestions: suggestions.map((s) => ({ action: s.action, status: s.status, count: s._count._all })),
      decisions: decisions.map((d) => ({ action: d.action, verdict: d.verdict, count: Number(d.count) })),
      writeBacks: writeBacks.map((w) => ({ outcome: w.outcome, count: w._count._all })),
      leases: {
        held: Number(lease?.held ?? 0),
        expired: Number(lease?.expired ?? 0),
        oldestExpiredSeconds: Math.max(0, lease?.oldest ?? 0),
      },
      liveWorkers,
      tagSyncAgeSeconds: syncs.map((b) => {
        const at = b.tagSyncs[0]?.finishedAt;
        return { booru: b.name, seconds: at ? (now.getTime() - at.getTime()) / 1000 : null };
      }),
    };
  }
}
