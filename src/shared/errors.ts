/**
 * The error catalogue. Every error the service raises on purpose is an {@link AppError} with a stable `code`, a
 * human message, whether retrying can help, and the original `cause`. Adapters subclass it (BooruError,
 * TaggerError…) so callers can branch on the class or the code.
 */

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'USAGE'
  | 'DB_MIGRATION_FAILED'
  | 'DB_UNAVAILABLE'
  | 'NOT_READY'
  | 'BOORU_HTTP'
  | 'BOORU_TIMEOUT'
  | 'BOORU_RATE_LIMITED'
  | 'BOORU_BLOCKED'
  | 'BOORU_FORBIDDEN'
  | 'BOORU_AUTH'
  | 'BOORU_NOT_FOUND'
  | 'BOORU_BAD_RESPONSE'
  | 'BOORU_EDIT_REFUSED'
  | 'VOCABULARY_STALE'
  | 'MEDIA_TOO_LARGE'
  | 'MEDIA_UNSUPPORTED'
  | 'MEDIA_CORRUPT'
  | 'MEDIA_FETCH'
  | 'MODEL_INVALID'
  | 'MODEL_RUNTIME'
  | 'MODEL_FETCH'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'FORBIDDEN';

export interface AppErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Extra structured facts for logs (never secrets). */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

/** Bad configuration or usage: the CLI exits 2. `problems` names every bad key. */
export class ConfigError extends AppError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

/** Turns anything thrown into an Error, keeping the original as `cause` when it was not one. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : JSON.stringify(thrown), { cause: thrown });
}
