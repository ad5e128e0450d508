/**
 * `/healthz` (liveness: the process answers), `/readyz` (readiness: every check named, 503 unless all pass) and
 * `/metrics` (Prometheus text; on this port only with `Authorization: Bearer <TAGGER_METRICS_TOKEN>`: the numbers
 * reveal the queue and the moderators' activity, so they are not public. TAGGER_METRICS_PORT serves them without a
 * token on a private address instead).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from '../../shared/logger.js';
import type { ReadinessReport } from '../../core/readiness.js';

export interface HealthDeps {
  /** Runs the readiness checks. (Default: none: /readyz answers 503, saying readiness is not wired here.) */
  readiness?: () => Promise<ReadinessReport>;
  /** The scrape. (Default: none: /metrics answers 404.) */
  metrics?: MetricsScrape;
  /** The bearer token /metrics asks for on this port. (Default: none: /metrics answers 401 to everyone.) */
  metricsToken?: string;
}

export interface MetricsScrape {
  scrape(): Promise<string>;
  readonly contentType: string;
}

export function registerHealthRoutes(app: FastifyInstance, health: HealthDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (!health.readiness) {
      return reply.code(503).send({
        ready: false,
        checkedAt: new Date().toISOString(),
        checks: [{ name: 'service', ok: false, detail: 'readiness is not wired in this process' }],
      });
    }
    const report = await health.readiness();
    return reply
      .code(report.ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send(report);
  });

  app.get('/metrics', async (request, reply) => {
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (!health.metricsToken || !token || !sameSecret(token, health.metricsToken)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthenticated', message: 'send Authorization: Bearer <TAGGER_METRICS_TOKEN>' });
    }
    if (!health.metrics) return reply.code(404).send({ error: 'not found', message: 'no metrics in this process' });
    return sendMetrics(reply, health.metrics);
  });
}

/** Writes one scrape (shared with the token-free listener on TAGGER_METRICS_PORT). */
async function sendMetrics(reply: FastifyReply, metrics: MetricsScrape): Promise<FastifyReply> {
  const text = await metrics.scrape();
  return reply.type(metrics.contentType).header('cache-control', 'no-store').send(text);
}

/** Compares digests, so neither the length nor the content leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The listener of TAGGER_METRICS_PORT: `/metrics` alone, without a token, for a private address. */
export async function buildMetricsServer(metrics: MetricsScrape, logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger.child({ component: 'metrics' }) as FastifyBaseLogger,
  }) as unknown as FastifyInstance;
  app.get('/metrics', async (_request, reply) => sendMetrics(reply, metrics));
  return app;
}
