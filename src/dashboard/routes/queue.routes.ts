/** The queue by post (the home page) and the form route that decides and undoes. */
import type { FastifyInstance } from 'fastify';
import type { QueuePost } from '../../db/post.types.js';
import type { QueueFilter } from '../../db/suggestion.types.js';
import { csrfUnlessToken, requireAccess } from '../access.js';
import type { RouteContext } from '../route-context.js';
import {
  filterQuery,
  idsOf,
  PAGE_POSTS,
  parseFilter,
  parsePage,
  parseSort,
  type QueryInput,
  safeBack,
} from '../filters.js';
import { loadNames } from '../page-queries.js';
import { can } from '../policies.js';
import { decideAs, originOf } from '../review-actions.js';
import {
  actionLabel,
  categoryName,
  filterBar,
  imageOf,
  isReportOnly,
  ratingName,
  reportOnlyNote,
  scoreBar,
  statusBadge,
  tagGroups,
} from '../views/components.js';
import { html, type SafeHtml } from '../views/html.js';
import { layout } from '../views/layout.js';

function postCard(post: QueuePost, index: number, mayDecide: boolean, back: string, csrf: string): SafeHtml {
  const reportOnly = isReportOnly(post.booruKind);
  const decides = mayDecide && !reportOnly;
  const title = `Post #${post.remoteId}`;
  return html`<article class="post" id="post-${post.id}" data-post-id="${post.id}" tabindex="-1" aria-labelledby="post-${post.id}-title">
    <div><a href="/posts/${post.id}">${imageOf(post.sampleUrl, `${title}: ${post.tags.slice(0, 12).join(' ')}`, 'sample')}</a></div>
    <div>
      <h2 id="post-${post.id}-title"><a href="/posts/${post.id}">${title}</a>
        <span class="muted">${post.booruName} · rating ${ratingName(post.rating)} · ${index + 1}</span></h2>
      ${reportOnly ? reportOnlyNote(post.booruKind) : ''}
      <form method="post" action="/suggestions/decide" class="decide">
        <input type="hidden" name="_csrf" value="${csrf}">
        <input type="hidden" name="back" value="${back}">
        <ol class="suggestions" aria-label="Suggestions for ${title}">
        ${post.suggestions.map((s, i) => {
          const label = `${s.action} ${s.tag}`;
          const pending = s.status === 'pending';
          return html`<li data-id="${s.id}" data-status="${s.status}">
            ${
              decides && pending
                ? html`<input type="checkbox" name="ids" value="${s.id}" checked id="s-${s.id}" aria-label="Select: ${label}">`
                : html`<span></span>`
            }
            ${i < 9 ? html`<kbd aria-hidden="true">${i + 1}</kbd>` : html`<span></span>`}
            <label for="s-${s.id}">${actionLabel(s.action)} <span class="tagname tag-${s.category ?? -1}">${s.tag}</span>
              <span class="muted">${categoryName(s.category)}</span> ${scoreBar(s.score)}</label>
            <span class="row-buttons">${
              decides && pending
                ? html`<button type="submit" class="approve" name="decision" value="approve:${s.id}" aria-label="Approve ${label}">Approve</button>
                  <button type="submit" class="reject" name="decision" value="reject:${s.id}" aria-label="Reject ${label}">Reject</button>`
                : html`<span class="state">${statusBadge(s)}</span>${
                    mayDecide && (s.status === 'approved' || s.status === 'rejected')
                      ? html` <button type="submit" name="decision" value="undo:${s.id}" aria-label="Undo ${label}">Undo</button>`
                      : ''
                  }`
            }</span>
            <span class="reason">${s.reason}</span>
          </li>`;
        })}
        </ol>
        ${
          decides && post.suggestions.some((s) => s.status === 'pending')
            ? html`<p><button type="submit" class="approve" name="decision" value="approve:selected">Approve checked <kbd>a</kbd></button>
              <button type="submit" class="reject" name="decision" value="reject:selected">Reject checked <kbd>r</kbd></button></p>`
            : ''
        }
      </form>
      <h3>Current tags</h3>
      ${tagGroups(post)}
    </div>
  </article>`;
}

