/**
 * Every route of the review dashboard on a real database: each one refuses anonymous and under-privileged callers
 * (enumerated from the registered routes, so a new route without a policy fails here), CSRF on session writes,
 * personal API tokens, login throttling, undo until applied, report-only boorus, facets and escaping.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../src/dashboard/app.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import { ApiTokenRepository } from '../../src/db/api-token.repository.js';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { ReportRepository } from '../../src/db/report.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { ThresholdRepository } from '../../src/db/threshold.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { aDraft, aPostUpsert } from '../helpers/factories.js';
import { Client as InjectClient } from '../helpers/inject-client.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { dashboardRepos, storeDiff } from '../helpers/seed.js';

/**
 * Who may call each route. A route missing here fails the enumeration test. `metrics`: only with the bearer
 * TAGGER_METRICS_TOKEN (none is configured here), never with a session or a personal API token.
 */
const POLICY: Record<string, 'public' | 'metrics' | 'viewer' | 'moderator' | 'admin'> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'metrics',
  'GET /login': 'public',
  'POST /login': 'public',
  'POST /logout': 'public',
  'GET /assets/keys.js': 'public',
  'GET /api/openapi.json': 'public',
  'GET /': 'viewer',
  'GET /tags': 'viewer',
  'GET /tags/grid': 'viewer',
  'GET /posts/:id': 'viewer',
  'GET /audit': 'viewer',
  'GET /thresholds': 'viewer',
  'GET /status': 'viewer',
  'GET /reports': 'viewer',
  'GET /reports/download': 'viewer',
  'POST /thresholds/learned': 'admin',
  'GET /account': 'viewer',
  'POST /account/tokens': 'viewer',
  'POST /account/tokens/revoke': 'viewer',
  'POST /suggestions/decide': 'moderator',
  'GET /api/me': 'viewer',
  'GET /api/suggestions': 'viewer',
  'GET /api/facets': 'viewer',
  'GET /api/queue': 'viewer',
  'GET /api/tags': 'viewer',
  'GET /api/tags/grid': 'viewer',
  'GET /api/posts/:id': 'viewer',
  'GET /api/audit': 'viewer',
  'GET /api/thresholds': 'viewer',
  'GET /api/status': 'viewer',
  'POST /api/suggestions/approve': 'moderator',
  'POST /api/suggestions/reject': 'moderator',
  'POST /api/suggestions/undo': 'moderator',
  'GET /assets/upload.js': 'public',
  'GET /upload': 'viewer',
  'POST /upload': 'viewer',
  // A token API (any role); a session cookie does not count. EVALUATE_OPEN is off here (no evaluate deps).
  'POST /evaluate': 'viewer',
};

/** Routes that answer like the JSON API (401/403), not like pages (redirect to the login). */
const isApi = (url: string) => url.startsWith('/api/') || url === '/evaluate' || url === '/metrics';

/** The injected browser of `inject-client.ts`, sending the CSRF header on JSON as the dashboard's script does. */
class Client extends InjectClient {
  constructor(app: FastifyInstance, bearer?: string) {
    super(app, bearer, { csrfOnJson: true });
  }
}

