/**
 * The first dashboard on a real database through Fastify's injector: sign-in, the pending list, decisions with CSRF,
 * roles, and escaping of booru-supplied strings.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../src/dashboard/app.js';
import { hashPassword, verifyPassword } from '../../src/dashboard/auth.js';
import { ApiTokenRepository } from '../../src/db/api-token.repository.js';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { aDraft, aPostUpsert } from '../helpers/factories.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { dashboardRepos, storeDiff } from '../helpers/seed.js';

/** A tiny cookie jar over injected requests. */
class Browser {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly app: FastifyInstance) {}

  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string | string[]>) {
    const pairs = Object.entries(form ?? {}).flatMap(([k, v]): [string, string][] =>
      Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, v]],
    );
    const body = form ? new URLSearchParams(pairs).toString() : undefined;
    const response = await this.app.inject({
      method,
      url,
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(body ? { payload: body } : {}),
    });
    for (const cookie of response.cookies as { name: string; value: string }[]) {
      if (cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    return response;
  }

  /** The CSRF token of the last page that had a form. */
  static csrfOf(response: LightMyRequestResponse): string {
    const match = /name="_csrf" value="([^"]+)"/.exec(response.body);
    if (!match?.[1]) throw new Error('no CSRF token on the page');
    return match[1];
  }

  async signIn(name: string, password: string) {
    const page = await this.request('GET', '/login');
    return this.request('POST', '/login', { _csrf: Browser.csrfOf(page), name, password, next: '/' });
  }
}

