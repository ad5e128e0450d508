/**
 * How {@link BooruHttp} turns transport failures and HTTP statuses into {@link BooruError}s (BOORU-API §1.1):
 * 401 ⇒ BOORU_AUTH, non-JSON 403 ⇒ BOORU_BLOCKED (Cloudflare), JSON 403 ⇒ BOORU_FORBIDDEN, 404 ⇒ BOORU_NOT_FOUND,
 * 429 ⇒ BOORU_RATE_LIMITED, 5xx / connection errors / timeouts ⇒ retryable, unparseable JSON ⇒ BOORU_BAD_RESPONSE.
 */
import type { Dispatcher } from 'undici';
import { coerceError } from '../shared/errors.js';
import { BooruError } from './booru-error.js';

/** A fully read response. */
export interface RawResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Drops an unread body without an unhandled 'error' event (reads at most 64 KiB so the socket may be reused). */
export async function discard(body: Dispatcher.ResponseData['body']): Promise<void> {
  try {
    await body.dump({ limit: 65_536 });
  } catch {
    // the connection is gone either way
  }
}

function errorCodeOf(thrown: unknown): string | undefined {
  let current: unknown = thrown;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

export function transportError(thrown: unknown, method: string, url: string, kind: 'BOORU' | 'MEDIA'): BooruError {
  const error = coerceError(thrown);
  const code = errorCodeOf(error);
  const timedOut = (code !== undefined && TIMEOUT_CODES.has(code)) || error.name === 'TimeoutError';
  if (timedOut) {
    return new BooruError(kind === 'BOORU' ? 'BOORU_TIMEOUT' : 'MEDIA_FETCH', `timed out (${code ?? error.name})`, {
      method,
      url,
      retryable: true,
      cause: error,
    });
  }
  return new BooruError(
    kind === 'BOORU' ? 'BOORU_HTTP' : 'MEDIA_FETCH',
    `connection failed: ${code ?? error.message}`,
    {
      method,
      url,
      retryable: true,
      cause: error,
    },
  );
}

function isJsonType(contentType: string): boolean {
  return /\bjson\b/i.test(contentType);
}

/**
 * Danbooru's error body: `{"success":false,"error":"<Class>","message":"..."}`; Szurubooru's:
 * `{"name":"<Class>","title":"...","description":"..."}`.
 */
function booruMessage(raw: RawResponse): string | null {
  try {
    const parsed = JSON.parse(raw.body.toString('utf8')) as {
      message?: unknown;
      error?: unknown;
      description?: unknown;
    };
    if (typeof parsed.message === 'string' && parsed.message) return parsed.message;
    if (typeof parsed.description === 'string' && parsed.description) return redactAuthorization(parsed.description);
    if (typeof parsed.error === 'string' && parsed.error) return parsed.error;
    return '';
  } catch {
    return null;
  }
}

/**
 * Szurubooru echoes a malformed `Authorization` header in its 400 description ("Supplied header Token …"): the
 * credentials must not reach a log line.
 */
function redactAuthorization(text: string): string {
  return text.replace(/\b(Basic|Token)\s+[A-Za-z0-9+/=._~-]+/gi, '$1 [redacted]');
}

export function throwForStatus(raw: RawResponse, method: string, url: string, rateLimitDelayMs: number): void {
  const { status } = raw;
  if (status >= 200 && status < 300) return;
  const message = booruMessage(raw);
  const context = { method, url, status, details: message ? { booruMessage: message } : undefined };
  const suffix = message ? `: ${message}` : '';
  if (status === 401) {
    throw new BooruError('BOORU_AUTH', 'credentials rejected (check BOORU_LOGIN / BOORU_API_KEY)', context);
  }
  if (status === 403) {
    if (message === null || !isJsonType(raw.contentType)) {
      throw new BooruError('BOORU_BLOCKED', 'blocked by the site (Cloudflare?): set a unique User-Agent', context);
    }
    throw new BooruError(
      'BOORU_FORBIDDEN',
      `forbidden (API key scope, user level or IP allow-list?)${suffix}`,
      context,
    );
  }
  if (status === 404) throw new BooruError('BOORU_NOT_FOUND', `not found${suffix}`, context);
  if (status === 429) {
    throw new BooruError('BOORU_RATE_LIMITED', `rate limited by the booru${suffix}`, {
      ...context,
      retryable: true,
      details: { ...context.details, retryAfterMs: rateLimitDelayMs },
    });
  }
  throw new BooruError('BOORU_HTTP', `unexpected HTTP ${status}${suffix}`, { ...context, retryable: status >= 500 });
}

export function parseJson(raw: RawResponse, method: string, url: string): unknown {
  const text = raw.body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (thrown) {
    const kind = isJsonType(raw.contentType) ? 'malformed JSON' : `not JSON (${raw.contentType || 'no content type'})`;
    throw new BooruError('BOORU_BAD_RESPONSE', `${kind}: ${JSON.stringify(text.slice(0, 80))}`, {
      method,
      url,
      status: raw.status,
      cause: thrown,
    });
  }
}
