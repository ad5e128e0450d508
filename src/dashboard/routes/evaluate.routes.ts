/**
 * `POST /evaluate`, wire-compatible with Danbooru's autotagger service (BOORU-API.md §1.8), so a Danbooru whose
 * `autotagger_url` points here gets its AI tags from our model: multipart `file` (repeatable), `threshold` (default
 * TAGGER_EVALUATE_THRESHOLD, 0.1 as upstream), `limit` (default 50), `format` `json` | `html` (the default, as upstream). JSON answers
 * `[{"filename", "tags": {name: score}}]` with keys in descending score order and ratings as `rating:g|s|q|e`;
 * errors are `{"error": <class>, "message"}` with a status. Needs a personal API token (bearer) unless the operator
 * sets EVALUATE_OPEN=true, as Danbooru's own service runs on a private network.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelLabel, ScoreVector } from '../../core/types.js';
import {
  EvaluateError,
  evaluateTagName,
  parseEvaluateParams,
  rateLimitOf,
  readMultipart,
  Slots,
  scoreImages,
  slotWaitsOf,
} from '../evaluate.service.js';
import { can } from '../policies.js';
import type { RouteContext } from '../route-context.js';
import { html } from '../views/html.js';

/**
 * Tags scoring ≥ `threshold`, highest first (ties by name, so answers are deterministic), at most `limit`. A rating
 * named twice (DeepDanbooru's vocabularies) keeps its higher score.
 */
export function evaluationOf(
  labels: readonly ModelLabel[],
  scores: ScoreVector,
  threshold: number,
  limit: number,
): [string, number][] {
  const best = new Map<string, number>();
  labels.forEach((label, i) => {
    const score = scores[i] ?? 0;
    const name = evaluateTagName(label);
    if (name === null || !(score >= threshold)) return;
    if (!(score <= (best.get(name) ?? -1))) best.set(name, score);
  });
  return [...best].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, Math.max(0, limit));
}

/**
 * The JSON body, written by hand so that key order is the score order even for tag names that look like integers
 * (a JavaScript object would move those first).
 */
export function autotaggerJson(results: readonly { filename: string; tags: readonly [string, number][] }[]): string {
  return `[${results
    .map(
      (r) =>
        `{"filename":${JSON.stringify(r.filename)},"tags":{${r.tags.map(([name, score]) => `${JSON.stringify(name)}:${JSON.stringify(score)}`).join(',')}}}`,
    )
    .join(',')}]`;
}

/** Sends an error as `{"error", "message"}`; anything unexpected is a 500 InternalServerError (and logged). */
function sendEvaluateError(request: FastifyRequest, reply: FastifyReply, thrown: unknown) {
  const error = thrown as FastifyError & { statusCode?: number };
  if (thrown instanceof EvaluateError) {
    return reply
      .code(thrown.status)
      .headers(thrown.headers)
      .type('application/json')
      .send({ error: thrown.errorName, message: thrown.message });
  }
  if (error.statusCode === 429) {
    return reply.code(429).send({ error: 'TooManyRequests', message: error.message });
  }
  if (error.statusCode === 415 || error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return reply
      .code(400)
      .send({ error: 'BadRequest', message: 'send multipart/form-data with one or more "file" parts' });
  }
  if (error.statusCode === 413) return reply.code(413).send({ error: 'RequestEntityTooLarge', message: error.message });
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return reply.code(error.statusCode).send({ error: 'BadRequest', message: error.message });
  }
  request.log.error({ err: thrown }, 'evaluate failed');
  // The message may name files or quote the database: the log has it, the caller gets the request id.
  return reply.code(500).send({ error: 'InternalServerError', message: `internal error (request ${request.id})` });
}

/** Requests /evaluate reads and scores at once (as many as upstream's 4 gunicorn threads). */
export const EVALUATE_SLOTS = 4;

const UNAVAILABLE = new EvaluateError(503, 'ServiceUnavailable', 'no tagging model is configured in this process');

export function registerEvaluateRoutes(app: FastifyInstance, context: RouteContext): void {
  const deps = context.evaluate;
  const slots = new Slots(EVALUATE_SLOTS, slotWaitsOf(deps, EVALUATE_SLOTS));
  app.post(
    '/evaluate',
    {
      config: rateLimitOf(deps),
      errorHandler: (error, request, reply) => sendEvaluateError(request, reply, error),
      preHandler: async (request, reply) => {
        if (deps?.open) return;
        const user = request.user;
        if (user?.via === 'token' && can(user.role, 'view')) return;
        reply.header('www-authenticate', 'Bearer realm="booru-tagger"');
        return sendEvaluateError(
          request,
          reply,
          new EvaluateError(
            401,
            'Unauthorized',
            'send Authorization: Bearer <personal API token> (the operator can open /evaluate with EVALUATE_OPEN=true)',
          ),
        );
      },
    },
    async (request, reply) => {
      if (!deps) throw UNAVAILABLE;
      const { params, results } = await slots.run(async () => {
        const { files, fields } = await readMultipart(request, deps);
        const query = request.query as Record<string, string | undefined>;
        const params = parseEvaluateParams({ ...query, ...fields }, deps.defaultThreshold);
        if (files.length === 0) throw new EvaluateError(400, 'BadRequest', 'no "file" part in the request');
        const model = await deps.model();
        const scores = await scoreImages(model, files);
        const results = files.map((file, i) => ({
          filename: file.filename,
          tags: evaluationOf(model.labels, scores[i]!, params.threshold, params.limit),
        }));
        return { params, results };
      });
      if (params.format === 'json') return reply.type('application/json; charset=utf-8').send(autotaggerJson(results));
      return reply.type('text/html; charset=utf-8').send(
        html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>evaluate · booru-tagger</title></head><body>
${results.map(
  (r) =>
    html`<h2>${r.filename}</h2><table>${r.tags.map(
      ([name, score]) => html`<tr><td>${name}</td><td>${score.toFixed(4)}</td></tr>`,
    )}</table>`,
)}</body></html>`.value,
      );
    },
  );
}