export function registerQueueRoutes(app: FastifyInstance, context: RouteContext): void {
  const { suggestions } = context.deps;

  app.get('/', { preHandler: requireAccess('view') }, async (request, reply) => {
    const query = request.query as QueryInput;
    const filter = parseFilter(query);
    const sort = parseSort(query);
    const page = parsePage(query);
    const [posts, facets, names] = await Promise.all([
      suggestions.listQueuePosts(filter, { sort, limit: PAGE_POSTS + 1, offset: page * PAGE_POSTS }),
      suggestions.facets(filter),
      loadNames(context),
    ]);
    const hasMore = posts.length > PAGE_POSTS;
    const shown = posts.slice(0, PAGE_POSTS);
    const total = facets.action.reduce((n, f) => n + (!filter.action || f.value === filter.action ? f.count : 0), 0);
    const user = request.user!;
    const csrf = reply.generateCsrf();
    const back = request.url;
    const status = filter.status ?? 'pending';
    const done = (query['done'] as string | undefined) ?? null;
    const sortLink = (s: string, label: string) =>
      html`<a href="/${filterQuery(filter, { sort: s })}" ${sort === s ? html`aria-current="true"` : ''}>${label}</a>`;
    const body = html`<h1>${total} ${status.replace('_', ' ')} suggestion${total === 1 ? '' : 's'}${filter.tag ? html` of “${filter.tag}”` : ''}</h1>
      ${done ? html`<p class="notice" role="status">${done}</p>` : ''}
      ${filterBar('/', filter, facets, names, sort === 'newest' ? {} : { sort })}
      <p class="muted">Sort: ${sortLink('newest', 'newest post')} · ${sortLink('oldest', 'oldest post')} · ${sortLink('score', 'highest score')}
        · Press <kbd>?</kbd> for keys. Showing posts ${page * PAGE_POSTS + 1}–${page * PAGE_POSTS + shown.length}.</p>
      ${shown.length === 0 ? html`<p>Nothing to review with these filters.</p>` : ''}
      <div id="queue" data-queue>
        ${shown.map((post, i) => postCard(post, page * PAGE_POSTS + i, can(user.role, 'decide'), back, csrf))}
      </div>
      <nav class="pager" aria-label="Pages">
        ${page > 0 ? html`<a href="/${filterQuery(filter, { sort: sort === 'newest' ? undefined : sort, page: page - 1 })}" rel="prev">Previous page</a>` : ''}
        ${hasMore ? html`<a href="/${filterQuery(filter, { sort: sort === 'newest' ? undefined : sort, page: page + 1 })}" rel="next">Next page</a>` : ''}
      </nav>`;
    return reply
      .type('text/html')
      .send(layout({ title: queueTitle(total, filter), user, csrfToken: csrf, body, section: 'queue' }));
  });

  app.post(
    '/suggestions/decide',
    { preHandler: [csrfUnlessToken(app), requireAccess('decide')] },
    async (request, reply) => {
      const body = (request.body ?? {}) as { decision?: string; ids?: unknown; back?: unknown };
      const [verdict, target] = (body.decision ?? '').split(':');
      if (verdict !== 'approve' && verdict !== 'reject' && verdict !== 'undo') {
        return reply
          .code(400)
          .send({ error: 'bad_request', message: 'decision must be approve:…, reject:… or undo:…' });
      }
      const ids = target === 'selected' ? idsOf(body.ids) : idsOf(target);
      const user = request.user!;
      const result = await decideAs(context, user, ids, verdict, originOf(user, request.ip));
      const word = verdict === 'approve' ? 'Approved' : verdict === 'reject' ? 'Rejected' : 'Undid';
      const done = `${word} ${result.changed.length}${
        result.skipped.length > 0 ? `, skipped ${result.skipped.length} (${result.skipped[0]!.why})` : ''
      }.`;
      const back = new URL(safeBack(body.back), 'http://x');
      back.searchParams.set('done', done);
      return reply.redirect(`${back.pathname}${back.search}`, 303);
    },
  );
}

function queueTitle(total: number, filter: QueueFilter): string {
  const what = filter.tag ? ` · ${filter.tag}` : '';
  return `Queue (${total} ${filter.status ?? 'pending'})${what}`;
}