describe('Dashboard', () => {
  const database = useTestDatabase();
  let app: FastifyInstance;
  let suggestionIds: number[];

  beforeAll(async () => {
    const { prisma } = database();
    const users = new UserRepository(prisma);
    const suggestions = new SuggestionRepository(prisma);
    const booru = await new BooruRepository(prisma).ensure({
      name: 'test',
      kind: 'danbooru',
      baseUrl: 'http://booru.test',
    });
    const modelId = await new ModelRepository(prisma).ensure({
      name: 'm',
      version: '1',
      sha256: 'a'.repeat(64),
      family: 'wd',
      purpose: 'tags',
      labels: [],
      manifest: {},
    });
    const posts = new PostRepository(prisma);
    await posts.upsertMany(booru.id, [aPostUpsert({ remoteId: 77 })]);
    const post = (await posts.findByRemoteId(booru.id, 77))!;
    await storeDiff(database().prisma, {
      postId: post.id,
      modelId,
      tagsVersion: post.tagsVersion,
      drafts: [
        aDraft({ tag: 'cat_ears', score: 0.91 }),
        aDraft({ tag: '<script>alert(1)</script>', score: 0.5, reason: '<b>bold</b>' }),
      ],
    });
    suggestionIds = (await suggestions.list({ status: 'pending', limit: 10, offset: 0 })).map((s) => s.id);
    await users.create({ name: 'mod', role: 'moderator', passwordHash: await hashPassword('mod-password') });
    await users.create({ name: 'view', role: 'viewer', passwordHash: await hashPassword('view-password') });
    app = await buildDashboard({
      users,
      suggestions,
      ...dashboardRepos(prisma),
      apiTokens: new ApiTokenRepository(prisma),
      audit: new AuditRepository(prisma),
      logger: silentLogger,
    });
  });

  afterAll(async () => {
    await app?.close();
  });

  describe('anonymous caller', () => {
    it('should be sent to the sign-in page from every page', async () => {
      const sut = new Browser(app);
      const response = await sut.request('GET', '/');
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toBe('/login?next=%2F');
    });

    it('should get 401 from the API', async () => {
      expect((await new Browser(app).request('GET', '/api/suggestions')).statusCode).toBe(401);
    });

    it('should not decide anything, even with a valid CSRF token', async () => {
      const sut = new Browser(app);
      const page = await sut.request('GET', '/login');
      const response = await sut.request('POST', '/suggestions/decide', {
        _csrf: Browser.csrfOf(page),
        decision: `approve:${suggestionIds[0]}`,
      });
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toMatch(/^\/login/);
    });

    it('should answer /healthz', async () => {
      expect((await new Browser(app).request('GET', '/healthz')).json()).toEqual({ status: 'ok' });
    });
  });

  describe('sign-in', () => {
    it('should refuse a wrong password', async () => {
      const response = await new Browser(app).signIn('mod', 'wrong');
      expect(response.statusCode).toBe(401);
      expect(response.body).toContain('Wrong name or password');
    });

    it('should refuse a sign-in without the CSRF token', async () => {
      const response = await new Browser(app).request('POST', '/login', { name: 'mod', password: 'mod-password' });
      expect(response.statusCode).toBe(403);
    });

    it('should give a new session id on each sign-in and end it on sign-out', async () => {
      const sut = new Browser(app);
      const first = await sut.signIn('mod', 'mod-password');
      expect(first.statusCode).toBe(303);
      const firstId = first.cookies.find((c) => c.name === 'bt_session')?.value;
      const second = await sut.signIn('mod', 'mod-password');
      const secondId = second.cookies.find((c) => c.name === 'bt_session')?.value;
      expect(firstId).toBeTruthy();
      expect(secondId).not.toBe(firstId);
      const page = await sut.request('GET', '/');
      expect(page.statusCode).toBe(200);
      await sut.request('POST', '/logout', { _csrf: Browser.csrfOf(page) });
      expect((await sut.request('GET', '/')).statusCode).toBe(303);
    });
  });

  describe('pending list', () => {
    it('should escape booru-supplied strings', async () => {
      const sut = new Browser(app);
      await sut.signIn('view', 'view-password');
      const page = await sut.request('GET', '/');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page.body).not.toContain('<script>alert(1)');
      expect(page.body).not.toContain('<b>bold</b>');
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    });
  });

  describe('decisions', () => {
    it('should forbid a viewer', async () => {
      const sut = new Browser(app);
      await sut.signIn('view', 'view-password');
      const page = await sut.request('GET', '/');
      expect(page.body).not.toContain('Approve');
      const response = await sut.request('POST', '/suggestions/decide', {
        _csrf: Browser.csrfOf(page),
        decision: `approve:${suggestionIds[0]}`,
      });
      expect(response.statusCode).toBe(403);
    });

    it('should refuse a moderator without the CSRF token', async () => {
      const sut = new Browser(app);
      await sut.signIn('mod', 'mod-password');
      const response = await sut.request('POST', '/suggestions/decide', { decision: `approve:${suggestionIds[0]}` });
      expect(response.statusCode).toBe(403);
    });

    it('should record a moderator approval and a bulk rejection with the audit trail', async () => {
      const sut = new Browser(app);
      await sut.signIn('mod', 'mod-password');
      let page = await sut.request('GET', '/');
      const [first, second] = suggestionIds as [number, number];
      const approved = await sut.request('POST', '/suggestions/decide', {
        _csrf: Browser.csrfOf(page),
        decision: `approve:${first}`,
      });
      expect(approved.statusCode).toBe(303);
      expect(new URL(approved.headers.location as string, 'http://x').searchParams.get('done')).toContain('Approved 1');
      page = await sut.request('GET', '/');
      await sut.request('POST', '/suggestions/decide', {
        _csrf: Browser.csrfOf(page),
        decision: 'reject:selected',
        ids: [String(second)],
      });
      const { prisma } = database();
      const rows = await prisma.suggestion.findMany({ orderBy: { id: 'asc' }, include: { decidedBy: true } });
      expect(rows.map((r) => [r.id, r.status, r.decidedBy?.name])).toEqual(
        [
          [first, 'approved', 'mod'],
          [second, 'rejected', 'mod'],
        ].sort((a, b) => (a[0] as number) - (b[0] as number)),
      );
      const audit = await prisma.decision.findMany({ where: { suggestionId: { in: [first, second] } } });
      expect(audit.map((a) => [a.actor, a.action]).sort()).toEqual([
        ['mod', 'approve'],
        ['mod', 'reject'],
      ]);
    });
  });
});

describe('hashPassword', () => {
  it('should salt every hash and verify only the right password', async () => {
    const [a, b] = await Promise.all([hashPassword('secret'), hashPassword('secret')]);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('secret', a)).toBe(true);
    expect(await verifyPassword('Secret', a)).toBe(false);
  });
});
