/**
 * Data helpers more than one route reads with: the booru and model names of the filters, the audit log's paging, and
 * the report repositories of the reports and thresholds pages. Routes import these, never one another.
 */
import type { ReportRepository } from '../db/report.repository.js';
import type { ThresholdRepository } from '../db/threshold.repository.js';
import type { QueryInput } from './filters.js';
import type { RouteContext } from './route-context.js';
import type { NameMaps } from './views/components.js';

/** The booru and model names by id, for filters and cards. */
export async function loadNames(context: RouteContext): Promise<NameMaps> {
  const { boorus, models } = await context.deps.suggestions.listNames();
  return {
    boorus: new Map(boorus.map((b) => [String(b.id), b.name])),
    models: new Map(models.map((m) => [String(m.id), `${m.name} ${m.version}`])),
  };
}

/** Audit rows per page (the audit page and `GET /api/audit`). */
export const AUDIT_PAGE = 100;

export function parseAuditQuery(query: QueryInput): { beforeId?: number; actor?: string; action?: string } {
  const out: { beforeId?: number; actor?: string; action?: string } = {};
  const before = Number(query['before']);
  if (Number.isInteger(before) && before > 0) out.beforeId = before;
  if (typeof query['actor'] === 'string' && query['actor'] !== '') out.actor = query['actor'].slice(0, 100);
  if (typeof query['action'] === 'string' && query['action'] !== '') out.action = query['action'].slice(0, 50);
  return out;
}

/** What the reports and thresholds pages read; absent in a dashboard built without them (they then say so). */
export interface ReportDeps {
  reports: ReportRepository;
  thresholds: ThresholdRepository;
}

export function reportDepsOf(context: RouteContext): ReportDeps | null {
  const { reports, thresholds } = context.deps;
  return reports && thresholds ? { reports, thresholds } : null;
}
