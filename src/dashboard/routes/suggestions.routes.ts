import type { FastifyInstance } from 'fastify';
import { requireAccess } from '../access.js';
import type { RouteContext } from '../route-context.js';
import { can } from '../policies.js';
import { html } from '../views/html.js';
import { layout } from '../views/layout.js';

const PAGE_SIZE = 100;
const STATUSES = ['pending', 'approved', 'rejected', 'applied', 'failed', 'superseded', 'already_applied'] as const;
type Status = (typeof STATUSES)[number];

function statusOf(value: unknown): Status {
  return STATUSES.includes(value as Status) ? (value as Status) : 'pending';
}

function idsOf(value: unknown): number[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

export function registerSuggestionRoutes(app: FastifyInstance, context: RouteContext): void {
  const { suggestions } = context.deps;

  app.get('/', { preHandler: requireAccess('view') }, async (request, reply) => {
    const query = request.query as { status?: string; page?: string; done?: string };
    const status = statusOf(query.status);
    const page = Math.max(0, Number(query.page ?? 0) || 0);
    const [rows, total] = await Promise.all([
      suggestions.list({ status, limit: PAGE_SIZE, offset: page * PAGE_SIZE }),
      suggestions.count({ status }),
    ]);
    const user = request.user!;
    const mayDecide = can(user.role, 'decide') && status === 'pending';
    const csrfToken = reply.generateCsrf();
    const body = html`<h1>${total} ${status.replace('_', ' ')} suggestion${total === 1 ? '' : 's'}</h1>
      ${query.done ? html`<p class="notice" role="status">${query.done}</p>` : ''}
      <nav aria-label="Status">${STATUSES.map(
        (s) =>
          html`<a href="/?status=${s}" ${s === status ? html`aria-current="page"` : ''}>${s.replace('_', ' ')}</a> `,
      )}</nav>
      <form method="post" action="/suggestions/decide" id="decide">
        <input type="hidden" name="_csrf" value="${csrfToken}">
        <table>
          <thead><tr>${mayDecide ? html`<th><span class="visually-hidden">Select</span></th>` : ''}<th>Post</th><th>Action</th><th>Tag</th><th>Score</th><th class="reason">Reason</th>${mayDecide ? html`<th>Decide</th>` : ''}</tr></thead>
          <tbody>
          ${rows.map(
            (row) => html`<tr data-id="${row.id}">
              ${mayDecide ? html`<td><input type="checkbox" name="ids" value="${row.id}" aria-label="Select suggestion ${row.id}"></td>` : ''}
              <td>#${row.remoteId}</td>
              <td class="${row.action}">${row.action}</td>
              <td class="tag-${row.category ?? 0}">${row.tag}</td>
              <td><span class="bar" style="width:${Math.round(row.score * 60)}px"></span> ${row.score.toFixed(3)}</td>
              <td class="reason">${row.reason}</td>
              ${
                mayDecide
                  ? html`<td>
                <button type="submit" name="decision" value="approve:${row.id}" aria-label="Approve ${row.action} ${row.tag} on post ${row.remoteId}">Approve</button>
                <button type="submit" name="decision" value="reject:${row.id}" aria-label="Reject ${row.action} ${row.tag} on post ${row.remoteId}">Reject</button>
              </td>`
                  : ''
              }
            </tr>`,
          )}
          </tbody>
        </table>
        ${
          mayDecide && rows.length > 0
            ? html`<p><button type="submit" name="decision" value="approve:selected">Approve selected</button>
          <button type="submit" name="decision" value="reject:selected">Reject selected</button></p>`
            : ''
        }
      </form>
      ${total > (page + 1) * PAGE_SIZE ? html`<p><a href="/?status=${status}&page=${page + 1}">Next page</a></p>` : ''}`;
    return reply.type('text/html').send(layout({ title: `${status} suggestions`, user, csrfToken, body }));
  });

  app.post(
    '/suggestions/decide',
    { preHandler: [app.csrfProtection, requireAccess('decide')] },
    async (request, reply) => {
      const body = (request.body ?? {}) as { decision?: string; ids?: unknown };
      const [verdict, target] = (body.decision ?? '').split(':');
      if (verdict !== 'approve' && verdict !== 'reject') {
        return reply.code(400).send({ error: 'bad_request', message: 'decision must be approve:… or reject:…' });
      }
      const ids = target === 'selected' ? idsOf(body.ids) : idsOf(target);
      const user = request.user!;
      const result = await suggestions.decide({
        ids,
        verdict,
        user: { id: user.id, name: user.name },
        origin: `web ${request.ip}`,
      });
      const done = `${verdict === 'approve' ? 'Approved' : 'Rejected'} ${result.changed.length}${
        result.skipped.length > 0 ? `, skipped ${result.skipped.length}` : ''
      }.`;
      return reply.redirect(`/?done=${encodeURIComponent(done)}`, 303);
    },
  );

  app.get('/api/suggestions', { preHandler: requireAccess('view') }, async (request) => {
    const query = request.query as { status?: string; limit?: string; offset?: string };
    const status = statusOf(query.status);
    const limit = Math.min(1000, Math.max(1, Number(query.limit ?? PAGE_SIZE) || PAGE_SIZE));
    const offset = Math.max(0, Number(query.offset ?? 0) || 0);
    const [rows, total] = await Promise.all([
      suggestions.list({ status, limit, offset }),
      suggestions.count({ status }),
    ]);
    return {
      total,
      suggestions: rows.map((row) => ({
        id: row.id,
        post: row.remoteId,
        tag: row.tag,
        action: row.action,
        category: row.category,
        score: row.score,
        reason: row.reason,
        status: row.status,
      })),
    };
  });
}
