/**
 * What /evaluate and the upload page share: the model and limits they are given, reading a multipart body within
 * limits and a deadline, parsing the autotagger's parameters, scoring images, the per-client rate limit and the
 * bounded slots that keep at most a few requests' files in memory.
 */
import type { RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyError, FastifyRequest } from 'fastify';
import { ratingOfLabel } from '../core/tag-diff.js';
import type { ModelLabel, ScoreVector, SuggestionDraft } from '../core/types.js';
import { defaultOf } from '../config/config.js';
import { AppError, coerceError } from '../shared/errors.js';
import { addressKey } from './login-throttle.js';
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
  booruId: number;
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
  /** Longest a request's body may take to arrive once it holds a slot, ms; slower ones get 408. (Default: TAGGER_EVALUATE_BODY_TIMEOUT_MS's default) */
  bodyTimeoutMs?: number;
  /** Longest a request waits for a free slot, ms; then 503 with Retry-After. (Default: TAGGER_EVALUATE_QUEUE_TIMEOUT_MS's default) */
  queueTimeoutMs?: number;
  /** Downloads an image URL for the upload page, from allowed hosts only (absent: URLs are refused). */
  fetchImage?: (url: string) => Promise<Buffer>;
  /** Finds a post by the md5 of its original file (absent: no diff shown). */
  findPostByMd5?: (md5: string) => Promise<KnownPost | null>;
  /**
   * What the review queue would suggest for the known post from these scores: the same diff, through the same diff
   * context (src/worker/diff-context.ts `resolveDiffContext`). Absent: no diff shown.
   */
  diffKnownPost?: (post: KnownPost, scores: ScoreVector) => Promise<KnownPostDiff>;
  /** The threshold tags are listed from when a request names none. (Default: TAGGER_EVALUATE_THRESHOLD's default.) */
  defaultThreshold?: number;
}

/** The queue's suggestions for a known post, and the thresholds behind them, for the upload page. */
export interface KnownPostDiff {
  /** The queue's suggestions: additions, removals, a rating change. */
  drafts: readonly SuggestionDraft[];
  /** The post's tags the model agrees with (it would suggest them were they missing). */
  agree: readonly SuggestionDraft[];
  /** Why the queue holds such suggestions back now (a stale tag sync), or null when it would make them. */
  waitReason: string | null;
  /** The category add thresholds and the removal threshold in force, for the page's note. */
  thresholds: { general: number | null; character: number | null; remove: number };
  /** A separate rating model makes the queue's rating suggestions (so the tagger's is not shown). */
  ratingByModel: boolean;
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

/** Upstream's default `limit`: part of the autotagger protocol, not a setting. */
const DEFAULT_LIMIT = 50;

/** The label name Danbooru expects: `rating:g|s|q|e` for rating rows, null for other category-9 rows. */
export function evaluateTagName(label: ModelLabel): string | null {
  if (label.category !== 9) return label.name;
  const rating = ratingOfLabel(label.name);
  return rating === null ? null : `rating:${rating}`;
}

/** Parses `threshold` and `limit` (form fields win over the query string). */
export function parseEvaluateParams(
  values: Record<string, string | undefined>,
  defaultThreshold: number = defaultOf('evaluateThreshold'),
): {
  threshold: number;
  limit: number;
  format: 'json' | 'html';
} {
  const threshold = values['threshold'] === undefined ? defaultThreshold : Number(values['threshold']);
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
  const timeoutMs = limits.bodyTimeoutMs ?? defaultOf('evaluateBodyTimeoutMs');
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
  return { waitMs: deps?.queueTimeoutMs ?? defaultOf('evaluateQueueTimeoutMs'), maxWaiting: 4 * slots };
}
