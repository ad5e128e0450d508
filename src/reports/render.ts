/** One entry for every format: `renderReport(model, format)`. */
import type { ReportModel } from '../core/report-stats.js';
import { renderCsv } from './csv.report.js';
import { renderDtext } from './dtext.report.js';
import { renderHtml } from './html.report.js';
import { renderJson } from './json.report.js';
import { renderMarkdown } from './markdown.report.js';

export const REPORT_FORMATS = ['md', 'html', 'csv', 'json', 'dtext'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export const CONTENT_TYPES: Record<ReportFormat, string> = {
  md: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
  dtext: 'text/plain; charset=utf-8',
};

export const EXTENSIONS: Record<ReportFormat, string> = {
  md: 'md',
  html: 'html',
  csv: 'csv',
  json: 'json',
  dtext: 'dtext.txt',
};

export function isReportFormat(value: string): value is ReportFormat {
  return (REPORT_FORMATS as readonly string[]).includes(value);
}

export function renderReport(model: ReportModel, format: ReportFormat): string {
  switch (format) {
    case 'md':
      return renderMarkdown(model);
    case 'html':
      return renderHtml(model);
    case 'csv':
      return renderCsv(model);
    case 'json':
      return renderJson(model);
    case 'dtext':
      return renderDtext(model);
  }
}
