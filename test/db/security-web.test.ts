/**
 * Attacks on the dashboard, on a real database: CSRF on every state-changing route (enumerated from the registered
 * routes, so a new route cannot be forgotten), session fixation and rotation, login throttling, slow salted password
 * hashes, hashed session ids and API tokens, secrets kept out of logs and error pages, and request size limits.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/dashboard/app.js';
import { hashPassword, verifyPassword } from '../../src/dashboard/auth.js';
import { addressKey, LoginThrottle } from '../../src/dashboard/login-throttle.js';
import { LoginAttemptRepository } from '../../src/db/login-attempt.repository.js';
import { createLogger } from '../../src/shared/logger.js';
import {
  buildSecurityDashboard,
  Client,
  HOSTILE_PASSWORD,
  HOSTILE_USER,
  PASSWORDS,
  seedHostileData,
} from '../helpers/security-fixtures.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Captures every log line the app writes, at the most verbose level. */
function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ level: 'trace', destination }), text: () => lines.join('') };
}

describe('Dashboard security', () => {
  const database = useTestDatabase();
  let app: FastifyInstance;
  let suggestionIds: number[];
  const logs = capturingLogger();

  beforeAll(async () => {
    ({ suggestionIds } = await seedHostileData(database().prisma));
    app = await buildSecurityDashboard(database().prisma, logs.logger, { loginMaxFailures: 3 });
  });

  afterAll(async () => {
    await app?.close();
  });

  /** What a successful forged write would change. */
  const stateOf = async () => {
    const { prisma } = database();
    return {
      suggestions: await prisma.suggestion.findMany({ select: { id: true, status: true }, orderBy: { id: 'asc' } }),
      tokens: await prisma.apiToken.count(),
      audit: await prisma.decision.count(),
      sessions: await prisma.session.count(),
    };
  };

  describe('CSRF', () => {
    const writes = () => app.dashboardRoutes.filter((r) => r.method !== 'GET' && r.method !== 'OPTIONS');
    const urlOf = (url: string) => url.replace(/:(\w+)/g, '1');

    it('should register state-changing routes for the enumeration to check', () => {
      const routes = writes().map((r) => `${r.method} ${r.url}`);
      for (const route of ['POST /login', 'POST /logout', 'POST /suggestions/decide', 'POST /account/tokens']) {
        expect(routes).toContain(route);
      }
    });

    it('should refuse every state-changing route to a signed-in admin without a valid CSRF token', async () => {
      const sut = new Client(app);
      await sut.signIn('admin', PASSWORDS.admin);
      const before = await stateOf();
      const form = {
        decision: `approve:${suggestionIds[0]}`,
        ids: suggestionIds.map(String),
        name: 'forged',
        id: '1',
        enabled: 'true',
        password: 'x',
      };
      const checked: string[] = [];
      for (const { method, url } of writes()) {
        const target = urlOf(url);
        const attempts = [
          await sut.request(method, target, form),
          await sut.request(method, target, { ...form, _csrf: 'forged-token' }),
          await sut.request(method, target, undefined, { ids: suggestionIds }),
          await sut.request(method, target, undefined, { ids: suggestionIds }, { 'x-csrf-token': 'forged-token' }),
        ];
        for (const response of attempts) {
          expect([401, 403], `${method} ${url} answered ${response.statusCode}`).toContain(response.statusCode);
        }
        checked.push(`${method} ${url}`);
      }
      expect(checked.length).toBeGreaterThanOrEqual(4);
      // Still signed in: the refused logout did not end the session, and nothing else changed.
      expect((await sut.request('GET', '/account')).statusCode).toBe(200);
      expect(await stateOf()).toEqual(before);
    });

    it("should refuse a CSRF token taken from another browser's page", async () => {
      const attacker = new Client(app);
      await attacker.request('GET', '/login');
      const victim = new Client(app);
      await victim.signIn('admin', PASSWORDS.admin);
      const before = await stateOf();
      const forged = await victim.request('POST', '/suggestions/decide', {
        _csrf: attacker.csrf,
        decision: `approve:${suggestionIds[0]}`,
      });
      expect(forged.statusCode).toBe(403);
      expect(await stateOf()).toEqual(before);
    });

    it('should replace the CSRF secret at sign-in, so a token fixed before it is refused after', async () => {
      const attacker = new Client(app);
      await attacker.request('GET', '/login');
      const victim = new Client(app);
      victim.cookies.set('_csrf', attacker.cookies.get('_csrf')!); // planted (e.g. from a sibling subdomain)
      await victim.signIn('admin', PASSWORDS.admin);
      expect(victim.cookies.get('_csrf')).not.toBe(attacker.cookies.get('_csrf'));
      const before = await stateOf();
      const forged = await victim.request('POST', '/suggestions/decide', {
        _csrf: attacker.csrf,
        decision: `approve:${suggestionIds[0]}`,
      });
      expect(forged.statusCode).toBe(403);
      expect(await stateOf()).toEqual(before);
      // The victim's own fresh token works.
      expect((await victim.request('POST', '/logout', { _csrf: victim.csrf })).statusCode).toBe(303);
    });

    it('should keep the CSRF cookie signed, HttpOnly and SameSite=Strict', async () => {
      const response = await new Client(app).request('GET', '/login');
      const cookie = (
        response.cookies as { name: string; httpOnly?: boolean; sameSite?: string; value: string }[]
      ).find((c) => c.name === '_csrf');
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      expect(cookie!.value).toMatch(/\.[\w+/=-]+$/); // value.signature
    });
  });

  describe('sessions', () => {
    it('should issue a fresh session id at sign-in and ignore one planted before (fixation)', async () => {
      const sut = new Client(app);
      sut.cookies.set(SESSION_COOKIE, 'attacker-chosen-session-id');
      await sut.signIn('moderator', PASSWORDS.moderator);
      const issued = sut.cookies.get(SESSION_COOKIE)!;
      expect(issued).not.toBe('attacker-chosen-session-id');
      expect(issued.length).toBeGreaterThanOrEqual(43); // 32 random bytes, base64url
      const planted = new Client(app);
      planted.cookies.set(SESSION_COOKIE, 'attacker-chosen-session-id');
      expect((await planted.request('GET', '/')).statusCode).toBe(303);
    });

    it("should end a valid session the browser came with when someone else signs in (an attacker's own session)", async () => {
      const attacker = new Client(app);
      await attacker.signIn('viewer', PASSWORDS.viewer);
      const plantedSession = attacker.cookies.get(SESSION_COOKIE)!;
      const victim = new Client(app);
      victim.cookies.set(SESSION_COOKIE, plantedSession);
      await victim.signIn('admin', PASSWORDS.admin);
      expect(victim.cookies.get(SESSION_COOKIE)).not.toBe(plantedSession);
      expect((await victim.request('GET', '/api/me')).json()).toMatchObject({ name: 'admin' });
      // The attacker's cookie no longer opens anything (not even the attacker's own account).
      expect((await attacker.request('GET', '/api/me')).statusCode).toBe(401);
    });

    it('should end the session at sign-out: the old cookie is dead even if replayed', async () => {
      const sut = new Client(app);
      await sut.signIn('moderator', PASSWORDS.moderator);
      const cookie = sut.cookies.get(SESSION_COOKIE)!;
      const out = await sut.request('POST', '/logout', { _csrf: sut.csrf });
      expect(out.statusCode).toBe(303);
      expect(sut.cookies.has(SESSION_COOKIE)).toBe(false);
      const replay = new Client(app);
      replay.cookies.set(SESSION_COOKIE, cookie);
      expect((await replay.request('GET', '/api/me')).statusCode).toBe(401);
      expect(await database().prisma.session.count({ where: { id: sha256(cookie) } })).toBe(0);
    });

    it('should set the session cookie HttpOnly, SameSite=Lax, path /, with a bounded lifetime', async () => {
      const sut = new Client(app);
      await sut.request('GET', '/login');
      const response = await sut.request('POST', '/login', {
        _csrf: sut.csrf,
        name: 'viewer',
        password: PASSWORDS.viewer,
      });
      const cookie = (
        response.cookies as { name: string; httpOnly?: boolean; sameSite?: string; path?: string; maxAge?: number }[]
      ).find((c) => c.name === SESSION_COOKIE);
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
      expect(cookie!.maxAge).toBeGreaterThan(0);
      expect(cookie!.maxAge).toBeLessThanOrEqual(12 * 3600);
    });

    it('should store only the sha256 of session ids and API tokens, never the secrets', async () => {
      const sut = new Client(app);
      await sut.signIn('moderator', PASSWORDS.moderator);
      const cookie = sut.cookies.get(SESSION_COOKIE)!;
      const created = await sut.request('POST', '/account/tokens', { _csrf: sut.csrf, name: 'bot' });
      const token = /data-token>(btk_[\w-]+)</.exec(created.body)?.[1];
      expect(token).toBeTruthy();
      const { prisma } = database();
      const sessions = await prisma.session.findMany();
      const tokens = await prisma.apiToken.findMany();
      expect(sessions.map((s) => s.id)).toContain(sha256(cookie));
      expect(tokens.map((t) => t.tokenHash)).toContain(sha256(token!));
      const stored = JSON.stringify([sessions, tokens, await prisma.user.findMany(), await prisma.decision.findMany()]);
      expect(stored).not.toContain(cookie);
      expect(stored).not.toContain(token);
      expect(stored).not.toContain(token!.slice(4));
      // The token page shows it once; the next visit does not.
      expect((await sut.request('GET', '/account')).body).not.toContain(token);
    });
  });

  describe('passwords', () => {
    it('should hash with scrypt (N=2^15, r=8, p=1), a random 16-byte salt, and no trace of the password', async () => {
      const started = performance.now();
      const [a, b] = [await hashPassword('correct horse'), await hashPassword('correct horse')];
      const perHashMs = (performance.now() - started) / 2;
      expect(a).not.toBe(b); // salted
      for (const hash of [a, b]) {
        const [scheme, n, r, p, salt, key] = hash.split('$');
        expect([scheme, n, r, p]).toEqual(['scrypt', '32768', '8', '1']);
        expect(Buffer.from(salt!, 'base64url')).toHaveLength(16);
        expect(Buffer.from(key!, 'base64url')).toHaveLength(32);
        expect(hash).not.toContain('correct horse');
        expect(await verifyPassword('correct horse', hash)).toBe(true);
        expect(await verifyPassword('correct horsf', hash)).toBe(false);
      }
      // Slow on purpose: ~50 ms and 32 MiB a guess (a generous floor, whatever the machine's load).
      expect(perHashMs).toBeGreaterThan(5);
      const stored = await database().prisma.user.findMany();
      for (const user of stored) expect(user.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    });
  });

  describe('login throttling', () => {
    it('should refuse sign-ins after too many failures for one name, even with the right password', async () => {
      const sut = new Client(app);
      for (let i = 0; i < 3; i++) expect((await sut.signIn(HOSTILE_USER, 'wrong')).statusCode).toBe(401);
      const throttled = await sut.signIn(HOSTILE_USER, HOSTILE_PASSWORD);
      expect(throttled.statusCode).toBe(429);
      expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('should throttle one address spraying many names, and forget attempts after the window', async () => {
      let now = Date.parse('2026-12-07T00:00:00Z');
      const sut = new LoginThrottle(new LoginAttemptRepository(database().prisma), {
        maxAttempts: 3,
        windowMs: 60_000,
        now: () => now,
      });
      for (let i = 0; i < 12; i++) expect(await sut.reserve(`spray-${i}`, '203.0.113.9')).toBe(0);
      expect(await sut.reserve('fresh-name', '203.0.113.9')).toBeGreaterThan(0);
      expect(await sut.reserve('fresh-name-2', '198.51.100.1')).toBe(0);
      now += 60_001;
      expect(await sut.reserve('fresh-name-3', '203.0.113.9')).toBe(0);
    });

    it('should count an IPv6 client per /64, so rotating through its own block evades nothing', async () => {
      const sut = new LoginThrottle(new LoginAttemptRepository(database().prisma), {
        maxAttempts: 3,
        windowMs: 15 * 60_000,
      });
      const answers: number[] = [];
      // 13 names from 13 addresses of one /64 (and its IPv4-mapped neighbour counted apart).
      for (let i = 0; i < 13; i++)
        answers.push(await sut.reserve(`v6-${i}`, `2001:db8:7:9:${(i + 1).toString(16)}::1`));
      expect(answers.slice(0, 12)).toEqual(new Array(12).fill(0));
      expect(answers[12]).toBeGreaterThan(0);
      expect(await sut.reserve('v6-other', '2001:db8:7:a::1')).toBe(0);
      expect(addressKey('2001:DB8:7:9:ffff::1')).toBe('ip:2001:db8:7:9::/64');
      expect(addressKey('::ffff:192.0.2.7')).toBe('ip:192.0.2.7');
      expect(addressKey('192.0.2.7')).toBe('ip:192.0.2.7');
      expect(addressKey('fe80::1%eth0')).toBe('ip:fe80:0:0:0::/64');
    });
  });

  describe('secrets', () => {
    it('should keep passwords, session cookies and API tokens out of logs and error pages', async () => {
      const secretPassword = 'Pa55-w0rd-NEVER-LOGGED';
      const sut = new Client(app);
      const bodies: string[] = [];
      bodies.push((await sut.signIn('admin', secretPassword)).body);
      bodies.push((await sut.signIn('admin', PASSWORDS.admin)).body);
      const cookie = sut.cookies.get(SESSION_COOKIE)!;
      const created = await sut.request('POST', '/account/tokens', { _csrf: sut.csrf, name: 'log-probe' });
      const token = /data-token>(btk_[\w-]+)</.exec(created.body)![1]!;
      const bot = new Client(app, token);
      bodies.push((await bot.request('GET', '/api/me')).body);
      // Error pages: malformed JSON, an unknown route, an unknown post, a forged token, a bad CSRF token.
      bodies.push(
        (
          await app.inject({
            method: 'POST',
            url: '/api/suggestions/approve',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            payload: `{"ids": [1], "password": "${secretPassword}"`,
          })
        ).body,
      );
      bodies.push((await sut.request('GET', `/nowhere?password=${secretPassword}`)).body);
      bodies.push((await sut.request('GET', '/posts/999999')).body);
      bodies.push((await new Client(app, `${token}x`).request('GET', '/api/me')).body);
      bodies.push((await sut.request('POST', '/suggestions/decide', { _csrf: 'bad', password: secretPassword })).body);
      const logText = logs.text();
      expect(logText.length).toBeGreaterThan(0);
      for (const secret of [secretPassword, PASSWORDS.admin, cookie, token, token.slice(4)]) {
        expect(logText, 'logs').not.toContain(secret);
        for (const body of bodies) expect(body, 'error page').not.toContain(secret);
      }
    });

    it('should redact secrets by key wherever a log line carries them', () => {
      const { logger, text } = capturingLogger();
      logger.info(
        {
          password: 'p1-secret',
          apiKey: 'k1-secret',
          booruApiKey: 'k2-secret',
          api_key: 'k3-secret',
          password_hash: 'k4-secret',
          token: 'btk_t1-secret',
          config: { booruApiKey: 'k5-secret', password: 'p2-secret' },
          headers: { authorization: 'Basic a1-secret', cookie: 'bt_session=c1-secret' },
          req: { headers: { authorization: 'Bearer btk_a2-secret', cookie: 'bt_session=c2-secret' } },
          res: { headers: { 'set-cookie': 'bt_session=c3-secret' } },
        },
        'probe',
      );
      expect(text()).toContain('probe');
      expect(text()).not.toMatch(/-secret/);
    });
  });

  describe('size limits', () => {
    it('should refuse a form body over 256 KiB and a JSON body over 1 MiB with 413', async () => {
      const sut = new Client(app);
      await sut.request('GET', '/login');
      const bigForm = await sut.request('POST', '/login', {
        _csrf: sut.csrf,
        name: 'admin',
        password: 'x'.repeat(300 * 1024),
      });
      expect(bigForm.statusCode).toBe(413);
      const bigJson = await app.inject({
        method: 'POST',
        url: '/api/suggestions/approve',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ ids: [1], pad: 'x'.repeat(1024 * 1024 + 1) }),
      });
      expect(bigJson.statusCode).toBe(413);
    });

    it('should cut long names and bound the queue filters', async () => {
      const sut = new Client(app);
      await sut.request('GET', '/login');
      // A 100,000-character name is cut to 100 before it reaches the throttle or the database.
      const response = await sut.request('POST', '/login', {
        _csrf: sut.csrf,
        name: 'n'.repeat(100_000),
        password: 'x',
      });
      expect(response.statusCode).toBe(401);
    });
  });
});

describe('Dashboard security (quiet logger)', () => {
  const database = useTestDatabase();

  it('should answer an internal error with a request id only, never its message (which may quote secrets)', async () => {
    await seedHostileData(database().prisma);
    const { logger, text } = capturingLogger();
    const app = await buildSecurityDashboard(database().prisma, logger);
    app.get('/boom', async () => {
      throw new Error('Invalid `prisma.session.findFirst()` invocation: { id: "db-quoted-SECRET-value" }');
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/boom' });
      expect(response.statusCode).toBe(500);
      expect(response.body).not.toContain('SECRET');
      expect(response.json()).toMatchObject({ message: expect.stringMatching(/^internal error \(request req-\w+\)$/) });
      expect(text()).toContain('db-quoted-SECRET-value'); // the operator's log keeps the details
      // Client errors keep Fastify's own answer.
      const csrf = await app.inject({ method: 'POST', url: '/logout', payload: {} });
      expect(csrf.statusCode).toBe(403);
      expect(csrf.json()).toMatchObject({ code: 'FST_CSRF_MISSING_SECRET', message: 'Missing csrf secret' });
    } finally {
      await app.close();
    }
  });

  it('should answer a request with an over-long route parameter with 414 or 404, not a crash', async () => {
    const app = await buildSecurityDashboard(database().prisma, silentLogger);
    try {
      const sut = new Client(app);
      await sut.signIn('viewer', PASSWORDS.viewer);
      const response = await sut.request('GET', `/posts/${'9'.repeat(10_000)}`);
      expect([404, 414]).toContain(response.statusCode);
    } finally {
      await app.close();
    }
  });
});
