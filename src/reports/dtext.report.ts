/**
 * The report in DText, Danbooru's forum and wiki markup: `h4.` headings and `[table]` blocks, tags as `[[wiki]]`
 * links, posts as `"#123":[url]` links. Every booru-supplied string goes through `escapeDtext`, so the markup stays
 * balanced whatever a tag is called.
 */
import type { ReportModel } from '../core/report-stats.js';
import { dtextTag, escapeDtext } from './escape.js';
import { num, periodText } from './format.js';
import { type Cell, HUMAN_ROW_LIMIT, reportTables } from './sections.js';

function cell(value: Cell): string {
  if (value === null) return '-';
  if (typeof value === 'number') return num(value);
  if (typeof value === 'string') return escapeDtext(value);
  if ('tag' in value) return dtextTag(value.tag);
  // A URL ends at whitespace or the closing bracket: encode both so a link can never break out.
  const text = /^#?\d+$/.test(value.text) ? value.text : escapeDtext(value.text).replace(/"/g, "'");
  return `"${text}":[${value.href.replace(/[\]\s"]/g, encodeURIComponent)}]`;
}

export function renderDtext(model: ReportModel): string {
  const out = [`h3. ${escapeDtext(model.title)}`, '', `Period: ${periodText(model.since, model.until)}`, ''];
  for (const table of reportTables(model)) {
    out.push(`h4. ${table.title}`, '');
    if (table.note) out.push(escapeDtext(table.note), '');
    if (table.rows.length === 0) {
      out.push('None.', '');
      continue;
    }
    out.push(
      '[table]',
      '[thead]',
      `[tr]${table.columns.map((c) => `[th]${c}[/th]`).join('')}[/tr]`,
      '[/thead]',
      '[tbody]',
    );
    for (const row of table.rows.slice(0, HUMAN_ROW_LIMIT))
      out.push(`[tr]${row.map((c) => `[td]${cell(c)}[/td]`).join('')}[/tr]`);
    out.push('[/tbody]', '[/table]');
    if (table.rows.length > HUMAN_ROW_LIMIT)
      out.push(`(${table.rows.length - HUMAN_ROW_LIMIT} more rows in the CSV and JSON reports)`);
    out.push('');
  }
  return out.join('\n');
}
