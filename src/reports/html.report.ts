/**
 * The report as one self-contained HTML file: inline CSS, inline SVG charts, no scripts and no external requests, so
 * it can be mailed, archived or opened offline. `renderHtmlBody` is the part the dashboard embeds in its own page.
 */
import type { ReportModel } from '../core/report-stats.js';
import { dailyChart, reliabilityChart, topTagsChart } from './charts.js';
import { escapeHtml } from './escape.js';
import { num, periodText } from './format.js';
import { type Cell, HUMAN_ROW_LIMIT, type ReportTable, reportTables } from './sections.js';

export const REPORT_CSS = `
.bt-report { font-family: system-ui, sans-serif; color: #1d1d1f; max-width: 1100px; }
.bt-report table { border-collapse: collapse; margin: .3rem 0 1.2rem; background: #fff; }
.bt-report th, .bt-report td { text-align: left; padding: .25rem .55rem; border-bottom: 1px solid #e3e3e8; }
.bt-report td.n { text-align: right; font-variant-numeric: tabular-nums; }
.bt-report .note { color: #555; font-size: .9rem; }
.bt-report .charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.bt-report figure { margin: 0 0 1rem; background: #fff; border: 1px solid #e3e3e8; padding: .4rem; }
.bt-report figcaption { font-size: .85rem; color: #333; }
.chart text { font: 11px system-ui, sans-serif; fill: #333; }
.chart .axis { stroke: #333; } .chart .grid { stroke: #e5e7eb; } .chart .diagonal { stroke: #888; stroke-dasharray: 4 3; }
.chart .bar { fill: #0b5cad; } .chart .rate { fill: #0b5cad; stroke: #fff; }
.chart .s1 { fill: #0b5cad; stroke: #0b5cad; } .chart .s2 { fill: #d97706; stroke: #d97706; } .chart .s3 { fill: #059669; stroke: #059669; }
.chart polyline.line { fill: none; stroke-width: 2; }
.chart .approved { fill: #10b981; } .chart .rejected { fill: #ef4444; } .chart .pending { fill: #9ca3af; } .chart .other { fill: #d1d5db; }
`;

function cell(value: Cell): string {
  if (value === null) return '<td class="n">–</td>';
  if (typeof value === 'number') return `<td class="n">${num(value)}</td>`;
  if (typeof value === 'string') return `<td>${escapeHtml(value)}</td>`;
  if ('tag' in value) return `<td class="tag">${escapeHtml(value.tag)}</td>`;
  const safe = /^https?:\/\//i.test(value.href) ? value.href : '#';
  return `<td><a href="${escapeHtml(safe)}" rel="noreferrer">${escapeHtml(value.text)}</a></td>`;
}

function table(t: ReportTable): string {
  const head = `<h2 id="${t.id}">${escapeHtml(t.title)}</h2>${t.note ? `<p class="note">${escapeHtml(t.note)}</p>` : ''}`;
  if (t.rows.length === 0) return `${head}<p>None.</p>`;
  const more =
    t.rows.length > HUMAN_ROW_LIMIT
      ? `<p class="note">${t.rows.length - HUMAN_ROW_LIMIT} more rows in the CSV and JSON reports.</p>`
      : '';
  return `${head}<table><thead><tr>${t.columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${t.rows
    .slice(0, HUMAN_ROW_LIMIT)
    .map((row) => `<tr>${row.map(cell).join('')}</tr>`)
    .join('')}</tbody></table>${more}`;
}

/** The report's content (charts and tables) without a document around it. */
export function renderHtmlBody(model: ReportModel): string {
  const booru = model.booru
    ? `<p>Booru: <a href="${escapeHtml(/^https?:\/\//i.test(model.booru.baseUrl) ? model.booru.baseUrl : '#')}" rel="noreferrer">${escapeHtml(model.booru.name)}</a> (${escapeHtml(model.booru.kind)})</p>`
    : '';
  const charts = `<div class="charts">
<figure>${reliabilityChart(model.reliability)}<figcaption>Acceptance rate by score bucket (additions); dashed: perfect calibration.</figcaption></figure>
<figure>${dailyChart(model.daily)}<figcaption>Daily volume.</figcaption></figure>
<figure>${topTagsChart(model.tags)}<figcaption>Top tags by suggestions made.</figcaption></figure>
</div>`;
  return `<div class="bt-report"><h1>${escapeHtml(model.title)}</h1><p>Period: ${escapeHtml(periodText(model.since, model.until))}</p>${booru}${charts}${reportTables(model).map(table).join('\n')}</div>`;
}

export function renderHtml(model: ReportModel): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(model.title)}</title><style>body { margin: 1rem; background: #f6f6f8; }${REPORT_CSS}</style></head>
<body>${renderHtmlBody(model)}</body></html>
`;
}
