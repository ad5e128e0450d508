/** The report model as JSON, for bots: every number at full precision, dates as ISO 8601. */
import type { ReportModel } from '../core/report-stats.js';

export function renderJson(model: ReportModel): string {
  return `${JSON.stringify({ format: 'booru-tagger-report', version: 1, ...model }, null, 2)}\n`;
}
