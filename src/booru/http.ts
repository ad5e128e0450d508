/**
 * The one HTTP helper every booru client receives by injection: keep-alive connection pool (undici Agent), a
 * mandatory custom User-Agent, HTTP Basic auth, timeouts, a response size cap, JSON parsing at the edge, retries with
 * jittered exponential backoff, and booru-specific error mapping (BOORU-API §1.1, §1.2, §4).
 */
import { Agent, type Dispatcher, request } from 'undici';
import { createLogger, type Logger } from '../shared/logger.js';
import { AppError, ConfigError, coerceError } from '../shared/errors.js';
import { BooruError, redactUrl } from './booru-error.js';
import { discard, parseJson, type RawResponse, throwForStatus, transportError } from './http-errors.js';

export interface BooruCredentials {
  login: string;
  apiKey: string;
}

/** How failed requests are retried. 5xx, connection errors and timeouts use the exponential policy; 429 its own. */
export interface RetryPolicy {
  /** Further attempts after the first for 5xx, connection errors and timeouts. (Default: 3) */
  retries: number;
  /** First backoff in ms, doubled per attempt, jittered to 50–100 %. (Default: 500) */
  baseDelayMs: number;
  /** Upper bound of one backoff in ms. (Default: 30 000) */
  maxDelayMs: number;
  /** Wait after HTTP 429 in ms; Danbooru's penalty bucket needs ≈31 s, so at least 35 s. (Default: 35 000) */
  rateLimitDelayMs: number;
  /** Further attempts after HTTP 429; then BOORU_RATE_LIMITED (retryable) is thrown. (Default: 1) */
  rateLimitRetries: number;
}

export interface BooruHttpOptions {
  /** Site root, e.g. `https://danbooru.donmai.us`; a path prefix is kept. */
  baseUrl: string;
  /** Required and unique, e.g. `booru-tagger/0.1 (+operator contact)`: Cloudflare blocks browser and library UAs. */
  userAgent: string;
  /** Sent as HTTP Basic auth, never as query or body parameters. */
  credentials?: BooruCredentials | null;
  /** TCP/TLS connect timeout in ms. (Default: 10 000) */
  connectTimeoutMs?: number;
  /** Time to the response headers in ms. (Default: 30 000) */
  headersTimeoutMs?: number;
  /** Longest silence while reading a body in ms. (Default: 30 000) */
  bodyTimeoutMs?: number;
  /** Largest API response accepted, in bytes; streamed and aborted past it. (Default: 32 MiB) */
  maxResponseBytes?: number;
  retry?: Partial<RetryPolicy>;
  /** Injected for tests. (Default: setTimeout) */
  sleep?: (ms: number) => Promise<void>;
  /** Injected for tests; jitter source in [0, 1). (Default: Math.random) */
  random?: () => number;
  logger?: Logger;
  /** Use this dispatcher instead of creating an Agent (tests, proxies). Not closed by {@link BooruHttp.close}. */
  dispatcher?: Dispatcher;
}

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface JsonRequestOptions {
  query?: Record<string, string | number | undefined>;
  /** Sent as `application/x-www-form-urlencoded`. */
  form?: Record<string, string>;
  /** Sent as `application/json`. */
  json?: unknown;
}

export interface GetBytesOptions {
  /** Abort with MEDIA_TOO_LARGE past this many bytes (a larger declared Content-Length fails at once). */
  maxBytes: number;
  /** Whole-download deadline in ms. */
  timeoutMs: number;
  /** When given, only these host names may be fetched (MEDIA_FETCH otherwise). */
  allowedHosts?: readonly string[];
}

const DEFAULT_RETRY: RetryPolicy = {
  retries: 3,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  rateLimitDelayMs: 35_000,
  rateLimitRetries: 1,
};

export class BooruHttp {
  readonly baseUrl: string;
  private readonly agent: Dispatcher;
  private readonly ownsAgent: boolean;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly logger: Logger;
  private readonly headers: Record<string, string>;
  private readonly maxResponseBytes: number;
  private readonly headersTimeoutMs: number;
  private readonly bodyTimeoutMs: number;
  private closed = false;

