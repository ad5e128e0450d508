/**
 * The JSON API: everything the pages show and do, for bots and scripts (a session cookie plus CSRF header, or a
 * personal bearer token). Described by the OpenAPI document at /api/openapi.json.
 */
import type { FastifyInstance } from 'fastify';
import type { SuggestionAction } from '../../core/types.js';
import { csrfUnlessToken, requireAccess } from '../access.js';
import type { RouteContext } from '../route-context.js';
import { idsOf, PAGE_GRID, PAGE_POSTS, parseFilter, parsePage, parseSort, type QueryInput } from '../filters.js';
import { OPENAPI_DOCUMENT } from '../openapi.js';
import { AUDIT_PAGE, parseAuditQuery } from '../page-queries.js';
import { decideAs, originFor, originOf } from '../review-actions.js';

export function registerApiRoutes(app: FastifyInstance, context: RouteContext): void {
  const { suggestions, posts, audit, thresholds, statusSource: status } = context.deps;
  const view = { preHandler: requireAccess('view') };
  const decide = { preHandler: [csrfUnlessToken(app), requireAccess('decide')] };

  app.get('/api/openapi.json', async () => OPENAPI_DOCUMENT);

  app.get('/api/me', view, async (request) => {
    const user = request.user!;
    return { id: user.id, name: user.name, role: user.role, via: user.via };
  });

  app.get('/api/suggestions', view, async (request) => {
    const query = request.query as QueryInput;
    const filter = parseFilter(query);
    const limit = Math.min(1000, Math.max(1, Number(query['limit'] ?? 100) || 100));
    const offset = Math.max(0, Number(query['offset'] ?? 0) || 0);
    const [rows, total] = await Promise.all([
      suggestions.listSuggestions(filter, { limit, offset }),
      suggestions.countSuggestions(filter),
    ]);
    return {
      total,
      suggestions: rows.map((r) => ({
        id: r.id,
        post: r.remoteId,
        postId: r.postId,
        tag: r.tag,
        action: r.action,
        category: r.category,
        score: r.score,
        reason: r.reason,
        status: r.status,
        applyOutcome: r.applyOutcome,
        applyError: r.applyError,
        votes: r.votes,
      })),
    };
  });

  app.get('/api/facets', view, async (request) => suggestions.facets(parseFilter(request.query as QueryInput)));

  app.get('/api/queue', view, async (request) => {
    const query = request.query as QueryInput;
    const filter = parseFilter(query);
    const page = parsePage(query);
    const posts = await suggestions.listQueuePosts(filter, {
      sort: parseSort(query),
      limit: PAGE_POSTS + 1,
      offset: page * PAGE_POSTS,
    });
    return { page, hasMore: posts.length > PAGE_POSTS, posts: posts.slice(0, PAGE_POSTS) };
  });

  app.get('/api/tags', view, async (request) => ({
    tags: await suggestions.listTagSummary(parseFilter(request.query as QueryInput), 300),
  }));

  app.get('/api/tags/grid', view, async (request, reply) => {
    const query = request.query as QueryInput;
    const filter = parseFilter(query);
    if (!filter.tag) return reply.code(400).send({ error: 'bad_request', message: 'tag is required' });
    const action: SuggestionAction = filter.action ?? 'add';
    const page = parsePage(query);
    const items = await suggestions.listTagGrid(filter.tag, action, filter, {
      direction: query['dir'] === 'asc' ? 'asc' : 'desc',
      limit: PAGE_GRID + 1,
      offset: page * PAGE_GRID,
    });
    return { page, hasMore: items.length > PAGE_GRID, items: items.slice(0, PAGE_GRID) };
  });

  app.get('/api/posts/:id', view, async (request, reply) => {
    const id = Number((request.params as { id: string }).id);
    const detail = Number.isInteger(id) && id > 0 && id < 2 ** 31 ? await posts.findDetail(id) : null;
    if (!detail) return reply.code(404).send({ error: 'not_found', message: `no post ${id}` });
    return detail;
  });

  app.get('/api/audit', view, async (request) => {
    const rows = await audit.listFiltered({ ...parseAuditQuery(request.query as QueryInput), limit: AUDIT_PAGE });
    const role = request.user!.role;
    return {
      entries: rows.map((row) => ({ ...row, origin: originFor(role, row.origin) })),
      nextBefore: rows.length === AUDIT_PAGE ? rows[rows.length - 1]?.id : null,
    };
  });

  app.get('/api/thresholds', view, async () => ({
    defaults: context.defaultThresholds,
    stored: await thresholds.listAll(),
  }));

  app.get('/api/status', view, async () => status.getStatus());

  for (const verdict of ['approve', 'reject', 'undo'] as const) {
    app.post(`/api/suggestions/${verdict}`, decide, async (request, reply) => {
      const body = (request.body ?? {}) as { ids?: unknown };
      const ids = idsOf(body.ids);
      if (ids.length === 0) return reply.code(400).send({ error: 'bad_request', message: 'ids: one or more ids' });
      const user = request.user!;
      return decideAs(context, user, ids, verdict, originOf(user, request.ip));
    });
  }
}
