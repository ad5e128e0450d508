/**
 * The report as CSV (RFC 4180: CRLF line ends, every record as wide as the header, so spreadsheets, pandas and csvkit
 * read it as it is). `renderCsv` writes the one tidy table a tool wants: a row per tag and action, every measure a
 * column. The report's other tables (totals, skips, ratings, models…) are separate CSV files of their own
 * (`renderCsvTable`), which `report --format csv --out DIR/` writes side by side (`--table ID` picks one).
 * Numbers are written with up to 4 decimals; an empty cell means "no value" (e.g. no precision before any decision).
 */
import type { ReportModel } from '../core/report-stats.js';
import { escapeCsv } from './escape.js';
import { csvNum } from './format.js';
import { type Cell, reportTables } from './sections.js';

/** The id of the tidy per-tag table, and the file name it gets in a CSV folder (`tags.csv`). */
const TIDY_TABLE = 'tags';

/** The tidy table's columns, in order. */
export const TIDY_COLUMNS = [
  'tag',
  'action',
  'category',
  'suggested',
  'pending',
  'approved',
  'rejected',
  'applied',
  'failed',
  'superseded',
  'already_applied',
  'decided',
  'precision',
  'precision_low',
  'precision_high',
  'median_score',
] as const;

function cell(value: Cell): string {
  if (value === null) return '';
  if (typeof value === 'number') return csvNum(value);
  if (typeof value === 'string') return escapeCsv(value);
  if ('tag' in value) return escapeCsv(value.tag);
  return escapeCsv(value.href);
}

const header = (name: string) =>
  name
    .toLowerCase()
    .replace(/%/g, 'pct')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');

const document = (rows: string[][]) => `${rows.map((row) => row.join(',')).join('\r\n')}\r\n`;

/** The tidy table: one row per (tag, action) with every measure as a column. */
export function renderCsv(model: ReportModel): string {
  return document([
    [...TIDY_COLUMNS],
    ...model.tags.map((t) =>
      [
        { tag: t.tag },
        t.action,
        t.category,
        t.made,
        t.pending,
        t.approved,
        t.rejected,
        t.applied,
        t.failed,
        t.superseded,
        t.alreadyApplied,
        t.precision?.decided ?? t.approved + t.rejected,
        t.precision?.value ?? null,
        t.precision?.low ?? null,
        t.precision?.high ?? null,
        t.medianScore,
      ].map(cell),
    ),
  ]);
}

/** The ids `renderCsvTable` accepts: the tidy table first, then the report's other tables. */
export function csvTableIds(model: ReportModel): string[] {
  return [TIDY_TABLE, ...reportTables(model).flatMap((t) => (t.id === TIDY_TABLE ? [] : [t.id]))];
}

/** One table of the report as its own CSV (`tags` is the tidy table); null for an unknown id. */
export function renderCsvTable(model: ReportModel, id: string): string | null {
  if (id === TIDY_TABLE) return renderCsv(model);
  const table = reportTables(model).find((t) => t.id === id);
  if (!table) return null;
  return document([table.columns.map(header), ...table.rows.map((row) => row.map(cell))]);
}
