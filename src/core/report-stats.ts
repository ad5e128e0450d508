/**
 * The statistics of tag-suggestion reports: Wilson intervals, medians, score buckets, and the assembly of a report
 * model from the plain rows the database layer returns. Pure: the same rows always give the same report.
 */
import type { BooruKind, SuggestionAction } from './types.js';

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/**
 * The Wilson score interval of a proportion `successes / trials` (Wilson, 1927): unlike the normal approximation it
 * stays inside [0, 1] and behaves at 0 and n successes, which is where small per-tag samples live. Null for n = 0.
 */
export function wilsonInterval(successes: number, trials: number, z = Z95): Interval | null {
  if (trials <= 0) return null;
  const p = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denominator;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** The median (mean of the middle two for an even count); null when empty. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Bucket edges for additions: 0.05 wide, where add thresholds live. */
export const ADD_BUCKET_EDGES: readonly number[] = Array.from({ length: 21 }, (_, i) => Math.round(i * 5) / 100);
/** Bucket edges for removals: removal scores crowd near 0, so the buckets widen geometrically. */
export const REMOVE_BUCKET_EDGES: readonly number[] = [0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];

export function bucketEdgesOf(action: SuggestionAction): readonly number[] {
  return action === 'remove' ? REMOVE_BUCKET_EDGES : ADD_BUCKET_EDGES;
}

/** Decided suggestions at one score: how many moderators approved and rejected. */
export interface ScoredDecisions {
  score: number;
  approved: number;
  rejected: number;
}

/** One score bucket `[from, to)` (the last one includes 1) and what moderators decided in it. */
export interface BucketEvidence {
  from: number;
  to: number;
  approved: number;
  rejected: number;
  /** approved / (approved + rejected), null when nothing was decided there. */
  rate: number | null;
}

/** Decisions per score bucket; buckets with no decisions are kept, so charts and tables line up. */
export function bucketDecisions(points: readonly ScoredDecisions[], edges: readonly number[]): BucketEvidence[] {
  const buckets: BucketEvidence[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    buckets.push({ from: edges[i]!, to: edges[i + 1]!, approved: 0, rejected: 0, rate: null });
  }
  for (const point of points) {
    let i = buckets.findIndex((b) => point.score < b.to);
    if (i < 0) i = buckets.length - 1;
    const bucket = buckets[i]!;
    bucket.approved += point.approved;
    bucket.rejected += point.rejected;
  }
  for (const b of buckets) b.rate = b.approved + b.rejected > 0 ? b.approved / (b.approved + b.rejected) : null;
  return buckets;
}

/** Precision of decided suggestions with its 95% Wilson interval. */
export interface Precision {
  value: number;
  low: number;
  high: number;
  /** approved + rejected */
  decided: number;
}

export function precisionOf(approved: number, rejected: number): Precision | null {
  const decided = approved + rejected;
  const interval = wilsonInterval(approved, decided);
  if (interval === null) return null;
  return { value: approved / decided, low: interval.low, high: interval.high, decided };
}

// ---------------------------------------------------------------------------------------------------------------
// Rows in (what src/db/report.repository.ts returns) and the report model out.

/** Suggestion statuses as the database stores them. */
export type StatusName = 'pending' | 'approved' | 'rejected' | 'applied' | 'failed' | 'superseded' | 'already_applied';

/** Suggestions made in the period, counted per (tag, action, model, status). */
export interface SuggestionCountRow {
  tag: string;
  action: SuggestionAction;
  category: number | null;
  modelId: number;
  status: StatusName;
  count: number;
}

export interface MedianRow {
  tag: string;
  action: SuggestionAction;
  median: number;
}

export interface ModelRow {
  id: number;
  name: string;
  version: string;
  median: number | null;
}

export interface PendingPostRow {
  tag: string;
  action: 'add' | 'remove';
  remoteId: number;
  /** The post's page on its booru (each dialect names it differently: `src/booru/dialects.ts`). */
  url: string;
  score: number;
}

export interface RatingRow {
  /** The post's rating the suggestion argued against; null when unknown. */
  from: string | null;
  to: string;
  status: StatusName;
  count: number;
}

export interface DailyRow {
  /** YYYY-MM-DD (UTC). */
  day: string;
  tagged: number;
  suggested: number;
  decided: number;
}

export interface ReasonCount {
  reason: string;
  count: number;
}

export interface ReportRows {
  booru: { name: string; baseUrl: string; kind: BooruKind } | null;
  since: Date | null;
  until: Date;
  posts: { crawled: number; tagged: number; skipped: ReasonCount[]; failed: ReasonCount[] };
  suggestions: SuggestionCountRow[];
  medians: MedianRow[];
  models: ModelRow[];
  pending: PendingPostRow[];
  ratings: RatingRow[];
  /** Decided suggestions made in the period, per (action, score): the reliability diagram's input. */
  decisions: (ScoredDecisions & { action: SuggestionAction })[];
  daily: DailyRow[];
  applyFailures: ReasonCount[];
}

export interface SuggestionTotals {
  made: number;
  pending: number;
  /** Approved by a moderator: still approved, or since applied or failed. */
  approved: number;
  rejected: number;
  applied: number;
  failed: number;
  superseded: number;
  alreadyApplied: number;
}

export interface TagStat extends SuggestionTotals {
  tag: string;
  action: SuggestionAction;
  category: number | null;
  precision: Precision | null;
  medianScore: number | null;
}

export interface ModelStat extends SuggestionTotals {
  name: string;
  version: string;
  precision: Precision | null;
  medianScore: number | null;
}

export interface PostLink {
  remoteId: number;
  url: string;
  score: number;
}

export interface RatingStat {
  from: string | null;
  to: string;
  suggested: number;
  pending: number;
  approved: number;
  rejected: number;
  precision: Precision | null;
}

/** A threshold recommendation as a report shows it (core/learned-thresholds.ts computes it). */
export interface ThresholdItem {
  tag: string;
  action: 'add' | 'remove';
  /** The recommended threshold, or null when the evidence does not support one. */
  threshold: number | null;
  /** Why there is none, or how it was reached. */
  note: string;
  decided: number;
  precision: Precision | null;
  buckets: BucketEvidence[];
}

export interface ThresholdSection {
  target: number;
  minSamples: number;
  enabled: boolean;
  items: ThresholdItem[];
}

/** Everything a report shows; every renderer reads this and nothing else. */
export interface ReportModel {
  title: string;
  booru: { name: string; baseUrl: string; kind: BooruKind } | null;
  since: string | null;
  until: string;
  totals: {
    posts: { crawled: number; tagged: number; skipped: number; failed: number };
    skippedByReason: ReasonCount[];
    failedByReason: ReasonCount[];
    suggestions: SuggestionTotals;
    precision: Precision | null;
  };
  tags: TagStat[];
  untagged: { tag: string; posts: PostLink[] }[];
  mistagged: { tag: string; posts: PostLink[] }[];
  ratings: RatingStat[];
  models: ModelStat[];
  reliability: BucketEvidence[];
  daily: DailyRow[];
  applyFailures: ReasonCount[];
  thresholds: ThresholdSection | null;
}

function emptyTotals(): SuggestionTotals {
  return { made: 0, pending: 0, approved: 0, rejected: 0, applied: 0, failed: 0, superseded: 0, alreadyApplied: 0 };
}

function addStatus(totals: SuggestionTotals, status: StatusName, count: number): void {
  totals.made += count;
  switch (status) {
    case 'pending':
      totals.pending += count;
      break;
    case 'approved':
      totals.approved += count;
      break;
    case 'rejected':
      totals.rejected += count;
      break;
    case 'applied':
      totals.approved += count;
      totals.applied += count;
      break;
    case 'failed':
      totals.approved += count;
      totals.failed += count;
      break;
    case 'superseded':
      totals.superseded += count;
      break;
    case 'already_applied':
      totals.alreadyApplied += count;
      break;
  }
}

const SINCE_UNITS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * The start of a report period from a date (`2026-11-01`, or an ISO date-time) or a duration back from `now` (`7d`,
 * `24h`, `2w`); null when it is neither.
 */
export function parseSince(value: string, now: Date): Date | null {
  const text = value.trim();
  const duration = /^(\d{1,5})([hdw])$/.exec(text);
  if (duration) return new Date(now.getTime() - Number(duration[1]) * SINCE_UNITS[duration[2]!]!);
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Builds the report model. A suggestion belongs to the period it was made in and is counted by its status now, so
 * the totals are the sums of the per-tag rows. Tags are ordered by suggestions made, then name.
 */
export function assembleReport(rows: ReportRows, thresholds: ThresholdSection | null = null): ReportModel {
  const totals = emptyTotals();
  const byTag = new Map<string, TagStat>();
  const byModel = new Map<number, SuggestionTotals>();
  for (const row of rows.suggestions) {
    addStatus(totals, row.status, row.count);
    const key = `${row.action}\u0000${row.tag}`;
    let stat = byTag.get(key);
    if (!stat) {
      stat = {
        tag: row.tag,
        action: row.action,
        category: row.category,
        ...emptyTotals(),
        precision: null,
        medianScore: null,
      };
      byTag.set(key, stat);
    }
    addStatus(stat, row.status, row.count);
    const model = byModel.get(row.modelId) ?? emptyTotals();
    addStatus(model, row.status, row.count);
    byModel.set(row.modelId, model);
  }
  const medians = new Map(rows.medians.map((m) => [`${m.action}\u0000${m.tag}`, m.median]));
  const tags = [...byTag.entries()]
    .map(([key, stat]) => ({
      ...stat,
      precision: precisionOf(stat.approved, stat.rejected),
      medianScore: medians.get(key) ?? null,
    }))
    .sort((a, b) => b.made - a.made || compareText(a.tag, b.tag) || compareText(a.action, b.action));

  const models = rows.models
    .filter((m) => byModel.has(m.id))
    .map((m) => {
      const t = byModel.get(m.id)!;
      return {
        name: m.name,
        version: m.version,
        ...t,
        precision: precisionOf(t.approved, t.rejected),
        medianScore: m.median,
      };
    });

  const group = (action: 'add' | 'remove') => {
    const out = new Map<string, PostLink[]>();
    for (const p of rows.pending) {
      if (p.action !== action) continue;
      const list = out.get(p.tag) ?? [];
      list.push({ remoteId: p.remoteId, url: p.url, score: p.score });
      out.set(p.tag, list);
    }
    return [...out.entries()]
      .map(([tag, posts]) => ({
        tag,
        posts: posts.sort(
          (a, b) => (action === 'add' ? b.score - a.score : a.score - b.score) || a.remoteId - b.remoteId,
        ),
      }))
      .sort((a, b) => b.posts.length - a.posts.length || compareText(a.tag, b.tag));
  };

  const ratingMap = new Map<string, RatingStat>();
  for (const r of rows.ratings) {
    const key = `${r.from ?? '?'}>${r.to}`;
    const stat = ratingMap.get(key) ?? {
      from: r.from,
      to: r.to,
      suggested: 0,
      pending: 0,
      approved: 0,
      rejected: 0,
      precision: null,
    };
    const t = emptyTotals();
    addStatus(t, r.status, r.count);
    stat.suggested += t.made;
    stat.pending += t.pending;
    stat.approved += t.approved;
    stat.rejected += t.rejected;
    ratingMap.set(key, stat);
  }
  const ratings = [...ratingMap.values()]
    .map((r) => ({ ...r, precision: precisionOf(r.approved, r.rejected) }))
    .sort((a, b) => b.suggested - a.suggested || compareText(`${a.from}>${a.to}`, `${b.from}>${b.to}`));

  const sum = (list: readonly ReasonCount[]) => list.reduce((n, r) => n + r.count, 0);
  return {
    title: `Tag-suggestion report${rows.booru ? ` for ${rows.booru.name}` : ''}`,
    booru: rows.booru,
    since: rows.since?.toISOString() ?? null,
    until: rows.until.toISOString(),
    totals: {
      posts: {
        crawled: rows.posts.crawled,
        tagged: rows.posts.tagged,
        skipped: sum(rows.posts.skipped),
        failed: sum(rows.posts.failed),
      },
      skippedByReason: rows.posts.skipped,
      failedByReason: rows.posts.failed,
      suggestions: totals,
      precision: precisionOf(totals.approved, totals.rejected),
    },
    tags,
    untagged: group('add'),
    mistagged: group('remove'),
    ratings,
    models,
    reliability: bucketDecisions(
      rows.decisions.filter((d) => d.action === 'add'),
      ADD_BUCKET_EDGES,
    ),
    daily: rows.daily,
    applyFailures: rows.applyFailures,
    thresholds,
  };
}
