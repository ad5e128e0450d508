import type { FastifyInstance } from 'fastify';
import { SESSION_COOKIE } from '../access.js';
import type { RouteContext } from '../route-context.js';
import { hashSecret, newSecret, verifyPassword } from '../auth.js';
import { safeBack } from '../filters.js';
import { html } from '../views/html.js';
import { layout } from '../views/layout.js';

function loginPage(csrfToken: string, next: string, error: string | null): string {
  return layout({
    title: 'Sign in',
    body: html`<h1>Sign in</h1>
      ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
      <form method="post" action="/login">
        <input type="hidden" name="_csrf" value="${csrfToken}">
        <input type="hidden" name="next" value="${next}">
        <p><label>User name <input name="name" autocomplete="username" required autofocus></label></p>
        <p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
        <p><button type="submit">Sign in</button></p>
      </form>`,
  });
}

export function registerAuthRoutes(app: FastifyInstance, context: RouteContext): void {
  const { users, audit } = context.deps;

  app.get('/login', async (request, reply) => {
    const next = safeBack((request.query as { next?: string }).next);
    return reply.type('text/html').send(loginPage(reply.generateCsrf(), next, null));
  });

  app.post('/login', { preHandler: app.csrfProtection }, async (request, reply) => {
    const body = (request.body ?? {}) as { name?: string; password?: string; next?: string };
    const name = typeof body.name === 'string' ? body.name.slice(0, 100) : '';
    // Counted before the slow hash: parallel guesses each take one of the window's attempts, or are refused here.
    const wait = await context.throttle.reserve(name, request.ip);
    if (wait > 0) {
      const minutes = Math.ceil(wait / 60_000);
      reply.code(429).header('retry-after', String(Math.ceil(wait / 1000)));
      return reply
        .type('text/html')
        .send(
          loginPage(
            reply.generateCsrf(),
            safeBack(body.next),
            `Too many failed sign-ins. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
          ),
        );
    }
    const user = name ? await users.findByName(name) : null;
    // Verify even for an unknown name (against a fixed dummy), so timing does not reveal which names exist.
    const ok = await verifyPassword(body.password ?? '', user?.passwordHash ?? DUMMY_HASH);
    if (!ok || !user || user.disabledAt) {
      reply.code(401);
      return reply
        .type('text/html')
        .send(loginPage(reply.generateCsrf(), safeBack(body.next), 'Wrong name or password.'));
    }
    await context.throttle.succeeded(name, request.ip);
    // A fresh session id on every sign-in (no fixation), dropping any session the browser came with.
    if (request.user?.sessionId) await users.deleteSession(request.user.sessionId);
    const secret = newSecret();
    await users.createSession({
      id: hashSecret(secret),
      userId: user.id,
      csrfToken: newSecret(16),
      expiresAt: new Date(Date.now() + context.sessionMs),
    });
    await audit.record({ userId: user.id, actor: user.name, action: 'login', origin: `web ${request.ip}` });
    // A new CSRF secret too: one planted before sign-in (with a token the planter knows) must not outlive it.
    reply.clearCookie('_csrf', { path: '/' });
    reply.setCookie(SESSION_COOKIE, secret, {
      httpOnly: true,
      sameSite: 'lax',
      secure: context.secureCookies,
      path: '/',
      maxAge: Math.floor(context.sessionMs / 1000),
    });
    return reply.redirect(safeBack(body.next), 303);
  });

  app.post('/logout', { preHandler: app.csrfProtection }, async (request, reply) => {
    if (request.user?.sessionId) await users.deleteSession(request.user.sessionId);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });
}

/** A valid scrypt hash of a random password nobody knows (same cost as real ones). */
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
