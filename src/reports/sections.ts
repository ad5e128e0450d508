/**
 * The report as a list of tables, shared by every text format: each renderer only decides how a table, a link or a
 * tag name is written, so the numbers are the same in all of them.
 */
import type { ReportModel } from '../core/report-stats.js';
import { num, periodText } from './format.js';

/** A table cell: text, a number (formatted per format), nothing, a link, or a booru tag name. */
export type Cell = string | number | null | { text: string; href: string } | { tag: string };

export interface ReportTable {
  /** Stable id: the CSV's section column and the HTML anchor. */
  id: string;
  title: string;
  note?: string;
  columns: string[];
  rows: Cell[][];
}

/** Rows shown per table in the human formats (CSV and JSON carry everything). */
export const HUMAN_ROW_LIMIT = 100;

const range = (from: number, to: number) => `${num(from)}–${num(to)}`;

export function reportTables(model: ReportModel): ReportTable[] {
  const t = model.totals;
  const s = t.suggestions;
  const tables: ReportTable[] = [
    {
      id: 'totals',
      title: 'Totals',
      note: `Period ${periodText(model.since, model.until)}. A suggestion counts in the period it was made in, by its status now; approved includes those since applied or failed.`,
      columns: ['Measure', 'Value'],
      rows: [
        ['posts crawled', t.posts.crawled],
        ['posts tagged', t.posts.tagged],
        ['posts skipped', t.posts.skipped],
        ['posts failed', t.posts.failed],
        ['suggestions made', s.made],
        ['suggestions pending', s.pending],
        ['suggestions approved', s.approved],
        ['suggestions rejected', s.rejected],
        ['suggestions applied', s.applied],
        ['suggestions failed', s.failed],
        ['suggestions superseded', s.superseded],
        ['suggestions already applied', s.alreadyApplied],
        ['precision', t.precision?.value ?? null],
        ['precision 95% low', t.precision?.low ?? null],
        ['precision 95% high', t.precision?.high ?? null],
      ],
    },
    {
      id: 'skipped',
      title: 'Posts skipped by reason',
      columns: ['Reason', 'Posts'],
      rows: t.skippedByReason.map((r) => [r.reason, r.count]),
    },
    {
      id: 'tags',
      title: 'Per tag',
      note: 'Precision is approved / (approved + rejected), with its 95% Wilson interval.',
      columns: [
        'Tag',
        'Action',
        'Suggested',
        'Pending',
        'Approved',
        'Rejected',
        'Applied',
        'Precision',
        '95% low',
        '95% high',
        'Median score',
      ],
      rows: model.tags.map((r) => [
        { tag: r.tag },
        r.action,
        r.made,
        r.pending,
        r.approved,
        r.rejected,
        r.applied,
        r.precision?.value ?? null,
        r.precision?.low ?? null,
        r.precision?.high ?? null,
        r.medianScore,
      ]),
    },
    {
      id: 'untagged',
      title: 'Posts most likely missing a tag',
      note: 'Pending additions, highest score first.',
      columns: ['Tag', 'Post', 'Score'],
      rows: model.untagged.flatMap((g) =>
        g.posts.map((p): Cell[] => [{ tag: g.tag }, { text: `#${p.remoteId}`, href: p.url }, p.score]),
      ),
    },
    {
      id: 'mistagged',
      title: 'Posts most likely mistagged',
      note: 'Pending removals, lowest score first.',
      columns: ['Tag', 'Post', 'Score'],
      rows: model.mistagged.flatMap((g) =>
        g.posts.map((p): Cell[] => [{ tag: g.tag }, { text: `#${p.remoteId}`, href: p.url }, p.score]),
      ),
    },
    {
      id: 'ratings',
      title: 'Rating disagreements',
      columns: ['From', 'To', 'Suggested', 'Pending', 'Approved', 'Rejected', 'Precision'],
      rows: model.ratings.map((r) => [
        r.from ?? '?',
        r.to,
        r.suggested,
        r.pending,
        r.approved,
        r.rejected,
        r.precision?.value ?? null,
      ]),
    },
    {
      id: 'models',
      title: 'Model versions',
      columns: [
        'Model',
        'Version',
        'Suggested',
        'Approved',
        'Rejected',
        'Precision',
        '95% low',
        '95% high',
        'Median score',
      ],
      rows: model.models.map((m) => [
        m.name,
        m.version,
        m.made,
        m.approved,
        m.rejected,
        m.precision?.value ?? null,
        m.precision?.low ?? null,
        m.precision?.high ?? null,
        m.medianScore,
      ]),
    },
    {
      id: 'reliability',
      title: 'Acceptance rate by score (additions)',
      note: 'A well-calibrated model approaches the diagonal: the share approved rises with the score.',
      columns: ['Score', 'Approved', 'Rejected', 'Rate'],
      rows: model.reliability
        .filter((b) => b.approved + b.rejected > 0)
        .map((b) => [range(b.from, b.to), b.approved, b.rejected, b.rate]),
    },
    {
      id: 'daily',
      title: 'Daily volume',
      columns: ['Day', 'Posts tagged', 'Suggestions made', 'Decisions'],
      rows: model.daily.map((d) => [d.day, d.tagged, d.suggested, d.decided]),
    },
    {
      id: 'failures',
      title: 'Failures',
      columns: ['Kind', 'Reason', 'Count'],
      rows: [
        ...t.failedByReason.map((r): Cell[] => ['post', r.reason, r.count]),
        ...model.applyFailures.map((r): Cell[] => ['write-back', r.reason, r.count]),
      ],
    },
  ];
  const th = model.thresholds;
  if (th) {
    tables.push(
      {
        id: 'thresholds',
        title: 'Learned thresholds',
        note: `Target precision ${th.target} (lower bound of the 95% Wilson interval) over at least ${th.minSamples} decisions; learned thresholds are ${th.enabled ? 'ON: the diff uses them' : 'OFF: recommendations only'}.`,
        columns: ['Tag', 'Action', 'Recommended', 'Decisions', 'Precision', 'Note'],
        rows: th.items.map((i) => [
          { tag: i.tag },
          i.action,
          i.threshold,
          i.decided,
          i.precision?.value ?? null,
          i.note,
        ]),
      },
      {
        id: 'evidence',
        title: 'Threshold evidence (decisions per score bucket)',
        columns: ['Tag', 'Action', 'Score', 'Approved', 'Rejected', 'Rate'],
        rows: th.items.flatMap((i) =>
          i.buckets
            .filter((b) => b.approved + b.rejected > 0)
            .map((b): Cell[] => [{ tag: i.tag }, i.action, range(b.from, b.to), b.approved, b.rejected, b.rate]),
        ),
      },
    );
  }
  return tables;
}
