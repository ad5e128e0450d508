/**
 * `POST /evaluate`, wire-compatible with Danbooru's autotagger service (BOORU-API.md §1.8), so a Danbooru whose
 * `autotagger_url` points here gets its AI tags from our model: multipart `file` (repeatable), `threshold` (default
 * 0.1), `limit` (default 50), `format` `json` | `html` (the default, as upstream). JSON answers
 * `[{"filename", "tags": {name: score}}]` with keys in descending score order and ratings as `rating:g|s|q|e`;
 * errors are `{"error": <class>, "message"}` with a status. Needs a personal API token (bearer) unless the operator
 * sets EVALUATE_OPEN=true, as Danbooru's own service runs on a private network.
 */
import type { RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ratingOfLabel } from '../../core/tag-diff.js';
import type { ModelLabel, ScoreVector } from '../../core/types.js';
import { AppError, coerceError } from '../../shared/errors.js';
import type { RouteContext } from '../app.js';
import { addressKey } from '../login-throttle.js';
import { can } from '../policies.js';
import { html } from '../views/html.js';

/** The model as /evaluate sees it (the service passes its batching tagger, shared with the worker). */
export interface EvaluateModel {
  readonly model: { readonly name: string; readonly version: string };
  readonly labels: readonly ModelLabel[];
  /** One result per image: its scores, or the AppError (MEDIA_*) that made it unusable. */
  predictImages(images: readonly Buffer[]): Promise<Array<ScoreVector | Error>>;
}

/** A post of the database whose image has the uploaded image's md5 (the upload page shows the diff against it). */
export interface KnownPost {
  id: number;
  remoteId: number;
  booruName: string;
  rating: string | null;
  tags: readonly string[];
}

export interface EvaluateDeps {
  /** The model, loaded on first use when this process has no worker. Called per request; must cache. */
  model(): Promise<EvaluateModel>;
  /** Answer without a token (EVALUATE_OPEN). */
  open: boolean;
  /** Largest file per request, bytes. */
  maxFileBytes: number;
  /** Most files per request. */
  maxFiles: number;
  /** Requests per minute per client address; 0 = unlimited. */
  ratePerMinute: number;
  /** Longest a request's body may take to arrive once it holds a slot, ms; slower ones get 408. (Default: 30 000) */
  bodyTimeoutMs?: number;
  /** Longest a request waits for a free slot, ms; then 503 with Retry-After. (Default: 10 000) */
  queueTimeoutMs?: number;
  /** Downloads an image URL for the upload page, from allowed hosts only (absent: URLs are refused). */
  fetchImage?: (url: string) => Promise<Buffer>;
  /** Finds a post by the md5 of its original file (absent: no diff shown). */
  findPostByMd5?: (md5: string) => Promise<KnownPost | null>;
}

