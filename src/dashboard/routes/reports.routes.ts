/**
 * The reports page: the tag-suggestion report of a period rendered in the page (the HTML report's own content and
 * charts), download links for every format, and the report runs recorded so far.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseSince } from '../../core/report-stats.js';
import type { BooruRepository } from '../../db/booru.repository.js';
import { REPORT_CSS, renderHtmlBody } from '../../reports/html.report.js';
import { CONTENT_TYPES, EXTENSIONS, isReportFormat, REPORT_FORMATS, renderReport } from '../../reports/render.js';
import type { RouteContext } from '../route-context.js';
import { requireAccess } from '../access.js';
import type { QueryInput } from '../filters.js';
import { reportDepsOf } from '../page-queries.js';
import { html, raw } from '../views/html.js';
import { layout } from '../views/layout.js';

/** The booru a page is about: `?booru=ID`, else the only one in the database, else all of them (null). */
async function booruOfQuery(boorus: Pick<BooruRepository, 'listBoorus'>, query: QueryInput): Promise<number | null> {
  const known = await boorus.listBoorus();
  const asked = Number(query['booru']);
  if (Number.isInteger(asked) && known.some((b) => b.id === asked)) return asked;
  return known.length === 1 ? known[0]!.id : null;
}

const SINCE_CHOICES: [string, string][] = [
  ['7d', 'last 7 days'],
  ['30d', 'last 30 days'],
  ['90d', 'last 90 days'],
  ['', 'everything'],
];

function sinceOf(query: QueryInput): { text: string; date: Date | null } | 'bad' {
  const text = typeof query['since'] === 'string' ? query['since'].slice(0, 40) : '';
  if (text === '') return { text, date: null };
  const date = parseSince(text, new Date());
  return date === null ? 'bad' : { text, date };
}

function badSince(reply: FastifyReply) {
  return reply.code(400).send({ error: 'bad_request', message: 'since: expected a date (2026-11-01) or 7d, 24h, 2w' });
}

export function registerReportRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get('/reports', { preHandler: requireAccess('view') }, async (request, reply) => {
    const csrf = reply.generateCsrf();
    const deps = reportDepsOf(context);
    const query = request.query as QueryInput;
    const since = sinceOf(query);
    if (since === 'bad') return badSince(reply);
    let body: ReturnType<typeof html>;
    if (!deps) {
      body = html`<h1>Reports</h1><p>Reports are not available in this dashboard (it was started without a database).</p>`;
    } else {
      const booruId = await booruOfQuery(context.deps.boorus, query);
      const [model, runs, boorus] = await Promise.all([
        deps.reports.loadFullReport({ booruId, since: since.date, until: new Date() }, deps.thresholds),
        deps.reports.listRuns(10),
        context.deps.boorus.listBoorus(),
      ]);
      const keep = (extra: Record<string, string>) =>
        new URLSearchParams({
          ...(since.text ? { since: since.text } : {}),
          ...(booruId !== null ? { booru: String(booruId) } : {}),
          ...extra,
        }).toString();
      body = html`<style>${raw(REPORT_CSS)}</style>
        <form method="get" action="/reports" class="filter-form">
          <label>Period <select name="since">${SINCE_CHOICES.map(
            ([value, label]) =>
              html`<option value="${value}" ${since.text === value ? html`selected` : ''}>${label}</option>`,
          )}</select></label>
          ${
            boorus.length > 1
              ? html`<label>Booru <select name="booru"><option value="">all</option>${boorus.map(
                  (b) => html`<option value="${b.id}" ${booruId === b.id ? html`selected` : ''}>${b.name}</option>`,
                )}</select></label>`
              : ''
          }
          <button type="submit">Show</button>
        </form>
        <p class="downloads">Download: ${REPORT_FORMATS.map(
          (format) =>
            html`<a href="/reports/download?${keep({ format })}" download>${format === 'md' ? 'Markdown' : format === 'dtext' ? 'DText' : format.toUpperCase()}</a> `,
        )}</p>
        ${raw(renderHtmlBody(model))}
        <h2>Recorded report runs</h2>
        ${
          runs.length === 0
            ? html`<p>None yet: <code>booru-tagger report</code> and the weekly <code>build-report</code> job record them.</p>`
            : html`<table><thead><tr><th>#</th><th>Built</th><th>Period</th><th>Format</th><th>File</th></tr></thead><tbody>${runs.map(
                (r) => html`<tr><td>${r.id}</td><td>${r.createdAt.toISOString()}</td>
                  <td>${r.since ? r.since.toISOString().slice(0, 10) : 'everything'} – ${r.until.toISOString().slice(0, 10)}</td>
                  <td>${r.format}</td><td><code>${r.path ?? 'stdout'}</code></td></tr>`,
              )}</tbody></table>`
        }`;
    }
    return reply
      .type('text/html')
      .send(layout({ title: 'Reports', user: request.user, csrfToken: csrf, body, section: 'reports' }));
  });

  app.get('/reports/download', { preHandler: requireAccess('view') }, async (request, reply) => {
    const deps = reportDepsOf(context);
    if (!deps) return reply.code(503).send({ error: 'unavailable', message: 'reports need the database' });
    const query = request.query as QueryInput;
    const format = typeof query['format'] === 'string' ? query['format'] : 'html';
    if (!isReportFormat(format)) {
      return reply.code(400).send({ error: 'bad_request', message: `format: one of ${REPORT_FORMATS.join(', ')}` });
    }
    const since = sinceOf(query);
    if (since === 'bad') return badSince(reply);
    const booruId = await booruOfQuery(context.deps.boorus, query);
    const until = new Date();
    const model = await deps.reports.loadFullReport({ booruId, since: since.date, until }, deps.thresholds);
    const name = `report-${booruId ?? 'all'}-${until.toISOString().slice(0, 10)}.${EXTENSIONS[format]}`;
    return reply
      .type(CONTENT_TYPES[format])
      .header('content-disposition', `attachment; filename="${name}"`)
      .send(renderReport(model, format));
  });
}
