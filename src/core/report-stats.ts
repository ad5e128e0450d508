/**
 * The assembly of a tag-suggestion report: the report model (report-model.ts) from the plain rows the database layer
 * returns, with the statistics of precision-stats.ts, and the parsing of a report period. Pure: the same rows always
 * give the same report. Re-exports the statistics and shapes its importers use, so they keep one entry point.
 */
import { ADD_BUCKET_EDGES, bucketDecisions, precisionOf } from './precision-stats.js';
import type {
  PostLink,
  RatingStat,
  ReasonCount,
  ReportModel,
  ReportRows,
  StatusName,
  SuggestionTotals,
  TagStat,
  ThresholdSection,
} from './report-model.js';

export {
  type BucketEvidence,
  bucketDecisions,
  bucketEdgesOf,
  median,
  type Precision,
  precisionOf,
  type ScoredDecisions,
  wilsonInterval,
  Z95,
} from './precision-stats.js';
export type {
  DailyRow,
  ReasonCount,
  ReportModel,
  ReportRows,
  StatusName,
  TagStat,
  ThresholdItem,
  ThresholdSection,
} from './report-model.js';

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
