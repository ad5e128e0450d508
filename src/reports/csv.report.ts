/**
 * The report as one CSV file: each section is a table with its own header row, sections are separated by a blank
 * line, and the first column of every row names the section, so a spreadsheet filter or `grep ^tags,` finds one.
 * Numbers are written with up to 4 decimals.
 */
import type { ReportModel } from '../core/report-stats.js';
import { escapeCsv } from './escape.js';
import { csvNum } from './format.js';
import { type Cell, reportTables } from './sections.js';

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

export function renderCsv(model: ReportModel): string {
  const blocks = reportTables(model).map((table) =>
    [
      ['section', ...table.columns.map(header)].join(','),
      ...table.rows.map((row) => [table.id, ...row.map(cell)].join(',')),
    ].join('\r\n'),
  );
  return `${blocks.join('\r\n\r\n')}\r\n`;
}
