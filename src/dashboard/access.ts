/**
 * Who is asking and what they may do: the signed-in user on each request (a session cookie or a bearer token), the
 * preHandler that lets only allowed roles through, and CSRF for session-cookie writes. Routes import these from here,
 * never from `app.ts`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { type Action, can, type Role } from './policies.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'bt_session';
/** Personal API tokens start with this, so a leaked one is easy to recognise (and to scan for). */
export const TOKEN_PREFIX = 'btk_';

export interface SessionUser {
  id: number;
  name: string;
  role: Role;
  /** The session row id, or null for an API token. */
  sessionId: string | null;
  /** How the caller authenticated: a session cookie (needs CSRF on writes) or a bearer token (does not). */
  via: 'session' | 'token';
}

declare module 'fastify' {
  interface FastifyRequest {
    user: SessionUser | null;
  }
  interface FastifyInstance {
    /** Every route this dashboard registered (method and URL pattern), for the route-policy test. */
    dashboardRoutes: { method: string; url: string }[];
  }
}

/** A preHandler that lets only a signed-in user allowed to `action` through (pages redirect, the API answers 401/403). */
export function requireAccess(action: Action) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const isApi = request.url.startsWith('/api/');
    if (!request.user) {
      if (isApi) return reply.code(401).send({ error: 'unauthenticated', message: 'sign in or send a bearer token' });
      return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
    }
    if (!can(request.user.role, action)) {
      return reply.code(403).send({ error: 'forbidden', message: `your role may not ${action}` });
    }
  };
}

/**
 * CSRF for state changes made with a session cookie; a bearer-token call carries no ambient credential, so it needs
 * none. Anonymous callers are checked too (and refused).
 */
export function csrfUnlessToken(app: FastifyInstance) {
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (request.user?.via === 'token') return done();
    return app.csrfProtection.call(app, request, reply, done);
  };
}