  constructor(options: BooruHttpOptions) {
    const problems: string[] = [];
    if (!options.userAgent?.trim()) problems.push('userAgent: a unique, non-browser User-Agent is required');
    if (!/^https?:\/\//.test(options.baseUrl ?? '')) problems.push(`baseUrl: not an http(s) URL: ${options.baseUrl}`);
    if (problems.length > 0) throw new ConfigError(problems);

    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? createLogger({ level: 'silent' });
    this.maxResponseBytes = options.maxResponseBytes ?? 32 * 1024 * 1024;
    this.headersTimeoutMs = options.headersTimeoutMs ?? 30_000;
    this.bodyTimeoutMs = options.bodyTimeoutMs ?? 30_000;
    this.ownsAgent = !options.dispatcher;
    this.agent =
      options.dispatcher ??
      new Agent({
        connect: { timeout: options.connectTimeoutMs ?? 10_000 },
        headersTimeout: this.headersTimeoutMs,
        bodyTimeout: this.bodyTimeoutMs,
        keepAliveTimeout: 30_000,
        connections: 8,
      });
    this.headers = { 'user-agent': options.userAgent.trim(), accept: 'application/json' };
    if (options.credentials) {
      const token = Buffer.from(`${options.credentials.login}:${options.credentials.apiKey}`).toString('base64');
      this.headers['authorization'] = `Basic ${token}`;
    }
  }

  /** GET `path` (relative to the base URL) and return the parsed JSON. */
  getJson(path: string, query?: JsonRequestOptions['query']): Promise<unknown> {
    return this.requestJson('GET', path, { query });
  }

  /**
   * Send one API request and return the parsed JSON body. Retries 5xx, connection errors and timeouts (also for
   * writes: callers only send idempotent writes, such as Danbooru's snapshot-form tag edit) and 429 after a long wait.
   * @throws BooruError BOORU_AUTH (401), BOORU_BLOCKED (non-JSON 403), BOORU_FORBIDDEN (JSON 403), BOORU_NOT_FOUND
   *   (404), BOORU_RATE_LIMITED (429), BOORU_TIMEOUT, BOORU_HTTP (other statuses, connection errors),
   *   BOORU_BAD_RESPONSE (not JSON, or too large).
   */
  async requestJson(method: HttpMethod, path: string, options: JsonRequestOptions = {}): Promise<unknown> {
    const url = this.buildUrl(path, options.query);
    const headers = { ...this.headers };
    let body: string | undefined;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    } else if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const response = await this.withRetry(method, url, async () => {
      const raw = await this.send(method, url, headers, body, {
        maxBytes: this.maxResponseBytes,
        tooLarge: (size) =>
          new BooruError('BOORU_BAD_RESPONSE', `response larger than ${this.maxResponseBytes} bytes (${size})`, {
            method,
            url,
          }),
        failure: (thrown) => transportError(thrown, method, url, 'BOORU'),
      });
      throwForStatus(raw, method, url, this.retry.rateLimitDelayMs);
      return raw;
    });
    return parseJson(response, method, url);
  }

  /**
   * Download media bytes (streamed), e.g. a post's 360x360 variant. Credentials are sent only to the API's own origin.
   * @throws BooruError MEDIA_TOO_LARGE (declared or streamed size over maxBytes), MEDIA_FETCH (non-2xx, disallowed
   *   host, timeout, connection error; retryable when a later try may succeed).
   */
  async getBytes(url: string, options: GetBytesOptions): Promise<Buffer> {
    const method = 'GET';
    let target: URL;
    try {
      target = new URL(url);
    } catch (thrown) {
      throw new BooruError('MEDIA_FETCH', 'invalid media URL', { method, url, cause: thrown });
    }
    if (options.allowedHosts && !options.allowedHosts.includes(target.hostname)) {
      throw new BooruError('MEDIA_FETCH', `media host ${target.hostname} is not allowed`, { method, url });
    }
    const headers: Record<string, string> = { 'user-agent': this.headers['user-agent']!, accept: '*/*' };
    const auth = this.headers['authorization'];
    if (auth && target.origin === new URL(this.baseUrl).origin) headers['authorization'] = auth;

    const raw = await this.withRetry(method, url, async () => {
      const response = await this.send(method, url, headers, undefined, {
        maxBytes: options.maxBytes,
        timeoutMs: options.timeoutMs,
        tooLarge: (size) =>
          new BooruError('MEDIA_TOO_LARGE', `media larger than ${options.maxBytes} bytes (${size})`, { method, url }),
        failure: (thrown) => transportError(thrown, method, url, 'MEDIA'),
        beforeBody: (status) => {
          if (status < 200 || status >= 300) {
            throw new BooruError('MEDIA_FETCH', 'media download failed', {
              method,
              url,
              status,
              retryable: status >= 500 || status === 429,
            });
          }
        },
      });
      return response;
    });
    return raw.body;
  }

