import { AppError, type AppErrorOptions, type ErrorCode } from '../shared/errors.js';

/** Where a booru error happened: never contains credentials (see {@link redactUrl}). */
export interface BooruErrorContext extends AppErrorOptions {
  /** HTTP status, or null when no response arrived (timeout, connection refused…). */
  status?: number | null;
  method: string;
  url: string;
}

/**
 * An error talking to a booru (API or media host). `code` says what went wrong (BOORU_AUTH, BOORU_BLOCKED,
 * BOORU_RATE_LIMITED, MEDIA_TOO_LARGE…), `retryable` whether trying again later may help.
 */
export class BooruError extends AppError {
  readonly status: number | null;
  readonly method: string;
  readonly url: string;

  constructor(code: ErrorCode, message: string, context: BooruErrorContext) {
    const url = redactUrl(context.url);
    const where = `${context.method} ${url}${context.status ? ` → HTTP ${context.status}` : ''}`;
    super(code, `${message} [${where}]`, {
      retryable: context.retryable ?? false,
      cause: context.cause,
      details: { ...context.details, status: context.status ?? null, method: context.method, url },
    });
    this.status = context.status ?? null;
    this.method = context.method;
    this.url = url;
  }
}

const SECRET_PARAMS = ['login', 'api_key', 'password_hash', 'user_id'];

/** A URL fit for logs and error messages: no user-info, no `login`/`api_key`-style query parameters. */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw.replace(/(login|api_key|password_hash)=[^&]*/gi, '$1=[redacted]');
  }
  url.username = '';
  url.password = '';
  for (const name of SECRET_PARAMS) {
    if (url.searchParams.has(name)) url.searchParams.set(name, '[redacted]');
  }
  return url.toString();
}
