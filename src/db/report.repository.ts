/**
 * The reads behind tag-suggestion reports and learned thresholds, as aggregate SQL (one pass per question, whatever
 * the number of suggestions), returned as the plain rows `src/core/report-stats.ts` assembles; plus the record of
 * report runs.
 */
import { type LearnOptions, recommendThresholds, type TagDecisionRow } from '../core/learned-thresholds.js';
import {
  assembleReport,
  type DailyRow,
  type ReasonCount,
  type ReportModel,
  type ReportRows,
  type StatusName,
  type ThresholdSection,
} from '../core/report-stats.js';
import type { BooruKind, SuggestionAction } from '../core/types.js';
import { postUrlOf } from '../core/dialects.js';
import { Prisma, type PrismaClient } from './generated/client.js';

const sql = Prisma.sql;

export interface ReportQuery {
  /** One booru, or null for every booru in the database. */
  booruId: number | null;
  /** Start of the period (inclusive), or null for everything. */
  since: Date | null;
  /** End of the period (exclusive). */
  until: Date;
  /** Tags listed with their most likely untagged / mistagged posts. (Default: 20) */
  topTags?: number;
  /** Posts listed per such tag. (Default: 5) */
  postsPerTag?: number;
}

/** The daily chart covers the period, at most this many days back from its end. */
const MAX_DAILY_DAYS = 90;
/** Without a start, the daily chart shows this many days. */
const DEFAULT_DAILY_DAYS = 30;

const DECIDED = sql`s.status IN ('approved', 'applied', 'failed', 'rejected')`;
const APPROVED = sql`s.status IN ('approved', 'applied', 'failed')`;

/**
 * Scores grouped into cells: additions by their 0.01 floor (a threshold there selects the whole cell), removals by
 * their 0.001 ceiling (likewise). The epsilon absorbs float32 storage: 0.35 is stored as 0.34999999.
 */
const ADD_CELL = sql`floor(s.score::float8 * 100 + 1e-4) / 100`;
const REMOVE_CELL = sql`ceil(s.score::float8 * 1000 - 1e-4) / 1000`;

export interface ReportRunRecord {
  id: number;
  booruId: number | null;
  since: Date | null;
  until: Date;
  format: string;
  path: string | null;
  summary: unknown;
  createdAt: Date;
}

