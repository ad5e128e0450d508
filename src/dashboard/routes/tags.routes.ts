/** The queue by tag: every tag with pending suggestions, and one tag's suggestions as a grid of thumbnails. */
import type { FastifyInstance } from 'fastify';
import type { SuggestionAction } from '../../core/types.js';
import type { RouteContext } from '../route-context.js';
import { requireAccess } from '../access.js';
import { ACTIONS, filterQuery, PAGE_GRID, parseFilter, parsePage, type QueryInput } from '../filters.js';
import { loadNames } from '../page-queries.js';
import { can } from '../policies.js';
import {
  actionLabel,
  categoryName,
  filterBar,
  imageOf,
  isReportOnly,
  scoreBar,
  statusBadge,
} from '../views/components.js';
import { html } from '../views/html.js';
import { layout } from '../views/layout.js';

export function registerTagRoutes(app: FastifyInstance, context: RouteContext): void {
  const { suggestions } = context.deps;

  app.get('/tags', { preHandler: requireAccess('view') }, async (request, reply) => {
    const filter = parseFilter(request.query as QueryInput);
    const [rows, facets, names] = await Promise.all([
      suggestions.listTagSummary(filter, 300),
      suggestions.facets(filter),
      loadNames(context),
    ]);
    const csrf = reply.generateCsrf();
    const body = html`<h1>Suggestions by tag</h1>
      <p class="muted">One concept, many images: open a tag to review all its suggestions as a grid.</p>
      ${filterBar('/tags', filter, facets, names)}
      <table>
        <caption class="visually-hidden">Tags with ${filter.status ?? 'pending'} suggestions, most first</caption>
        <thead><tr><th>Tag</th><th>Action</th><th>Category</th><th>Suggestions</th><th class="hide-narrow">Best score</th></tr></thead>
        <tbody>${rows.map(
          (r) => html`<tr>
            <td><a class="tag-${r.category ?? -1}" href="/tags/grid${filterQuery({ ...filter, tag: r.tag, action: r.action })}">${r.tag}</a></td>
            <td>${actionLabel(r.action)}</td><td>${categoryName(r.category)}</td><td>${r.count}</td>
            <td class="hide-narrow">${scoreBar(r.maxScore)}</td></tr>`,
        )}</tbody>
      </table>
      ${rows.length === 0 ? html`<p>No suggestions with these filters.</p>` : ''}`;
    return reply
      .type('text/html')
      .send(layout({ title: 'Suggestions by tag', user: request.user, csrfToken: csrf, body, section: 'tags' }));
  });

  app.get('/tags/grid', { preHandler: requireAccess('view') }, async (request, reply) => {
    const query = request.query as QueryInput;
    const filter = parseFilter(query);
    const tag = filter.tag;
    if (!tag) return reply.redirect('/tags', 303);
    const action: SuggestionAction = filter.action ?? 'add';
    const direction = query['dir'] === 'asc' ? 'asc' : 'desc';
    const page = parsePage(query);
    const items = await suggestions.listTagGrid(tag, action, filter, {
      direction,
      limit: PAGE_GRID + 1,
      offset: page * PAGE_GRID,
    });
    const total = await suggestions.countSuggestions({ ...filter, tag, action });
    const hasMore = items.length > PAGE_GRID;
    const shown = items.slice(0, PAGE_GRID);
    const user = request.user!;
    const csrf = reply.generateCsrf();
    const status = filter.status ?? 'pending';
    const mayDecide = can(user.role, 'decide');
    const base = { ...filter, tag, action };
    const dirLink = (d: 'desc' | 'asc', label: string) =>
      html`<a href="/tags/grid${filterQuery(base, { dir: d === 'desc' ? undefined : d })}" ${direction === d ? html`aria-current="true"` : ''}>${label}</a>`;
    const done = (query['done'] as string | undefined) ?? null;
    const body = html`<h1>${actionLabel(action)} <span class="tag-${shown[0]?.suggestion.category ?? -1}">${tag}</span>: ${total} ${status.replace('_', ' ')}</h1>
      ${done ? html`<p class="notice" role="status">${done}</p>` : ''}
      <p class="muted">Actions: ${ACTIONS.map((a) => html`<a href="/tags/grid${filterQuery({ ...base, action: a })}" ${a === action ? html`aria-current="true"` : ''}>${a}</a> `)}
        · Order: ${dirLink('desc', 'highest score first')} · ${dirLink('asc', 'lowest score first')}</p>
      <form method="post" action="/suggestions/decide" id="grid-form">
        <input type="hidden" name="_csrf" value="${csrf}">
        <input type="hidden" name="back" value="${request.url}">
        ${
          mayDecide && status === 'pending'
            ? html`<div class="toolbar" role="toolbar" aria-label="Bulk decision">
            <button type="button" data-select-all>Select all <kbd>*</kbd></button>
            <button type="submit" class="approve" name="decision" value="approve:selected">Approve selected <kbd>a</kbd></button>
            <button type="submit" class="reject" name="decision" value="reject:selected">Reject selected <kbd>r</kbd></button>
            <span class="muted" data-selected-count>0 selected</span></div>`
            : ''
        }
        <div class="grid" data-grid>
        ${shown.map(({ suggestion: s, post }) => {
          const decides = mayDecide && s.status === 'pending' && !isReportOnly(post.booruKind);
          return html`<figure data-id="${s.id}" data-post-id="${post.id}" data-status="${s.status}">
            <a href="/posts/${post.id}" tabindex="-1">${imageOf(post.previewUrl, `Post #${post.remoteId}: ${post.tags.slice(0, 10).join(' ')}`)}</a>
            <figcaption>
              ${
                decides
                  ? html`<label><input type="checkbox" name="ids" value="${s.id}" aria-label="Select post #${post.remoteId}"> #${post.remoteId}</label>`
                  : html`<a href="/posts/${post.id}">#${post.remoteId}</a>`
              }
              ${scoreBar(s.score)}
              ${s.status !== 'pending' ? html`<div>${statusBadge(s)}</div>` : ''}
              ${isReportOnly(post.booruKind) ? html`<div class="muted">report-only (${post.booruKind})</div>` : ''}
            </figcaption>
          </figure>`;
        })}
        </div>
      </form>
      ${shown.length === 0 ? html`<p>No ${status} suggestions of this tag.</p>` : ''}
      <nav class="pager" aria-label="Pages">
        ${page > 0 ? html`<a rel="prev" href="/tags/grid${filterQuery(base, { dir: direction === 'asc' ? 'asc' : undefined, page: page - 1 })}">Previous page</a>` : ''}
        ${hasMore ? html`<a rel="next" href="/tags/grid${filterQuery(base, { dir: direction === 'asc' ? 'asc' : undefined, page: page + 1 })}">Next page</a>` : ''}
      </nav>`;
    return reply
      .type('text/html')
      .send(layout({ title: `${action} ${tag} · by tag`, user, csrfToken: csrf, body, section: 'tags' }));
  });
}
