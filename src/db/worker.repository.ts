/**
 * The workers aggregate: the worker processes' registrations and heartbeats, and what the service is doing as the
 * database knows it (queue depths, throughput, failures by reason, live workers and their execution providers, the
 * tag-sync verdict per booru). `status()` is the one status query: it feeds `booru-tagger status`, the dashboard's
 * status page (src/dashboard/status-source.ts) and /metrics (src/bin/metrics.ts).
 */
import { judgeVocabulary } from '../core/vocabulary-freshness.js';
import type { PrismaClient } from './generated/client.js';

interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  provider: string;
  model: string;
  startedAt: Date;
  lastSeenAt: Date;
  tagged: number;
}

export interface ServiceStatus {
  posts: Record<string, number>;
  suggestions: Record<string, number>;
  /** Posts tagged per minute, over the last minute, 10 minutes and hour. */
  throughput: { lastMinute: number; last10Minutes: number; lastHour: number };
  /** Failed posts grouped by error code (the part of last_error before the first colon). */
  failuresByReason: { reason: string; count: number }[];
  /**
   * Posts with a problem grouped by the whole message: failed or skipped ones, and ones waiting for a retry after an
   * error (the status page lists these).
   */
  problems: { reason: string; count: number }[];
  /** When the latest post was tagged, or null. */
  lastTaggedAt: Date | null;
  skippedByReason: { reason: string; count: number }[];
  /** Workers seen in the last two minutes. */
  workers: WorkerInfo[];
  /** Per booru: whether diffs may run (a recent, successful tag sync), or why suggestions wait. */
  vocabulary: VocabularyStatus[];
}

export interface VocabularyStatus {
  booru: string;
  fresh: boolean;
  /** The tag-sync generation diffs use now (null while they wait). */
  generation: number | null;
  /** When the latest finished sync finished, and how it ended. */
  lastSync: { id: number; status: 'ok' | 'failed'; finishedAt: Date } | null;
  /** Why suggestions wait; null when fresh. */
  waitReason: string | null;
}

/** A worker that has not reported for this long is considered gone. */
export const WORKER_STALE_MS = 120_000;

export class WorkerRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async registerWorker(worker: {
    id: string;
    host: string;
    pid: number;
    provider: string;
    model: string;
    booruOkAt?: Date | null;
  }): Promise<void> {
    await this.prisma.worker.upsert({
      where: { id: worker.id },
      create: worker,
      update: { ...worker, startedAt: new Date(), lastSeenAt: new Date(), tagged: 0 },
    });
  }

  /** `booruOkAt`: when the booru's API last answered this worker (readiness), if it has. */
  async beatWorker(id: string, tagged: number, booruOkAt: Date | null = null): Promise<void> {
    await this.prisma.worker.updateMany({
      where: { id },
      data: { lastSeenAt: new Date(), tagged, ...(booruOkAt ? { booruOkAt } : {}) },
    });
  }

  async removeWorker(id: string): Promise<void> {
    await this.prisma.worker.deleteMany({ where: { id } });
  }

  /** @param options.syncMaxAgeMs TAGGER_SYNC_MAX_AGE_HOURS in ms (0: any age). (Default: 24 h.) */
  async status(now = new Date(), options: { syncMaxAgeMs?: number } = {}): Promise<ServiceStatus> {
    const [posts, suggestions, throughput, failures, problems, skipped, workers, vocabulary] = await Promise.all([
      this.prisma.post.groupBy({ by: ['state'], _count: { _all: true } }),
      this.prisma.suggestion.groupBy({ by: ['status'], _count: { _all: true } }),
      this.prisma.$queryRaw<{ m1: bigint; m10: bigint; h1: bigint; last: Date | null }[]>`
        SELECT count(*) FILTER (WHERE tagged_at > ${now}::timestamptz - interval '1 minute') AS m1,
               count(*) FILTER (WHERE tagged_at > ${now}::timestamptz - interval '10 minutes') AS m10,
               count(*) FILTER (WHERE tagged_at > ${now}::timestamptz - interval '1 hour') AS h1,
               max(tagged_at) AS last
        FROM posts WHERE tagged_at IS NOT NULL`,
      this.prisma.$queryRaw<{ reason: string; count: bigint }[]>`
        SELECT coalesce(split_part(last_error, ':', 1), 'unknown') AS reason, count(*) AS count
        FROM posts WHERE state = 'failed' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20`,
      this.prisma.$queryRaw<{ reason: string; count: number }[]>`
        SELECT coalesce(last_error, skip_reason, 'unknown') AS reason, count(*)::int AS count FROM posts
        WHERE state IN ('failed', 'skipped') OR (last_error IS NOT NULL AND state IN ('new', 'queued'))
        GROUP BY 1 ORDER BY 2 DESC LIMIT 30`,
      this.prisma.$queryRaw<{ reason: string; count: bigint }[]>`
        SELECT coalesce(skip_reason, 'unknown') AS reason, count(*) AS count
        FROM posts WHERE state = 'skipped' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20`,
      this.prisma.worker.findMany({
        where: { lastSeenAt: { gt: new Date(now.getTime() - WORKER_STALE_MS) } },
        orderBy: { id: 'asc' },
      }),
      this.vocabulary(now, options.syncMaxAgeMs ?? 24 * 3_600_000),
    ]);
    const t = throughput[0];
    return {
      posts: Object.fromEntries(posts.map((p) => [p.state, p._count._all])),
      suggestions: Object.fromEntries(suggestions.map((s) => [s.status, s._count._all])),
      throughput: {
        lastMinute: Number(t?.m1 ?? 0),
        last10Minutes: Math.round((Number(t?.m10 ?? 0) / 10) * 10) / 10,
        lastHour: Math.round((Number(t?.h1 ?? 0) / 60) * 10) / 10,
      },
      failuresByReason: failures.map((f) => ({ reason: f.reason, count: Number(f.count) })),
      problems,
      lastTaggedAt: t?.last ?? null,
      skippedByReason: skipped.map((s) => ({ reason: s.reason, count: Number(s.count) })),
      workers,
      vocabulary,
    };
  }

  /** The latest finished tag sync of every booru, judged as the diff judges it. */
  private async vocabulary(now: Date, maxAgeMs: number): Promise<VocabularyStatus[]> {
    const rows = await this.prisma.$queryRaw<
      {
        name: string;
        id: number | null;
        status: string | null;
        started_at: Date | null;
        finished_at: Date | null;
        error: string | null;
      }[]
    >`
      SELECT b.name, s.id, s.status, s.started_at, s.finished_at, s.error
      FROM boorus b LEFT JOIN LATERAL (
        SELECT id, status, started_at, finished_at, error FROM tag_syncs
        WHERE booru_id = b.id AND finished_at IS NOT NULL AND status IN ('ok', 'failed')
        ORDER BY finished_at DESC, id DESC LIMIT 1) s ON true
      ORDER BY b.id`;
    return rows.map((row) => {
      const latest =
        row.id !== null && row.finished_at && row.started_at
          ? {
              id: row.id,
              status: row.status === 'ok' ? ('ok' as const) : ('failed' as const),
              startedAt: row.started_at,
              finishedAt: row.finished_at,
              error: row.error,
            }
          : null;
      const judged = judgeVocabulary(latest, now, maxAgeMs);
      return {
        booru: row.name,
        fresh: judged.fresh,
        generation: judged.generation,
        lastSync: latest ? { id: latest.id, status: latest.status, finishedAt: latest.finishedAt } : null,
        waitReason: judged.fresh ? null : judged.reason,
      };
    });
  }
}
