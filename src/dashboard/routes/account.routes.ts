/** The signed-in user's page: personal API tokens (created, shown once, revoked). */
import type { FastifyInstance } from 'fastify';
import { csrfUnlessToken, requireAccess, TOKEN_PREFIX } from '../access.js';
import type { RouteContext } from '../route-context.js';
import { hashSecret, newSecret } from '../auth.js';
import { html } from '../views/html.js';
import { layout } from '../views/layout.js';

export function registerAccountRoutes(app: FastifyInstance, context: RouteContext): void {
  const { apiTokens, audit } = context.deps;

  const page = async (request: import('fastify').FastifyRequest, csrf: string, created: string | null) => {
    const user = request.user!;
    const tokens = await apiTokens.listForUser(user.id);
    const body = html`<h1>Account: ${user.name} <span class="muted">(${user.role})</span></h1>
      <h2>Personal API tokens</h2>
      <p>A token lets a script or bot use the <a href="/api/openapi.json">JSON API</a> as you, with your role: send
        <code>Authorization: Bearer &lt;token&gt;</code>. Tokens work on <code>/api/</code> only, for
        ${context.tokenDays} days; changing your password (<code>booru-tagger users passwd ${user.name}</code>) revokes
        them all.</p>
      ${
        created
          ? html`<p class="notice" role="status">New token (shown once, copy it now): <code data-token>${created}</code></p>`
          : ''
      }
      <form method="post" action="/account/tokens" class="filter-form">
        <input type="hidden" name="_csrf" value="${csrf}">
        <label>Name <input name="name" required maxlength="64" placeholder="e.g. review-bot"></label>
        <button type="submit">Create token</button>
      </form>
      <table><thead><tr><th>Name</th><th>Created</th><th>Last used</th><th>Expires</th><th>State</th><th></th></tr></thead>
      <tbody>${tokens.map(
        (
          t,
        ) => html`<tr><td>${t.name}</td><td>${t.createdAt.toISOString()}</td><td>${t.lastUsedAt?.toISOString() ?? 'never'}</td>
          <td>${t.expiresAt?.toISOString() ?? 'never'}</td>
          <td>${t.revokedAt ? `revoked ${t.revokedAt.toISOString()}` : t.expiresAt && t.expiresAt <= new Date() ? 'expired' : 'active'}</td>
          <td>${
            t.revokedAt
              ? ''
              : html`<form method="post" action="/account/tokens/revoke" class="inline"><input type="hidden" name="_csrf" value="${csrf}">
              <button type="submit" name="id" value="${t.id}" aria-label="Revoke token ${t.name}">Revoke</button></form>`
          }</td></tr>`,
      )}</tbody></table>`;
    return layout({ title: `Account ${user.name}`, user, csrfToken: csrf, body, section: 'account' });
  };

  app.get('/account', { preHandler: requireAccess('view') }, async (request, reply) => {
    return reply.type('text/html').send(await page(request, reply.generateCsrf(), null));
  });

  app.post('/account/tokens', { preHandler: [csrfUnlessToken(app), requireAccess('view')] }, async (request, reply) => {
    const user = request.user!;
    if (user.via === 'token') return reply.code(403).send({ error: 'forbidden', message: 'tokens cannot mint tokens' });
    const name =
      String((request.body as { name?: unknown } | undefined)?.name ?? '')
        .trim()
        .slice(0, 64) || 'token';
    const secret = `${TOKEN_PREFIX}${newSecret()}`;
    const token = await apiTokens.create({
      userId: user.id,
      name,
      tokenHash: hashSecret(secret),
      expiresAt: new Date(Date.now() + context.tokenDays * 86_400_000),
    });
    await audit.record({
      userId: user.id,
      actor: user.name,
      action: 'token',
      detail: { created: token.id, name },
      origin: `web ${request.ip}`,
    });
    // Shown once, on this response only; never in a URL.
    return reply.type('text/html').send(await page(request, reply.generateCsrf(), secret));
  });

  app.post(
    '/account/tokens/revoke',
    { preHandler: [csrfUnlessToken(app), requireAccess('view')] },
    async (request, reply) => {
      const user = request.user!;
      const id = Number((request.body as { id?: unknown } | undefined)?.id);
      if (Number.isInteger(id) && id > 0 && (await apiTokens.revoke(user.id, id))) {
        await audit.record({
          userId: user.id,
          actor: user.name,
          action: 'token',
          detail: { revoked: id },
          origin: `web ${request.ip}`,
        });
      }
      return reply.redirect('/account', 303);
    },
  );
}
