/**
 * Abuse of the dashboard's sign-in and web surface (issue 16), on a real database: the open redirect after sign-in,
 * parallel password guesses against the throttle, replicas sharing the throttle and the CSRF key, client addresses
 * behind a trusted proxy, token expiry and revocation, client addresses in the audit log, cookie flags, the CSP's
 * image hosts, and what a 5xx of /evaluate and the upload page says.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imageHostsOf } from '../../src/bin/context.js';
import { evaluateDepsOf } from '../../src/bin/evaluate-deps.js';
import { loadConfig } from '../../src/config/config.js';
import { buildDashboard, type DashboardDeps, type DashboardOptions } from '../../src/dashboard/app.js';
import { hashSecret } from '../../src/dashboard/auth.js';
import { LoginThrottle } from '../../src/dashboard/login-throttle.js';
import { ApiTokenRepository } from '../../src/db/api-token.repository.js';
import { AppSecretRepository } from '../../src/db/app-secret.repository.js';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { PrismaClient } from '../../src/db/generated/client.js';
import { LoginAttemptRepository } from '../../src/db/login-attempt.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { makeSolidPng } from '../helpers/images.js';
import { buildSecurityDashboard, Client, PASSWORDS, seedHostileData } from '../helpers/security-fixtures.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { dashboardRepos } from '../helpers/seed.js';

/** Signs in as a browser behind a proxy would: every request carries `X-Forwarded-For: from`. */
async function signInFrom(client: Client, from: string | null, name: string, password: string, next = '/') {
  const headers: Record<string, string> = from ? { 'x-forwarded-for': from } : {};
  await client.request('GET', '/login', undefined, undefined, headers);
  return client.request('POST', '/login', { _csrf: client.csrf, name, password, next }, undefined, headers);
}

/** How many responses answered each status. */
function statuses(responses: LightMyRequestResponse[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { statusCode } of responses) counts[statusCode] = (counts[statusCode] ?? 0) + 1;
  return counts;
}

