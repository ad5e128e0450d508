/**
 * The web server (DESIGN §6): server-rendered dashboard pages, a small JSON API and /healthz, on Fastify with the
 * @fastify plugins for security headers, cookies, form bodies and CSRF.
 */
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { SuggestionRepository } from '../db/suggestion.repository.js';
import type { UserRepository } from '../db/user.repository.js';
import type { Logger } from '../shared/logger.js';
import { hashSecret, newSecret } from './auth.js';
import { type Action, can, type Role } from './policies.js';
import { registerAuthRoutes } from './routes/auth.routes.js';
import { registerSuggestionRoutes } from './routes/suggestions.routes.js';

export const SESSION_COOKIE = 'bt_session';

export interface DashboardDeps {
  users: UserRepository;
  suggestions: SuggestionRepository;
  logger: Logger;
}

export interface DashboardOptions {
  /** Session lifetime in milliseconds. (Default: 12 hours.) */
  sessionMs?: number;
  /** Mark cookies Secure (behind HTTPS). (Default: false.) */
  secureCookies?: boolean;
}

export interface SessionUser {
  id: number;
  name: string;
  role: Role;
  sessionId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: SessionUser | null;
  }
}

export async function buildDashboard(deps: DashboardDeps, options: DashboardOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'web' }) as FastifyBaseLogger,
  }) as unknown as FastifyInstance;
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: { 'img-src': ["'self'", 'data:', 'http:', 'https:'], 'form-action': ["'self'"] },
    },
  });
  // The cookie secret signs the CSRF cookie only; sessions are random ids checked against the database.
  await app.register(fastifyCookie, { secret: newSecret() });
  await app.register(fastifyFormbody, { bodyLimit: 64 * 1024 });
  await app.register(fastifyCsrf, {
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: '/' },
    sessionPlugin: '@fastify/cookie',
  });

  app.decorateRequest('user', null);
  app.addHook('onRequest', async (request) => {
    const cookie = request.cookies[SESSION_COOKIE];
    if (!cookie) return;
    const session = await deps.users.findSession(hashSecret(cookie));
    if (session) {
      request.user = { id: session.user.id, name: session.user.name, role: session.user.role, sessionId: session.id };
    }
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  const context = {
    deps,
    sessionMs: options.sessionMs ?? 12 * 3600_000,
    secureCookies: options.secureCookies ?? false,
  };
  registerAuthRoutes(app, context);
  registerSuggestionRoutes(app, context);
  return app;
}

export interface RouteContext {
  deps: DashboardDeps;
  sessionMs: number;
  secureCookies: boolean;
}

/** A preHandler that lets only a signed-in user allowed to `action` through (pages redirect, the API answers 401/403). */
export function requireAccess(action: Action) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const isApi = request.url.startsWith('/api/');
    if (!request.user) {
      if (isApi) return reply.code(401).send({ error: 'unauthenticated', message: 'sign in first' });
      return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
    }
    if (!can(request.user.role, action)) {
      return reply.code(403).send({ error: 'forbidden', message: `your role may not ${action}` });
    }
  };
}