export class ReportRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * The rows of a report; see {@link assembleReport} for what is counted how. A rating suggestion's "from" is the
   * rating its reason argued against (the tagger's `current g`, the rating model's `on a g post`), else the post's.
   */
  async loadRows(query: ReportQuery): Promise<ReportRows> {
    const { booruId, since, until } = query;
    // Nothing in the database predates the epoch: it stands for "since the beginning".
    const from = since ?? new Date(0);
    const booru = booruId === null ? sql`TRUE` : sql`p.booru_id = ${booruId}`;
    const made = sql`s.created_at >= ${from} AND s.created_at < ${until} AND ${booru}`;
    const topTags = query.topTags ?? 20;
    const perTag = query.postsPerTag ?? 5;

    const [booruRow, postCounts, skipped, failed, counts, medians, models, pending, ratings, decisions] =
      await Promise.all([
        booruId === null
          ? Promise.resolve(null)
          : this.prisma.booru.findUnique({ where: { id: booruId }, select: { name: true, baseUrl: true, kind: true } }),
        this.prisma.$queryRaw<{ crawled: number; tagged: number }[]>`
          SELECT count(*) FILTER (WHERE p.created_at >= ${from} AND p.created_at < ${until})::int AS crawled,
                 count(*) FILTER (WHERE p.tagged_at >= ${from} AND p.tagged_at < ${until})::int AS tagged
          FROM posts p WHERE ${booru}`,
        this.prisma.$queryRaw<ReasonCount[]>`
          SELECT coalesce(p.skip_reason, 'unknown') AS reason, count(*)::int AS count FROM posts p
          WHERE p.state = 'skipped' AND p.created_at >= ${from} AND p.created_at < ${until} AND ${booru}
          GROUP BY 1 ORDER BY 2 DESC, 1`,
        this.prisma.$queryRaw<ReasonCount[]>`
          SELECT coalesce(p.last_error, 'unknown') AS reason, count(*)::int AS count FROM posts p
          WHERE p.state = 'failed' AND p.created_at >= ${from} AND p.created_at < ${until} AND ${booru}
          GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50`,
        this.prisma.$queryRaw<
          {
            tag: string;
            action: SuggestionAction;
            category: number | null;
            model_id: number;
            status: StatusName;
            count: number;
          }[]
        >`
          SELECT s.tag, s.action::text AS action, min(s.category) AS category, s.model_id, s.status::text AS status,
                 count(*)::int AS count
          FROM suggestions s JOIN posts p ON p.id = s.post_id
          WHERE ${made} GROUP BY s.tag, s.action, s.model_id, s.status`,
        this.prisma.$queryRaw<{ tag: string; action: SuggestionAction; median: number }[]>`
          SELECT s.tag, s.action::text AS action, percentile_cont(0.5) WITHIN GROUP (ORDER BY s.score) AS median
          FROM suggestions s JOIN posts p ON p.id = s.post_id WHERE ${made} GROUP BY s.tag, s.action`,
        this.prisma.$queryRaw<{ id: number; name: string; version: string; median: number | null }[]>`
          SELECT m.id, m.name, m.version, percentile_cont(0.5) WITHIN GROUP (ORDER BY s.score) AS median
          FROM suggestions s JOIN posts p ON p.id = s.post_id JOIN models m ON m.id = s.model_id
          WHERE ${made} GROUP BY m.id ORDER BY m.id`,
        this.prisma.$queryRaw<
          {
            tag: string;
            action: 'add' | 'remove';
            remote_id: number;
            base_url: string;
            kind: BooruKind;
            score: number;
          }[]
        >`
          SELECT tag, action, remote_id, base_url, kind, score FROM (
            SELECT ranked.*, dense_rank() OVER (PARTITION BY action ORDER BY n DESC, tag) AS tag_rank FROM (
              SELECT s.tag, s.action::text AS action, p.remote_id, b.base_url, b.kind::text AS kind, s.score,
                     row_number() OVER (PARTITION BY s.tag, s.action
                       ORDER BY CASE WHEN s.action = 'add' THEN -s.score ELSE s.score END, p.remote_id) AS rank,
                     count(*) OVER (PARTITION BY s.tag, s.action) AS n
              FROM suggestions s JOIN posts p ON p.id = s.post_id JOIN boorus b ON b.id = p.booru_id
              WHERE s.status = 'pending' AND s.action IN ('add', 'remove') AND ${booru}
            ) ranked WHERE rank <= ${perTag}
          ) t WHERE tag_rank <= ${topTags}`,
        this.prisma.$queryRaw<{ from: string | null; to: string; status: StatusName; count: number }[]>`
          SELECT coalesce(substring(s.reason from 'current ([gsqe])\\M'), substring(s.reason from 'on an? ([gsqe]) post'),
                   p.rating) AS "from",
                 substring(s.tag from 8) AS "to", s.status::text AS status, count(*)::int AS count
          FROM suggestions s JOIN posts p ON p.id = s.post_id
          WHERE s.action = 'rating' AND ${made} GROUP BY 1, 2, 3`,
        this.prisma.$queryRaw<{ action: 'add' | 'remove'; score: number; approved: number; rejected: number }[]>`
          SELECT s.action::text AS action,
                 CASE WHEN s.action = 'add' THEN ${ADD_CELL} ELSE ${REMOVE_CELL} END AS score,
                 count(*) FILTER (WHERE ${APPROVED})::int AS approved,
                 count(*) FILTER (WHERE s.status = 'rejected')::int AS rejected
          FROM suggestions s JOIN posts p ON p.id = s.post_id
          WHERE ${made} AND s.action IN ('add', 'remove') AND ${DECIDED} GROUP BY 1, 2`,
      ]);

    const applyFailures = await this.prisma.$queryRaw<ReasonCount[]>`
      SELECT coalesce(s.apply_error, s.apply_outcome, 'unknown') AS reason, count(*)::int AS count
      FROM suggestions s JOIN posts p ON p.id = s.post_id
      WHERE s.status = 'failed' AND ${made} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50`;

    return {
      booru: booruRow,
      since,
      until,
      posts: { crawled: postCounts[0]?.crawled ?? 0, tagged: postCounts[0]?.tagged ?? 0, skipped, failed },
      suggestions: counts.map((r) => ({
        tag: r.tag,
        action: r.action,
        category: r.category,
        modelId: r.model_id,
        status: r.status,
        count: r.count,
      })),
      medians,
      models,
      pending: pending.map((r) => ({
        tag: r.tag,
        action: r.action,
        remoteId: r.remote_id,
        url: postUrlOf(r.base_url, r.kind, r.remote_id),
        score: r.score,
      })),
      ratings,
      decisions,
      daily: await this.loadDaily(booruId, since, until),
      applyFailures,
    };
  }

  /** The report model: rows assembled, with the thresholds section when given. */
  async loadReport(query: ReportQuery, thresholds: ThresholdSection | null = null): Promise<ReportModel> {
    return assembleReport(await this.loadRows(query), thresholds);
  }

  /**
   * The thresholds section of a report: recommendations from every decision so far (all time: learning wants all the
   * evidence), with whether the booru's diff uses them.
   */
  async loadThresholdSection(
    booruId: number | null,
    learned: { settings: LearnOptions; isLearnedEnabled(booruId: number): Promise<boolean> },
  ): Promise<ThresholdSection> {
    const { target, minSamples } = learned.settings;
    const recommendations = recommendThresholds(await this.loadDecisionEvidence(booruId), { target, minSamples });
    return {
      target,
      minSamples,
      enabled: booruId === null ? false : await learned.isLearnedEnabled(booruId),
      items: recommendations.map((r) => ({
        tag: r.tag,
        action: r.action,
        threshold: r.learned?.threshold ?? null,
        note: r.note,
        decided: r.decided,
        precision: r.precision,
        buckets: r.buckets,
      })),
    };
  }

  /** The whole report model with its thresholds section. */
  async loadFullReport(
    query: ReportQuery,
    learned: { settings: LearnOptions; isLearnedEnabled(booruId: number): Promise<boolean> },
  ): Promise<ReportModel> {
    return this.loadReport(query, await this.loadThresholdSection(query.booruId, learned));
  }

  /**
   * Every decided addition and removal (all time), per tag and score cell: the evidence thresholds are learned from.
   */
  async loadDecisionEvidence(booruId: number | null): Promise<TagDecisionRow[]> {
    const booru = booruId === null ? sql`TRUE` : sql`p.booru_id = ${booruId}`;
    return this.prisma.$queryRaw<TagDecisionRow[]>`
      SELECT s.tag, s.action::text AS action,
             CASE WHEN s.action = 'add' THEN ${ADD_CELL} ELSE ${REMOVE_CELL} END AS score,
             count(*) FILTER (WHERE ${APPROVED})::int AS approved,
             count(*) FILTER (WHERE s.status = 'rejected')::int AS rejected
      FROM suggestions s JOIN posts p ON p.id = s.post_id
      WHERE s.action IN ('add', 'remove') AND ${DECIDED} AND ${booru}
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
  }

  private async loadDaily(booruId: number | null, since: Date | null, until: Date): Promise<DailyRow[]> {
    const dayMs = 86_400_000;
    const lastDay = Math.floor((until.getTime() - 1) / dayMs);
    const wanted = since ? Math.floor(since.getTime() / dayMs) : lastDay - DEFAULT_DAILY_DAYS + 1;
    const firstDay = Math.max(wanted, lastDay - MAX_DAILY_DAYS + 1);
    const start = new Date(Math.max(firstDay * dayMs, since?.getTime() ?? 0));
    const booru = booruId === null ? sql`TRUE` : sql`p.booru_id = ${booruId}`;
    const day = (column: Prisma.Sql) => sql`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`;
    const [tagged, suggested, decided] = await Promise.all([
      this.prisma.$queryRaw<{ day: string; n: number }[]>`
        SELECT ${day(sql`p.tagged_at`)} AS day, count(*)::int AS n FROM posts p
        WHERE p.tagged_at >= ${start} AND p.tagged_at < ${until} AND ${booru} GROUP BY 1`,
      this.prisma.$queryRaw<{ day: string; n: number }[]>`
        SELECT ${day(sql`s.created_at`)} AS day, count(*)::int AS n FROM suggestions s JOIN posts p ON p.id = s.post_id
        WHERE s.created_at >= ${start} AND s.created_at < ${until} AND ${booru} GROUP BY 1`,
      this.prisma.$queryRaw<{ day: string; n: number }[]>`
        SELECT ${day(sql`s.decided_at`)} AS day, count(*)::int AS n FROM suggestions s JOIN posts p ON p.id = s.post_id
        WHERE s.decided_at >= ${start} AND s.decided_at < ${until} AND ${booru} GROUP BY 1`,
    ]);
    const of = (rows: { day: string; n: number }[]) => new Map(rows.map((r) => [r.day, r.n]));
    const [t, s, d] = [of(tagged), of(suggested), of(decided)];
    const out: DailyRow[] = [];
    for (let i = firstDay; i <= lastDay; i++) {
      const key = new Date(i * dayMs).toISOString().slice(0, 10);
      out.push({ day: key, tagged: t.get(key) ?? 0, suggested: s.get(key) ?? 0, decided: d.get(key) ?? 0 });
    }
    return out;
  }

  /** Records a report that was built (and where it was written). */
  async saveRun(run: Omit<ReportRunRecord, 'id' | 'createdAt'>): Promise<number> {
    const row = await this.prisma.reportRun.create({
      data: {
        booruId: run.booruId,
        since: run.since,
        until: run.until,
        format: run.format,
        path: run.path,
        summary: run.summary as object,
      },
      select: { id: true },
    });
    return row.id;
  }

  /** Newest first. */
  async listRuns(limit = 20): Promise<ReportRunRecord[]> {
    return this.prisma.reportRun.findMany({ orderBy: { id: 'desc' }, take: limit });
  }
}