  /** Close the connection pool (only when this helper created it). */
  async close(): Promise<void> {
    if (!this.ownsAgent || this.closed) return;
    this.closed = true;
    await this.agent.close();
  }

  private buildUrl(path: string, query: JsonRequestOptions['query']): string {
    const url = new URL(this.baseUrl + (path.startsWith('/') ? path : `/${path}`));
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  private async withRetry<T>(method: string, url: string, attempt: () => Promise<T>): Promise<T> {
    let failures = 0;
    let rateLimited = 0;
    for (;;) {
      const started = Date.now();
      try {
        return await attempt();
      } catch (thrown) {
        const error = coerceError(thrown);
        const isRateLimit = error instanceof AppError && error.code === 'BOORU_RATE_LIMITED';
        const retryable = error instanceof AppError && error.retryable;
        const canRetry = isRateLimit ? rateLimited < this.retry.rateLimitRetries : failures < this.retry.retries;
        if (!retryable || !canRetry) throw error;
        const delayMs = isRateLimit ? this.rateLimitDelay() : this.backoffDelay(failures);
        if (isRateLimit) rateLimited += 1;
        else failures += 1;
        this.logger.warn(
          {
            method,
            url: error instanceof BooruError ? error.url : url,
            err: error.message,
            delayMs,
            durationMs: Date.now() - started,
          },
          `booru request failed, retry ${isRateLimit ? rateLimited : failures}/${isRateLimit ? this.retry.rateLimitRetries : this.retry.retries}`,
        );
        await this.sleep(delayMs);
      }
    }
  }

  private backoffDelay(failures: number): number {
    const exponential = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** failures);
    return Math.round(exponential * (0.5 + this.random() / 2));
  }

  private rateLimitDelay(): number {
    return Math.round(this.retry.rateLimitDelayMs * (1 + this.random() / 4));
  }

  private async send(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
    limits: {
      maxBytes: number;
      timeoutMs?: number;
      tooLarge: (size: number) => Error;
      failure: (thrown: unknown) => Error;
      /** Called with the status before the body is read; throwing discards the body. */
      beforeBody?: (status: number) => void;
    },
  ): Promise<RawResponse> {
    const started = Date.now();
    const signal = limits.timeoutMs ? AbortSignal.timeout(limits.timeoutMs) : undefined;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        dispatcher: this.agent,
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        signal,
        headersTimeout: limits.timeoutMs ?? this.headersTimeoutMs,
        bodyTimeout: limits.timeoutMs ?? this.bodyTimeoutMs,
      });
    } catch (thrown) {
      throw limits.failure(thrown);
    }
    try {
      limits.beforeBody?.(response.statusCode);
    } catch (thrown) {
      await discard(response.body);
      throw thrown;
    }
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBytes) {
      await discard(response.body);
      throw limits.tooLarge(declared);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > limits.maxBytes) {
          response.body.destroy();
          throw limits.tooLarge(size);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (thrown) {
      if (thrown instanceof BooruError) throw thrown;
      throw limits.failure(thrown);
    }
    const contentType = String(response.headers['content-type'] ?? '');
    this.logger.debug(
      { method, url: redactUrl(url), status: response.statusCode, bytes: size, durationMs: Date.now() - started },
      'booru request',
    );
    return { status: response.statusCode, contentType, body: Buffer.concat(chunks) };
  }
}
