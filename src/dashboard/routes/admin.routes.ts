/** The audit log and status pages (thresholds and reports have their own route files). */
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../route-context.js';
import { requireAccess } from '../access.js';
import type { QueryInput } from '../filters.js';
import { AUDIT_PAGE, parseAuditQuery } from '../page-queries.js';
import { originFor } from '../review-actions.js';
import { html } from '../views/html.js';
import { layout } from '../views/layout.js';

export function registerAdminRoutes(app: FastifyInstance, context: RouteContext): void {
  const { audit, statusSource: status } = context.deps;

  app.get('/audit', { preHandler: requireAccess('view') }, async (request, reply) => {
    const query = parseAuditQuery(request.query as QueryInput);
    const rows = await audit.listFiltered({ ...query, limit: AUDIT_PAGE + 1 });
    const shown = rows.slice(0, AUDIT_PAGE);
    const csrf = reply.generateCsrf();
    const next = rows.length > AUDIT_PAGE ? shown[shown.length - 1]?.id : undefined;
    const keep = new URLSearchParams({
      ...(query.actor ? { actor: query.actor } : {}),
      ...(query.action ? { action: query.action } : {}),
    });
    const body = html`<h1>Audit log</h1>
      <form method="get" action="/audit" class="filter-form">
        <label>Who <input name="actor" value="${query.actor ?? ''}" size="12"></label>
        <label>What <select name="action">${[
          '',
          'approve',
          'reject',
          'undo',
          'apply',
          'login',
          'token',
          'threshold',
        ].map(
          (a) => html`<option value="${a}" ${query.action === a ? html`selected` : ''}>${a || 'any'}</option>`,
        )}</select></label>
        <button type="submit">Filter</button>
      </form>
      <table>
        <thead><tr><th>#</th><th>When</th><th>Who</th><th>What</th><th>Post</th><th>Tag</th><th class="hide-narrow">Detail</th><th class="hide-narrow">From</th></tr></thead>
        <tbody>${shown.map(
          (d) => html`<tr><td>${d.id}</td><td>${d.at.toISOString()}</td><td>${d.actor}</td><td>${d.action}</td>
            <td>${d.postId ? html`<a href="/posts/${d.postId}">#${d.remoteId ?? d.postId}</a>` : ''}</td><td>${d.tag ?? ''}</td>
            <td class="hide-narrow"><pre class="detail">${d.detail ? JSON.stringify(d.detail) : ''}</pre></td><td class="hide-narrow">${originFor(request.user!.role, d.origin) ?? ''}</td></tr>`,
        )}</tbody>
      </table>
      ${shown.length === 0 ? html`<p>No entries.</p>` : ''}
      ${next ? html`<nav class="pager"><a rel="next" href="/audit?${keep.toString()}${keep.size ? '&' : ''}before=${next}">Older entries</a></nav>` : ''}`;
    return reply
      .type('text/html')
      .send(layout({ title: 'Audit log', user: request.user, csrfToken: csrf, body, section: 'audit' }));
  });

  app.get('/status', { preHandler: requireAccess('view') }, async (request, reply) => {
    const s = await status.getStatus();
    const csrf = reply.generateCsrf();
    const counts = (record: Record<string, number>) =>
      html`<table><tbody>${Object.entries(record).map(([k, v]) => html`<tr><th scope="row">${k.replace('_', ' ')}</th><td>${v}</td></tr>`)}</tbody></table>`;
    const stale = (s.vocabulary ?? []).filter((v) => !v.fresh);
    const body = html`<h1>Status</h1>
      ${stale.map(
        (v) =>
          html`<p class="notice" role="alert" data-vocabulary="stale">Suggestions wait for ${v.booru}: ${v.waitReason}</p>`,
      )}
      <p class="muted">Source: ${s.source}</p>
      <table><tbody>
        <tr><th scope="row">Execution provider</th><td>${s.provider ?? 'not reported'}</td></tr>
        <tr><th scope="row">Throughput</th><td>${s.throughputPerMinute === null ? 'unknown' : `${s.throughputPerMinute} posts/min (last hour)`}</td></tr>
        <tr><th scope="row">Last post tagged</th><td>${s.lastTaggedAt ? s.lastTaggedAt.toISOString() : 'never'}</td></tr>
        ${(s.vocabulary ?? []).map(
          (v) =>
            html`<tr><th scope="row">Tag sync (${v.booru})</th><td>${v.fresh ? `fresh: generation ${v.generation}` : 'stale: suggestions wait'}</td></tr>`,
        )}
      </tbody></table>
      <h2>Workers</h2>
      ${
        s.workers.length === 0
          ? html`<p>No worker holds a lease now.</p>`
          : html`<table><thead><tr><th>Worker</th><th>Last seen</th><th>Detail</th></tr></thead><tbody>${s.workers.map(
              (w) => html`<tr><td>${w.id}</td><td>${w.lastSeen.toISOString()}</td><td>${w.detail ?? ''}</td></tr>`,
            )}</tbody></table>`
      }
      <h2>Posts by pipeline state</h2>${counts(s.posts)}
      <h2>Suggestions by status</h2>${counts(s.suggestions)}
      <h2>Failures and skips by reason</h2>
      ${
        s.failuresByReason.length === 0
          ? html`<p>None.</p>`
          : html`<table><thead><tr><th>Reason</th><th>Posts</th></tr></thead><tbody>${s.failuresByReason.map(
              (f) => html`<tr><td>${f.reason}</td><td>${f.count}</td></tr>`,
            )}</tbody></table>`
      }`;
    return reply
      .type('text/html')
      .send(layout({ title: 'Status', user: request.user, csrfToken: csrf, body, section: 'status' }));
  });
}