describe('Dashboard abuse', () => {
  const database = useTestDatabase();
  const apps: FastifyInstance[] = [];
  /** A second "replica": its own Prisma client and pool on the same database. */
  let replicaPrisma: PrismaClient;

  const build = async (options: DashboardOptions = {}, prisma = database().prisma) => {
    const app = await buildSecurityDashboard(prisma, silentLogger, { loginMaxFailures: 3, ...options });
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    await seedHostileData(database().prisma);
    replicaPrisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: database().url }) });
  });

  // Every test starts with no counted attempts (they share 127.0.0.1 and the seeded names).
  beforeEach(async () => {
    await database().prisma.loginAttempt.deleteMany();
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await replicaPrisma?.$disconnect();
  });

  describe('open redirect after sign-in', () => {
    it('should send the browser home, not to another site, for a next of /<tab>/evil.com and its relatives', async () => {
      const app = await build();
      for (const next of ['/\t/evil.com', '/\\evil.com', '/.//evil.com', '//evil.com', '/\n/evil.com']) {
        const page = await app.inject({ method: 'GET', url: `/login?next=${encodeURIComponent(next)}` });
        expect(page.body, JSON.stringify(next)).toContain('name="next" value="/"');
        const sut = new Client(app);
        const response = await signInFrom(sut, null, 'viewer', PASSWORDS.viewer, next);
        expect(response.statusCode).toBe(303);
        expect(response.headers.location, JSON.stringify(next)).toBe('/');
      }
      const sut = new Client(app);
      const kept = await signInFrom(sut, null, 'viewer', PASSWORDS.viewer, '/queue?tag=cat_ears');
      expect(kept.headers.location).toBe('/queue?tag=cat_ears');
    });
  });

  describe('login throttle', () => {
    it('should check only the allowed number of parallel wrong guesses for one name, refusing the rest', async () => {
      const app = await build();
      const sut = new Client(app);
      await sut.request('GET', '/login');
      const guesses = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          sut.request('POST', '/login', { _csrf: sut.csrf, name: 'moderator', password: `guess-${i}`, next: '/' }),
        ),
      );
      // 3 allowed per name: three passwords were checked (401), seven refused unchecked (429).
      expect(statuses(guesses)).toEqual({ 401: 3, 429: 7 });
      // The right password is refused too until the window passes.
      expect((await signInFrom(new Client(app), null, 'moderator', PASSWORDS.moderator)).statusCode).toBe(429);
    });

    it('should not count attempts the address limit refused against the names, so one address cannot lock out all', async () => {
      const sut = new LoginThrottle(new LoginAttemptRepository(database().prisma), {
        maxAttempts: 3,
        windowMs: 15 * 60_000,
      });
      // 12 per address: spent on 12 names, then the victim's name is hammered from the same address.
      for (let i = 0; i < 12; i++) expect(await sut.reserve(`spray-${i}`, '192.0.2.1')).toBe(0);
      for (let i = 0; i < 10; i++) expect(await sut.reserve('victim', '192.0.2.1')).toBeGreaterThan(0);
      expect(await sut.reserve('victim', '192.0.2.2')).toBe(0);
      const row = await database().prisma.loginAttempt.findUnique({ where: { key: 'name:victim' } });
      expect(row?.attempts).toBe(1);
    });

    it('should throttle as one across two dashboard processes on one database', async () => {
      const [a, b] = [await build(), await build({}, replicaPrisma)];
      for (let i = 0; i < 3; i++) {
        expect((await signInFrom(new Client(i % 2 ? a! : b!), null, 'admin', `wrong-${i}`)).statusCode).toBe(401);
      }
      const refused = await signInFrom(new Client(b!), null, 'admin', PASSWORDS.admin);
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await signInFrom(new Client(a!), null, 'admin', PASSWORDS.admin)).statusCode).toBe(429);
      const row = await database().prisma.loginAttempt.findUnique({ where: { key: 'name:admin' } });
      expect(row?.attempts).toBe(5);
    });

    it('should accept a CSRF token issued by another process (one stored cookie key)', async () => {
      const [a, b] = [await build(), await build({}, replicaPrisma)];
      const sut = new Client(a!);
      await sut.request('GET', '/login');
      // The form came from process A; the post lands on process B (a load balancer, or a restart in between).
      const other = new Client(b!);
      for (const [k, v] of sut.cookies) other.cookies.set(k, v);
      const response = await other.request('POST', '/login', {
        _csrf: sut.csrf,
        name: 'viewer',
        password: PASSWORDS.viewer,
        next: '/',
      });
      expect(response.statusCode).toBe(303);
      expect(await database().prisma.appSecret.count()).toBe(1);
    });
  });

  describe('client address behind a proxy', () => {
    it('should throttle each forwarded client apart when the proxy is trusted', async () => {
      // Per address: 4 × 3 = 12 attempts.
      const app = await build({ trustProxy: ['127.0.0.1'] });
      for (let i = 0; i < 12; i++) {
        expect((await signInFrom(new Client(app), '203.0.113.1', `spray-${i}`, 'x')).statusCode).toBe(401);
      }
      expect((await signInFrom(new Client(app), '203.0.113.1', 'viewer', PASSWORDS.viewer)).statusCode).toBe(429);
      // Another client behind the same proxy is not locked out with the sprayer.
      expect((await signInFrom(new Client(app), '203.0.113.2', 'viewer', PASSWORDS.viewer)).statusCode).toBe(303);
      const login = await database().prisma.decision.findFirst({ where: { action: 'login' }, orderBy: { id: 'desc' } });
      expect(login?.origin).toBe('web 203.0.113.2');
    });

    it('should ignore X-Forwarded-For unless a proxy is trusted, so a client cannot pick its own address', async () => {
      const app = await build();
      for (let i = 0; i < 12; i++) {
        expect((await signInFrom(new Client(app), `198.51.100.${i}`, `rotate-${i}`, 'x')).statusCode).toBe(401);
      }
      expect((await signInFrom(new Client(app), '198.51.100.99', 'viewer', PASSWORDS.viewer)).statusCode).toBe(429);
    });

    it('should believe only as many hops as configured', async () => {
      const app = await build({ trustProxy: 1 });
      const seen = await app.inject({
        method: 'GET',
        url: '/login',
        headers: { 'x-forwarded-for': '192.0.2.66, 203.0.113.8' },
      });
      expect(seen.statusCode).toBe(200);
      for (let i = 0; i < 12; i++) {
        const from = `192.0.2.${i}, 203.0.113.8`; // the client's own claim, then what the one proxy saw
        expect((await signInFrom(new Client(app), from, `hop-${i}`, 'x')).statusCode).toBe(401);
      }
      expect(
        (await signInFrom(new Client(app), '192.0.2.200, 203.0.113.8', 'viewer', PASSWORDS.viewer)).statusCode,
      ).toBe(429);
    });

    it('should read TAGGER_TRUST_PROXY as off, a hop count, or addresses and CIDRs, and refuse anything else', () => {
      expect(loadConfig({}).trustProxy).toBe(false);
      expect(loadConfig({ TAGGER_TRUST_PROXY: '2' }).trustProxy).toBe(2);
      expect(loadConfig({ TAGGER_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,fd00::/8' }).trustProxy).toEqual([
        '127.0.0.1',
        '10.0.0.0/8',
        'fd00::/8',
      ]);
      expect(() => loadConfig({ TAGGER_TRUST_PROXY: 'proxy.local' })).toThrow(/TAGGER_TRUST_PROXY/);
      expect(() => loadConfig({ TAGGER_TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TAGGER_TRUST_PROXY/);
    });
  });

  describe('API tokens', () => {
    const mint = async (app: FastifyInstance, name: 'viewer' | 'moderator') => {
      const sut = new Client(app);
      await signInFrom(sut, null, name, PASSWORDS[name]);
      await sut.request('GET', '/account');
      const page = await sut.request('POST', '/account/tokens', { _csrf: sut.csrf, name: 'bot' });
      return /data-token>(btk_[^<]+)</.exec(page.body)![1]!;
    };
    const asBearer = (app: FastifyInstance, token: string) =>
      app.inject({ method: 'GET', url: '/api/status', headers: { authorization: `Bearer ${token}` } });

    it('should give a new token the configured lifetime and refuse it once expired', async () => {
      const app = await build({ tokenDays: 7 });
      const token = await mint(app, 'viewer');
      const row = await database().prisma.apiToken.findUnique({ where: { tokenHash: hashSecret(token) } });
      const days = (row!.expiresAt!.getTime() - row!.createdAt.getTime()) / 86_400_000;
      expect(days).toBeGreaterThan(6.99);
      expect(days).toBeLessThan(7.01);
      expect((await asBearer(app, token)).statusCode).toBe(200);
      await database().prisma.apiToken.update({
        where: { id: row!.id },
        data: { expiresAt: new Date(Date.now() - 1) },
      });
      expect((await asBearer(app, token)).statusCode).toBe(401);
    });

    it("should revoke a user's tokens when the password changes", async () => {
      const app = await build();
      const token = await mint(app, 'moderator');
      expect((await asBearer(app, token)).statusCode).toBe(200);
      const users = new UserRepository(database().prisma);
      const user = (await users.findByName('moderator'))!;
      await users.setPassword(user.id, user.passwordHash);
      expect((await asBearer(app, token)).statusCode).toBe(401);
      const row = await database().prisma.apiToken.findUnique({ where: { tokenHash: hashSecret(token) } });
      expect(row?.revokedAt).not.toBeNull();
    });
  });

  describe('audit log', () => {
    it('should show sign-in addresses to admins only', async () => {
      const app = await build({ trustProxy: ['127.0.0.1'] });
      await signInFrom(new Client(app), '203.0.113.77', 'admin', PASSWORDS.admin);
      const viewer = new Client(app);
      await signInFrom(viewer, '203.0.113.78', 'viewer', PASSWORDS.viewer);
      const admin = new Client(app);
      await signInFrom(admin, '203.0.113.79', 'admin', PASSWORDS.admin);
      for (const url of ['/audit?action=login', '/api/audit?action=login']) {
        const seenByViewer = await viewer.request('GET', url);
        expect(seenByViewer.statusCode).toBe(200);
        expect(seenByViewer.body).not.toMatch(/203\.0\.113\.\d+/);
        const seenByAdmin = await admin.request('GET', url);
        expect(seenByAdmin.body).toContain('203.0.113.77');
      }
      const entries = (await viewer.request('GET', '/api/audit?action=login')).json().entries as { origin: string }[];
      expect(entries.length).toBeGreaterThanOrEqual(3);
      for (const entry of entries) expect(entry.origin).toBe('web');
    });
  });

  describe('cookies and CSP', () => {
    it('should mark the CSRF cookie Secure and ask browsers to upgrade only behind HTTPS', async () => {
      const secure = await (await build({ secureCookies: true })).inject({ method: 'GET', url: '/login' });
      const csrf = (secure.cookies as { name: string; secure?: boolean }[]).find((c) => c.name === '_csrf');
      expect(csrf?.secure).toBe(true);
      expect(String(secure.headers['content-security-policy'])).toContain('upgrade-insecure-requests');
      const plain = await (await build()).inject({ method: 'GET', url: '/login' });
      expect(String(plain.headers['content-security-policy'])).not.toContain('upgrade-insecure-requests');
    });

    it("should let pages load images from the boorus' media hosts only", async () => {
      const { prisma } = database();
      const config = loadConfig({ BOORU_URL: 'https://danbooru.donmai.us' });
      const hosts = await imageHostsOf(config, { boorus: new BooruRepository(prisma) });
      // The configured booru's site, and every stored booru's (the seeded http://dan.test).
      expect(hosts).toEqual(['danbooru.donmai.us:*', '*.donmai.us:*', 'dan.test:*', '*.dan.test:*']);
      expect(
        await imageHostsOf(loadConfig({ TAGGER_MEDIA_HOSTS: 'cdn.example.org' }), {
          boorus: new BooruRepository(prisma),
        }),
      ).toEqual(['cdn.example.org:*']);
      const page = await (await build({ imageHosts: hosts })).inject({ method: 'GET', url: '/login' });
      const imgSrc = /img-src ([^;]*)/.exec(String(page.headers['content-security-policy']))?.[1];
      expect(imgSrc).toBe("'self' data: danbooru.donmai.us:* *.donmai.us:* dan.test:* *.dan.test:*");
    });
  });

  describe('5xx answers of /evaluate and the upload page', () => {
    let modelDir: string;
    let app: FastifyInstance;
    let base: string;

    beforeAll(async () => {
      // A model folder whose model cannot load: the loader's message names the folder, a path the caller must not see.
      modelDir = await mkdtemp(join(tmpdir(), 'bt-secret-model-path-'));
      await writeFile(join(modelDir, 'model.onnx'), 'not an onnx model');
      await writeFile(join(modelDir, 'selected_tags.csv'), 'tag_id,name,category,count\n0,solo,0,1\n');
      const { prisma } = database();
      const config = loadConfig({ MODEL_DIR: modelDir, EVALUATE_OPEN: 'true', DEVICE: 'cpu' });
      const wiring = evaluateDepsOf(config, silentLogger, prisma, null);
      app = await buildDashboard({ ...depsOf(), evaluate: wiring.deps });
      apps.push(app);
      base = await app.listen({ host: '127.0.0.1', port: 0 });
    });

    const depsOf = (): DashboardDeps => {
      const { prisma } = database();
      return {
        users: new UserRepository(prisma),
        suggestions: new SuggestionRepository(prisma),
        ...dashboardRepos(prisma),
        apiTokens: new ApiTokenRepository(prisma),
        audit: new AuditRepository(prisma),
        loginAttempts: new LoginAttemptRepository(prisma),
        secrets: new AppSecretRepository(prisma),
        logger: silentLogger,
      };
    };

    afterAll(async () => {
      await rm(modelDir, { recursive: true, force: true });
    });

    const form = async () => {
      const body = new FormData();
      body.append('file', new Blob([new Uint8Array(await makeSolidPng(32, 32, [200, 10, 10]))]), 'red.png');
      return body;
    };

    it('should rate-limit /evaluate per forwarded client behind a trusted proxy (an IPv6 client per /64)', async () => {
      const { prisma } = database();
      const wiring = evaluateDepsOf(
        loadConfig({ MODEL_DIR: modelDir, EVALUATE_OPEN: 'true', DEVICE: 'cpu', TAGGER_EVALUATE_RATE: '1' }),
        silentLogger,
        prisma,
        null,
      );
      const limited = await buildDashboard({ ...depsOf(), evaluate: wiring.deps }, { trustProxy: ['127.0.0.1'] });
      apps.push(limited);
      const url = `${await limited.listen({ host: '127.0.0.1', port: 0 })}/evaluate`;
      const from = async (client: string) =>
        (await fetch(url, { method: 'POST', body: await form(), headers: { 'x-forwarded-for': client } })).status;
      // One request a minute each: the first is answered (500: the model cannot load), the next refused.
      expect(await from('203.0.113.10')).toBe(500);
      expect(await from('203.0.113.10')).toBe(429);
      expect(await from('203.0.113.11')).toBe(500);
      expect(await from('2001:db8:1:2::1')).toBe(500);
      expect(await from('2001:db8:1:2:ffff::9')).toBe(429);
    });

    it('should answer /evaluate with a request id, not the failure (which names a server path)', async () => {
      const response = await fetch(`${base}/evaluate`, { method: 'POST', body: await form() });
      const text = await response.text();
      expect(response.status).toBe(500);
      expect(text).not.toContain(modelDir);
      expect(text).not.toContain('bt-secret-model-path');
      expect(JSON.parse(text)).toMatchObject({
        error: 'InternalServerError',
        message: expect.stringMatching(/request/),
      });
    });

    it('should answer the upload page likewise', async () => {
      const sut = new Client(app);
      await signInFrom(sut, null, 'viewer', PASSWORDS.viewer);
      await sut.request('GET', '/upload');
      const response = await fetch(`${base}/upload`, {
        method: 'POST',
        body: await form(),
        headers: {
          cookie: [...sut.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
          'x-csrf-token': sut.csrf,
        },
      });
      const text = await response.text();
      expect(response.status).toBe(500);
      expect(text).not.toContain('bt-secret-model-path');
      expect(text).toMatch(/internal error \(request [^)]+\)/);
    });
  });
});
