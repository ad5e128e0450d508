import type { FastifyInstance } from 'fastify';
import { type RouteContext, SESSION_COOKIE } from '../app.js';
import { hashSecret, newSecret, verifyPassword } from '../auth.js';
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

/** Only same-site paths are followed after signing in. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function registerAuthRoutes(app: FastifyInstance, context: RouteContext): void {
  const { users } = context.deps;

  app.get('/login', async (request, reply) => {
    const next = safeNext((request.query as { next?: string }).next);
    return reply.type('text/html').send(loginPage(reply.generateCsrf(), next, null));
  });

  app.post('/login', { preHandler: app.csrfProtection }, async (request, reply) => {
    const body = (request.body ?? {}) as { name?: string; password?: string; next?: string };
    const user = body.name ? await users.findByName(body.name) : null;
    const ok = user !== null && !user.disabledAt && (await verifyPassword(body.password ?? '', user.passwordHash));
    if (!ok || !user) {
      reply.code(401);
      return reply
        .type('text/html')
        .send(loginPage(reply.generateCsrf(), safeNext(body.next), 'Wrong name or password.'));
    }
    // A fresh session id on every sign-in (no fixation), dropping any session the browser came with.
    if (request.user) await users.deleteSession(request.user.sessionId);
    const secret = newSecret();
    await users.createSession({
      id: hashSecret(secret),
      userId: user.id,
      csrfToken: newSecret(16),
      expiresAt: new Date(Date.now() + context.sessionMs),
    });
    reply.setCookie(SESSION_COOKIE, secret, {
      httpOnly: true,
      sameSite: 'lax',
      secure: context.secureCookies,
      path: '/',
      maxAge: Math.floor(context.sessionMs / 1000),
    });
    return reply.redirect(safeNext(body.next), 303);
  });

  app.post('/logout', { preHandler: app.csrfProtection }, async (request, reply) => {
    if (request.user) await users.deleteSession(request.user.sessionId);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });
}
