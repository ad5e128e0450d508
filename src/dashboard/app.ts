/**
 * The web server (DESIGN §6): server-rendered dashboard pages, the JSON API under /api (with its OpenAPI document)
 * and /healthz, /readyz and /metrics, on Fastify with the @fastify plugins for security headers, cookies, form bodies and CSRF.
 */
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { loadConfig } from '../config/config.js';
import { SESSION_COOKIE, TOKEN_PREFIX } from './access.js';
import { hashSecret, newSecret } from './auth.js';
import { LoginThrottle, MemoryLoginAttempts } from './login-throttle.js';
import { dashboardOptionsOf } from './options.js';
import type { DashboardDeps, DashboardOptions, RouteContext } from './route-context.js';
import { registerAccountRoutes } from './routes/account.routes.js';
import { registerAdminRoutes } from './routes/admin.routes.js';
import { registerApiRoutes } from './routes/api.routes.js';
import { registerAssetRoutes } from './routes/assets.routes.js';
import { registerAuthRoutes } from './routes/auth.routes.js';
import { registerEvaluateRoutes } from './routes/evaluate.routes.js';
import { registerHealthRoutes } from './routes/health.routes.js';
import { registerPostRoutes } from './routes/post.routes.js';
import { registerQueueRoutes } from './routes/queue.routes.js';
import { registerReportRoutes } from './routes/reports.routes.js';
import { registerTagRoutes } from './routes/tags.routes.js';
import { registerThresholdRoutes } from './routes/thresholds.routes.js';
import { registerUploadRoutes } from './routes/upload.routes.js';

export { SESSION_COOKIE, TOKEN_PREFIX } from './access.js';
export type { DashboardDeps, DashboardOptions } from './route-context.js';

export async function buildDashboard(deps: DashboardDeps, options: DashboardOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'web' }) as FastifyBaseLogger,
    // Long tag lists travel in query strings of the filters; ids in bulk forms.
    routerOptions: { maxParamLength: 500 },
    // Off unless configured: a client could otherwise pick its own address with X-Forwarded-For.
    trustProxy: trustProxyOf(options.trustProxy),
    // A scraper's or a browser's keep-alive connection must not hold a shutdown open (seen with Prometheus-style
    // polling of /readyz): close every connection once the server stops accepting.
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  // What an option left out means: the setting's default (src/config), never a second copy of it here.
  const defaults = dashboardOptionsOf(loadConfig({}));
  const secureCookies = options.secureCookies ?? defaults.secureCookies;
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: {
        // Previews load from the boorus' media hosts only (any other host would learn moderators' addresses).
        'img-src': ["'self'", 'data:', ...(options.imageHosts ?? ['http:', 'https:'])],
        'form-action': ["'self'"],
        'script-src': ["'self'"],
        // Only where the dashboard is served over HTTPS: on plain HTTP it would break every same-site link.
        'upgrade-insecure-requests': secureCookies ? [] : null,
      },
    },
  });
  // The cookie secret signs the CSRF cookie only; sessions are random ids checked against the database. Stored, so a
  // CSRF cookie outlives a restart and is good at every replica.
  const cookieSecret = deps.secrets ? await deps.secrets.getOrCreate('cookie-secret', () => newSecret()) : newSecret();
  await app.register(fastifyCookie, { secret: cookieSecret });
  await app.register(fastifyFormbody, { bodyLimit: 256 * 1024 });
  await app.register(fastifyCsrf, {
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: '/', secure: secureCookies },
    sessionPlugin: '@fastify/cookie',
  });
  // Uploads (/evaluate, the upload page): each route reads parts with its own size and count limits.
  await app.register(fastifyMultipart, { limits: { fileSize: 1024 * 1024, files: 1 } });
  // Only routes that ask (config.rateLimit) are limited: /evaluate and the upload page.
  await app.register(fastifyRateLimit, { global: false });

  const routes: { method: string; url: string }[] = [];
  app.decorate('dashboardRoutes', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url });
  });
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (request) => {
    const authorization = request.headers.authorization;
    if (authorization !== undefined && (request.url.startsWith('/api/') || /^\/evaluate(\?|$)/.test(request.url))) {
      // A bearer token authenticates API calls only; pages keep to sessions (and their CSRF checks).
      const token = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
      const owner = token?.startsWith(TOKEN_PREFIX) ? await deps.apiTokens.findOwner(hashSecret(token)) : null;
      if (owner) request.user = { ...owner.user, sessionId: null, via: 'token' };
      return;
    }
    const cookie = request.cookies[SESSION_COOKIE];
    if (!cookie) return;
    const session = await deps.users.findSession(hashSecret(cookie));
    if (session) {
      request.user = {
        id: session.user.id,
        name: session.user.name,
        role: session.user.role,
        sessionId: session.id,
        via: 'session',
      };
    }
  });

  registerHealthRoutes(app, deps.health ?? {});
  // Fastify's own 404 echoes the whole URL into the page and the log: name the path only (a query may hold a secret).
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    return reply
      .code(404)
      .send({ error: 'Not Found', message: `Route ${request.method}:${path} not found`, statusCode: 404 });
  });
  // A 5xx answer names no internals (a database error's message may quote query arguments): the log has the details.
  // Client errors (4xx) keep Fastify's own answer.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status < 500) throw error;
    request.log.error({ err: error }, 'request failed');
    return reply
      .code(status)
      .send({ error: 'Internal Server Error', message: `internal error (request ${request.id})`, statusCode: status });
  });
  const context: RouteContext = {
    deps,
    sessionMs: options.sessionMs ?? defaults.sessionMs,
    secureCookies,
    tokenDays: options.tokenDays ?? defaults.tokenDays,
    throttle: new LoginThrottle(deps.loginAttempts ?? new MemoryLoginAttempts(), {
      maxAttempts: options.loginMaxFailures ?? defaults.loginMaxFailures,
      windowMs: options.loginWindowMs ?? defaults.loginWindowMs,
    }),
    defaultThresholds: options.defaultThresholds ?? defaults.defaultThresholds,
    evaluate: deps.evaluate ?? null,
  };
  registerAssetRoutes(app);
  registerAuthRoutes(app, context);
  registerQueueRoutes(app, context);
  registerTagRoutes(app, context);
  registerPostRoutes(app, context);
  registerAdminRoutes(app, context);
  registerThresholdRoutes(app, context);
  registerReportRoutes(app, context);
  registerAccountRoutes(app, context);
  registerApiRoutes(app, context);
  registerEvaluateRoutes(app, context);
  registerUploadRoutes(app, context);
  return app;
}

function trustProxyOf(
  setting: DashboardOptions['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  // A hop count: believe that many proxies nearest the server (as proxy-addr counts hops).
  if (typeof setting === 'number') return setting > 0 ? (_address, hop) => hop < setting : false;
  return setting && setting.length > 0 ? [...setting] : false;
}