describe('Dashboard routes', () => {
  const database = useTestDatabase();
  let app: FastifyInstance;
  let postId: number;
  let gelbooruSuggestion: number;
  let pending: number[];
  let suggestions: SuggestionRepository;

  beforeAll(async () => {
    const { prisma } = database();
    const users = new UserRepository(prisma);
    suggestions = new SuggestionRepository(prisma);
    const boorus = new BooruRepository(prisma);
    const danbooru = await boorus.ensure({ name: 'dan', kind: 'danbooru', baseUrl: 'http://dan.test' });
    const gelbooru = await boorus.ensure({ name: 'gel', kind: 'gelbooru', baseUrl: 'http://gel.test' });
    const modelId = await new ModelRepository(prisma).ensure({
      name: 'm',
      version: '1',
      sha256: 'c'.repeat(64),
      family: 'wd',
      purpose: 'tags',
      labels: [],
      manifest: {},
    });
    const posts = new PostRepository(prisma);
    await posts.upsertMany(danbooru.id, [aPostUpsert({ remoteId: 10 }), aPostUpsert({ remoteId: 11 })]);
    await posts.upsertMany(gelbooru.id, [aPostUpsert({ remoteId: 10 })]);
    const p10 = (await posts.findByRemoteId(danbooru.id, 10))!;
    const p11 = (await posts.findByRemoteId(danbooru.id, 11))!;
    const g10 = (await posts.findByRemoteId(gelbooru.id, 10))!;
    postId = p10.id;
    for (const [post, drafts] of [
      [p10, [aDraft({ tag: 'cat_ears', score: 0.95 }), aDraft({ tag: '"><img src=x onerror=alert(1)>', score: 0.6 })]],
      [p11, [aDraft({ tag: 'cat_ears', score: 0.7 }), aDraft({ tag: 'solo', action: 'remove', score: 0.01 })]],
      [g10, [aDraft({ tag: 'cat_ears', score: 0.8 })]],
    ] as const) {
      await storeDiff(database().prisma, { postId: post.id, modelId, tagsVersion: post.tagsVersion, drafts });
    }
    const all = await prisma.suggestion.findMany({ orderBy: { id: 'asc' } });
    gelbooruSuggestion = all.find((s) => s.postId === g10.id)!.id;
    pending = all.filter((s) => s.postId !== g10.id).map((s) => s.id);
    for (const [name, role] of [
      ['view', 'viewer'],
      ['mod', 'moderator'],
      ['admin', 'admin'],
    ] as const) {
      await users.create({ name, role, passwordHash: await hashPassword(`${name}-password`) });
    }
    app = await buildDashboard(
      {
        users,
        suggestions,
        ...dashboardRepos(prisma),
        apiTokens: new ApiTokenRepository(prisma),
        audit: new AuditRepository(prisma),
        reports: new ReportRepository(prisma),
        thresholds: new ThresholdRepository(prisma),
        logger: silentLogger,
      },
      { loginMaxFailures: 3 },
    );
  });

  afterAll(async () => {
    await app?.close();
  });

  const urlOf = (url: string) =>
    url.replace(':id', String(postId)) + (url.endsWith('/grid') ? '?tag=cat_ears&action=add' : '');

  describe('policy', () => {
    it('should have a policy for every registered route', () => {
      const routes = app.dashboardRoutes.map((r) => `${r.method} ${r.url}`);
      expect(routes.filter((r) => !(r in POLICY))).toEqual([]);
      expect(Object.keys(POLICY).filter((r) => !routes.includes(r))).toEqual([]);
    });

    it('should refuse every non-public route to an anonymous caller, with or without a CSRF token', async () => {
      const sut = new Client(app);
      await sut.request('GET', '/login');
      for (const { method, url } of app.dashboardRoutes) {
        if (POLICY[`${method} ${url}`] === 'public') continue;
        const response =
          method === 'GET'
            ? await sut.request(method, urlOf(url))
            : await sut.request(method, urlOf(url), { _csrf: sut.csrf, decision: `approve:${pending[0]}`, ids: '1' });
        const refused = isApi(url) ? [401, 403] : [303, 403];
        expect(refused, `${method} ${url} answered ${response.statusCode}`).toContain(response.statusCode);
        if (response.statusCode === 303) expect(response.headers.location).toMatch(/^\/login/);
      }
      expect(await database().prisma.suggestion.count({ where: { status: { not: 'pending' } } })).toBe(0);
    });

    it('should refuse moderator routes to a viewer, and answer viewer routes', async () => {
      const sut = new Client(app);
      await sut.signIn('view', 'view-password');
      for (const { method, url } of app.dashboardRoutes) {
        const policy = POLICY[`${method} ${url}`];
        if (policy === 'public') continue;
        if (policy === 'metrics') {
          expect((await sut.request(method, urlOf(url))).statusCode, `${method} ${url}`).toBe(401);
        } else if (policy === 'moderator' || policy === 'admin') {
          const response = url.startsWith('/api/')
            ? await sut.request(method, urlOf(url), undefined, { ids: [pending[0]] })
            : await sut.request(method, urlOf(url), { _csrf: sut.csrf, decision: `approve:${pending[0]}` });
          expect(response.statusCode, `${method} ${url}`).toBe(403);
        } else if (method === 'GET') {
          expect((await sut.request(method, urlOf(url))).statusCode, `${method} ${url}`).toBe(200);
        }
      }
      expect(await database().prisma.suggestion.count({ where: { status: { not: 'pending' } } })).toBe(0);
    });

    it('should refuse a session write without the CSRF token, even from an admin', async () => {
      const sut = new Client(app);
      await sut.signIn('admin', 'admin-password');
      const form = await sut.request('POST', '/suggestions/decide', { decision: `approve:${pending[0]}` });
      expect(form.statusCode).toBe(403);
      sut.csrf = '';
      const api = await sut.request('POST', '/api/suggestions/approve', undefined, { ids: [pending[0]] });
      expect(api.statusCode).toBe(403);
      const token = await sut.request('POST', '/account/tokens', { name: 'x' });
      expect(token.statusCode).toBe(403);
    });
  });

  describe('pages', () => {
    it('should escape booru-supplied tag names everywhere they are shown', async () => {
      const sut = new Client(app);
      await sut.signIn('view', 'view-password');
      for (const url of [
        '/',
        '/tags',
        `/posts/${postId}`,
        '/tags/grid?tag=cat_ears',
        '/audit',
        '/reports',
        '/thresholds',
      ]) {
        const body = (await sut.request('GET', url)).body;
        expect(body, url).not.toContain('<img src=x');
      }
      expect((await sut.request('GET', '/')).body).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
      // The API returns the raw name as JSON, never as HTML.
      expect((await sut.request('GET', '/api/suggestions')).headers['content-type']).toMatch(/^application\/json/);
    });

    it('should show a Gelbooru post as report-only, without approve buttons', async () => {
      const sut = new Client(app);
      await sut.signIn('mod', 'mod-password');
      const page = await sut.request('GET', '/?booru=2');
      expect(page.body).toContain('Report-only: gelbooru has no tag-edit API');
      expect(page.body).not.toContain(`value="approve:${gelbooruSuggestion}"`);
      const api = await sut.request('POST', '/api/suggestions/approve', undefined, { ids: [gelbooruSuggestion] });
      expect(api.json()).toEqual({
        changed: [],
        skipped: [{ id: gelbooruSuggestion, why: expect.stringMatching(/report-only/) }],
      });
    });

    it('should say on the status page why suggestions wait when the tag sync failed, and when it is fresh', async () => {
      const { prisma } = database();
      const tags = new TagRepository(prisma);
      const statusApp = await buildDashboard(
        {
          users: new UserRepository(prisma),
          suggestions,
          ...dashboardRepos(prisma, { syncMaxAgeMs: 3_600_000 }),
          apiTokens: new ApiTokenRepository(prisma),
          audit: new AuditRepository(prisma),
          reports: new ReportRepository(prisma),
          thresholds: new ThresholdRepository(prisma),
          logger: silentLogger,
        },
        {},
      );
      try {
        const sut = new Client(statusApp);
        await sut.signIn('view', 'view-password');
        const failed = await tags.startSync(1, new Date());
        await tags.finishSync(failed, new Date(), 'BOORU_BAD_RESPONSE: malformed tag listing');
        const stale = (await sut.request('GET', '/status')).body;
        expect(stale).toContain(`Suggestions wait for dan: the last tag sync (#${failed}, `);
        expect(stale).toContain('failed: BOORU_BAD_RESPONSE: malformed tag listing');
        expect(stale).toContain('stale: suggestions wait');
        const good = await tags.startSync(1, new Date());
        await tags.finishSync(good, new Date(), null);
        const fresh = await sut.request('GET', '/status');
        expect(fresh.body).not.toContain('Suggestions wait for dan');
        expect(fresh.body).toContain(`fresh: generation ${good}`);
        expect((await sut.request('GET', '/api/status')).json().vocabulary).toContainEqual({
          booru: 'dan',
          fresh: true,
          generation: good,
          waitReason: null,
        });
      } finally {
        await statusApp.close();
      }
    });

    it('should count suggestions per facet under the other filters', async () => {
      const sut = new Client(app);
      await sut.signIn('view', 'view-password');
      const facets = (await sut.request('GET', '/api/facets?action=add')).json();
      expect(facets.action).toEqual([
        { value: 'add', count: 4 },
        { value: 'remove', count: 1 },
      ]);
      expect(facets.booruId).toEqual([
        { value: '1', count: 3 },
        { value: '2', count: 1 },
      ]);
      const page = await sut.request('GET', '/?tag=cat_ears');
      expect(page.body).toContain('3 pending suggestions of “cat_ears”');
    });
  });

  describe('decisions', () => {
    it('should approve in bulk from the tag grid form, undo, and refuse to undo once applied', async () => {
      const sut = new Client(app);
      await sut.signIn('mod', 'mod-password');
      const grid = await sut.request('GET', '/tags/grid?tag=cat_ears&action=add');
      const ids = [...grid.body.matchAll(/name="ids" value="(\d+)"/g)].map((m) => m[1]!);
      expect(ids).toHaveLength(2); // the Gelbooru one has no checkbox
      const done = await sut.request('POST', '/suggestions/decide', {
        _csrf: sut.csrf,
        decision: 'approve:selected',
        ids,
        back: '/tags/grid?tag=cat_ears&action=add',
      });
      expect(done.headers.location).toMatch(/^\/tags\/grid\?tag=cat_ears&action=add&done=Approved\+2/);
      const [first, second] = ids.map(Number) as [number, number];
      await suggestions.recordApplyOutcomes({
        postId,
        edit: { oldTagString: 'a', newTagString: 'a cat_ears', resultTags: ['a', 'cat_ears'], outcome: 'applied' },
        outcomes: [{ suggestionId: first, status: 'applied', outcome: 'applied' }],
      });
      await sut.request('GET', '/');
      const undo = await sut.request('POST', '/api/suggestions/undo', undefined, { ids: [first, second] });
      expect(undo.json()).toEqual({ changed: [second], skipped: [{ id: first, why: 'cannot be undone (applied)' }] });
      const post = await sut.request('GET', `/posts/${postId}`);
      expect(post.body).toContain('status-applied');
      expect(post.body).toContain('cat_ears');
      const audit = (await sut.request('GET', '/api/audit?action=undo')).json();
      expect(audit.entries.map((e: { suggestionId: number; actor: string }) => [e.suggestionId, e.actor])).toEqual([
        [second, 'mod'],
      ]);
    });
  });

  describe('learned thresholds switch', () => {
    it('should let only an admin switch learned thresholds, with CSRF, and record each switch in the audit log', async () => {
      const moderator = new Client(app);
      await moderator.signIn('mod', 'mod-password');
      await moderator.request('GET', '/thresholds');
      const refused = await moderator.request('POST', '/thresholds/learned', {
        _csrf: moderator.csrf,
        booru: '1',
        enabled: 'on',
      });
      expect(refused.statusCode).toBe(403);
      const sut = new Client(app);
      await sut.signIn('admin', 'admin-password');
      expect((await sut.request('GET', '/thresholds')).body).toContain('Switch learned thresholds on');
      expect((await sut.request('POST', '/thresholds/learned', { booru: '1', enabled: 'on' })).statusCode).toBe(403);
      const on = await sut.request('POST', '/thresholds/learned', { _csrf: sut.csrf, booru: '1', enabled: 'on' });
      expect(on.statusCode).toBe(303);
      expect((await sut.request('GET', '/thresholds')).body).toContain('data-learned="on"');
      await sut.request('POST', '/thresholds/learned', { _csrf: sut.csrf, booru: '1', enabled: 'off' });
      const audit = (await sut.request('GET', '/api/audit?action=threshold')).json();
      expect(audit.entries.map((e: { actor: string; detail: unknown }) => [e.actor, e.detail])).toEqual([
        ['admin', { learnedThresholds: 'off', booruId: 1 }],
        ['admin', { learnedThresholds: 'on', booruId: 1 }],
      ]);
    });

    it('should offer every report format for download', async () => {
      const sut = new Client(app);
      await sut.signIn('view', 'view-password');
      const page = await sut.request('GET', '/reports?since=7d');
      for (const format of ['md', 'html', 'csv', 'json', 'dtext']) {
        expect(page.body).toContain(`/reports/download?since=7d&amp;format=${format}`);
      }
      const csv = await sut.request('GET', '/reports/download?format=csv');
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="report-all-\d{4}-\d{2}-\d{2}\.csv"$/);
      expect((await sut.request('GET', '/reports/download?format=exe')).statusCode).toBe(400);
      expect((await sut.request('GET', '/reports?since=yesterday')).statusCode).toBe(400);
    });
  });

  describe('API tokens', () => {
    it('should create a token shown once, act with its role on /api only, and die when revoked', async () => {
      const sut = new Client(app);
      await sut.signIn('mod', 'mod-password');
      const created = await sut.request('POST', '/account/tokens', { _csrf: sut.csrf, name: 'bot' });
      const token = /data-token>(btk_[\w-]+)</.exec(created.body)?.[1];
      expect(token).toBeTruthy();
      const bot = new Client(app, token);
      expect((await bot.request('GET', '/api/me')).json()).toMatchObject({
        name: 'mod',
        role: 'moderator',
        via: 'token',
      });
      const target = pending.find((id) => id !== undefined)!;
      const rejected = await bot.request('POST', '/api/suggestions/reject', undefined, { ids: [target] });
      expect(rejected.statusCode).toBe(200);
      expect((await bot.request('GET', '/')).statusCode).toBe(303); // pages need a session
      expect((await bot.request('POST', '/account/tokens', { name: 'more' })).statusCode).toBe(403);
      const id = /name="id" value="(\d+)"/.exec((await sut.request('GET', '/account')).body)?.[1];
      await sut.request('POST', '/account/tokens/revoke', { _csrf: sut.csrf, id: id! });
      expect((await bot.request('GET', '/api/me')).statusCode).toBe(401);
      expect((await new Client(app, 'btk_forged').request('GET', '/api/me')).statusCode).toBe(401);
    });
  });

  describe('login throttling', () => {
    it('should refuse sign-ins after too many failures for one name, even with the right password', async () => {
      const sut = new Client(app);
      for (let i = 0; i < 3; i++) expect((await sut.signIn('admin', 'wrong')).statusCode).toBe(401);
      const throttled = await sut.signIn('admin', 'admin-password');
      expect(throttled.statusCode).toBe(429);
      expect(throttled.headers['retry-after']).toBeDefined();
      expect(throttled.body).toContain('Too many failed sign-ins');
    });
  });

  describe('OpenAPI document', () => {
    it('should describe every API route and /evaluate', async () => {
      const doc = (await new Client(app).request('GET', '/api/openapi.json')).json();
      const apiRoutes = app.dashboardRoutes
        .filter((r) => (r.url.startsWith('/api/') && r.url !== '/api/openapi.json') || r.url === '/evaluate')
        .map((r) => r.url.replace(':id', '{id}'));
      for (const url of apiRoutes) expect(Object.keys(doc.paths), url).toContain(url);
    });
  });
});
