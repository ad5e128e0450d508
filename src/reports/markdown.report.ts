/** The report as GitHub-flavoured Markdown: a heading and a table per section. */
import type { ReportModel } from '../core/report-stats.js';
import { escapeMarkdown } from './escape.js';
import { num, periodText } from './format.js';
import { type Cell, HUMAN_ROW_LIMIT, reportTables } from './sections.js';

function cell(value: Cell): string {
  if (value === null) return '–';
  if (typeof value === 'number') return num(value);
  if (typeof value === 'string') return escapeMarkdown(value);
  if ('tag' in value) return escapeMarkdown(value.tag);
  return `[${escapeMarkdown(value.text)}](<${value.href.replace(/[<>\s]/g, encodeURIComponent)}>)`;
}

export function renderMarkdown(model: ReportModel): string {
  const out = [`# ${escapeMarkdown(model.title)}`, '', `Period: ${periodText(model.since, model.until)}`, ''];
  for (const table of reportTables(model)) {
    out.push(`## ${table.title}`, '');
    if (table.note) out.push(escapeMarkdown(table.note), '');
    if (table.rows.length === 0) {
      out.push('None.', '');
      continue;
    }
    out.push(`| ${table.columns.join(' | ')} |`, `|${table.columns.map(() => ' --- ').join('|')}|`);
    for (const row of table.rows.slice(0, HUMAN_ROW_LIMIT)) out.push(`| ${row.map(cell).join(' | ')} |`);
    if (table.rows.length > HUMAN_ROW_LIMIT)
      out.push('', `(${table.rows.length - HUMAN_ROW_LIMIT} more rows in the CSV and JSON reports)`);
    out.push('');
  }
  return out.join('\n');
}