/** An error answered as `{"error", "message"}` (autotagger's shape: `error` names a werkzeug-style class). */
export class EvaluateError extends Error {
  constructor(
    readonly status: number,
    readonly errorName: string,
    message: string,
    /** Sent with the answer: `connection: close` after an unread body, `retry-after` when busy. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** Defaults of {@link EvaluateDeps.bodyTimeoutMs} and {@link EvaluateDeps.queueTimeoutMs}. */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
export const DEFAULT_QUEUE_TIMEOUT_MS = 10_000;

export const DEFAULT_THRESHOLD = 0.1;
export const DEFAULT_LIMIT = 50;

/** The label name Danbooru expects: `rating:g|s|q|e` for rating rows, null for other category-9 rows. */
export function evaluateTagName(label: ModelLabel): string | null {
  if (label.category !== 9) return label.name;
  const rating = ratingOfLabel(label.name);
  return rating === null ? null : `rating:${rating}`;
}

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

/** Parses `threshold` and `limit` (form fields win over the query string). */
export function parseEvaluateParams(values: Record<string, string | undefined>): {
  threshold: number;
  limit: number;
  format: 'json' | 'html';
} {
  const threshold = values['threshold'] === undefined ? DEFAULT_THRESHOLD : Number(values['threshold']);
  if (values['threshold']?.trim() === '' || !Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
    throw new EvaluateError(400, 'BadRequest', `threshold=${values['threshold']}: expected a number from 0 to 1`);
  }
  const limit = values['limit'] === undefined ? DEFAULT_LIMIT : Number(values['limit']);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
    throw new EvaluateError(400, 'BadRequest', `limit=${values['limit']}: expected a whole number from 1`);
  }
  const format = values['format'] ?? 'html';
  if (format !== 'json' && format !== 'html') {
    throw new EvaluateError(400, 'BadRequest', `format=${format}: expected json or html`);
  }
  return { threshold, limit, format };
}

export interface UploadedImage {
  filename: string;
  bytes: Buffer;
}

/** Reads a multipart body: the `file` parts (in order) and the text fields, within the configured limits. */
export async function readMultipart(
  request: FastifyRequest,
  limits: { maxFileBytes: number; maxFiles: number; bodyTimeoutMs?: number },
  fileField = 'file',
): Promise<{ files: UploadedImage[]; fields: Record<string, string> }> {
  if (!request.isMultipart()) {
    throw new EvaluateError(400, 'BadRequest', `send multipart/form-data with one or more "${fileField}" parts`);
  }
  // A client that sends its body slowly would hold a slot for as long as it likes: past the deadline the request is
  // answered 408 and its connection closed (the unread rest of the body is never read).
  const timeoutMs = limits.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const reading = readParts(request, limits, fileField);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reading.catch(() => {}); // settles when the connection closes; nobody waits for it any more
      reject(
        new EvaluateError(408, 'RequestTimeout', `the request body did not arrive within ${timeoutMs} ms`, {
          connection: 'close',
        }),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([reading, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function readParts(
  request: FastifyRequest,
  limits: { maxFileBytes: number; maxFiles: number },
  fileField: string,
): Promise<{ files: UploadedImage[]; fields: Record<string, string> }> {
  const files: UploadedImage[] = [];
  const fields: Record<string, string> = {};
  try {
    for await (const part of request.parts({
      limits: {
        fileSize: limits.maxFileBytes,
        files: limits.maxFiles,
        fields: 20,
        fieldSize: 4096,
        parts: limits.maxFiles + 20,
      },
    })) {
      if (part.type === 'file') {
        const bytes = await part.toBuffer();
        if (part.fieldname === fileField) files.push({ filename: part.filename || `file${files.length + 1}`, bytes });
      } else if (typeof part.value === 'string') {
        fields[part.fieldname] = part.value;
      }
    }
  } catch (thrown) {
    const error = thrown as FastifyError;
    if (error.code === 'FST_REQ_FILE_TOO_LARGE') {
      throw new EvaluateError(413, 'RequestEntityTooLarge', `a file is larger than ${limits.maxFileBytes} bytes`);
    }
    if (error.code === 'FST_FILES_LIMIT' || error.code === 'FST_PARTS_LIMIT') {
      throw new EvaluateError(413, 'RequestEntityTooLarge', `at most ${limits.maxFiles} files per request`);
    }
    if (error.code === 'FST_FIELDS_LIMIT') throw new EvaluateError(400, 'BadRequest', 'too many form fields');
    throw new EvaluateError(400, 'BadRequest', `unreadable multipart body: ${coerceError(thrown).message}`);
  }
  return { files, fields };
}

/** Runs the model over images; an unusable image fails the whole request, as upstream does, naming the file. */
export async function scoreImages(model: EvaluateModel, images: readonly UploadedImage[]): Promise<ScoreVector[]> {
  const results = await model.predictImages(images.map((image) => image.bytes));
  return results.map((result, i) => {
    if (!(result instanceof Error)) return result;
    const name = images[i]?.filename ?? `file ${i + 1}`;
    if (result instanceof AppError && result.code === 'MEDIA_TOO_LARGE') {
      throw new EvaluateError(413, 'RequestEntityTooLarge', `${name}: ${result.message}`);
    }
    throw new EvaluateError(
      415,
      'UnsupportedMediaType',
      `${name}: not an image this service can read (${result.message})`,
    );
  });
}

/** Sends an error as `{"error", "message"}`; anything unexpected is a 500 InternalServerError (and logged). */
export function sendEvaluateError(request: FastifyRequest, reply: FastifyReply, thrown: unknown) {
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

/** Route config shared by /evaluate and the upload page's POST: the request rate per client, when limited. */
export function rateLimitOf(deps: EvaluateDeps | null): { rateLimit?: RateLimitOptions } {
  return deps && deps.ratePerMinute > 0
    ? {
        rateLimit: {
          max: deps.ratePerMinute,
          timeWindow: 60_000,
          // Per client (the forwarded address behind a trusted proxy); an IPv6 client per /64, as the login throttle.
          keyGenerator: (request: FastifyRequest) => addressKey(request.ip),
          errorResponseBuilder: (_request: FastifyRequest, limit: { after: string }) => ({
            statusCode: 429,
            error: 'TooManyRequests',
            message: `rate limit exceeded, retry in ${limit.after}`,
          }),
        },
      }
    : {};
}

/** How long and how many requests may wait for a slot. */
export interface SlotWaits {
  /** Longest wait for a slot, ms; then {@link Slots.run} throws 503 ServiceUnavailable with Retry-After. */
  waitMs: number;
  /** Most requests waiting at once; one more is answered 503 at once. */
  maxWaiting: number;
}

/**
 * At most `slots` holders at a time; the rest wait in order, for a bounded time and in a bounded line (503 past
 * either). Requests wait here before their bodies are read, so memory holds at most `slots` requests' files however
 * many clients send at once (the rest stay in socket buffers).
 */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(
    slots: number,
    private readonly waits: SlotWaits = { waitMs: Number.POSITIVE_INFINITY, maxWaiting: Number.POSITIVE_INFINITY },
  ) {
    this.free = slots;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await this.wait();
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }

  private wait(): Promise<void> {
    const retryAfterS = String(Math.max(1, Math.ceil(Math.min(this.waits.waitMs, 60_000) / 1000)));
    const busy = (why: string) =>
      new EvaluateError(503, 'ServiceUnavailable', `busy: ${why}; retry in ${retryAfterS} s`, {
        'retry-after': retryAfterS,
        connection: 'close',
      });
    if (this.waiting.length >= this.waits.maxWaiting) {
      return Promise.reject(busy(`${this.waiting.length} requests are already waiting`));
    }
    return new Promise<void>((resolve, reject) => {
      const start = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(
        () => {
          const at = this.waiting.indexOf(start);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(busy(`no free slot within ${this.waits.waitMs} ms`));
        },
        Math.min(this.waits.waitMs, 2 ** 31 - 1),
      );
      this.waiting.push(start);
    });
  }
}

/** The waits for a route's slots: a line of 4 per slot, each waiting at most `queueTimeoutMs`. */
export function slotWaitsOf(deps: EvaluateDeps | null, slots: number): SlotWaits {
  return { waitMs: deps?.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS, maxWaiting: 4 * slots };
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
        const params = parseEvaluateParams({ ...query, ...fields });
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
