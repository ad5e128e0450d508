/**
 * The one HTTP helper every booru client receives by injection: keep-alive connection pool (undici Agent), a
 * mandatory custom User-Agent, HTTP Basic auth, timeouts, a response size cap, JSON parsing at the edge, retries with
 * jittered exponential backoff, and booru-specific error mapping (BOORU-API §1.1, §1.2, §4).
 */
import { Agent, type Dispatcher } from 'undici';
import { AppError, ConfigError, coerceError } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/logger.js';
import type { ResolveHost } from './address-guard.js';
import { BooruError } from './booru-error.js';
import { parseJson, type RawResponse, throwForStatus, transportError } from './http-errors.js';
import { type BooruRequestEvent, type SendContext, sendBounded } from './http-send.js';
import { type GetBytesOptions, MediaDownloader } from './media-download.js';
import { RateLimiter } from './rate-limiter.js';

export { hostAllowed } from './address-guard.js';
export type { BooruRequestEvent } from './http-send.js';
export { type GetBytesOptions, siteHosts } from './media-download.js';

interface BooruCredentials {
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
  /**
   * Pause after HTTP 429 in ms, for every request of this helper (not only the one refused): Danbooru's penalty
   * bucket needs ≈31 s and every request while limited extends it, so at least 35 s in production. (Default: 35 000)
   */
  rateLimitDelayMs: number;
  /** Further attempts after HTTP 429; then BOORU_RATE_LIMITED (retryable) is thrown. (Default: 1) */
  rateLimitRetries: number;
}

export interface BooruHttpOptions {
  /** Site root, e.g. `https://danbooru.donmai.us`; a path prefix is kept. */
  baseUrl: string;
  /** Required and unique, e.g. `booru-tagger/0.1 (+operator contact)`: Cloudflare blocks browser and library UAs. */
  userAgent: string;
  /** Sent as HTTP Basic auth (default), or as query parameters where the dialect needs it (see `queryAuth`). */
  credentials?: BooruCredentials | null;
  /**
   * Send the credentials as these query parameters instead of Basic auth: Moebooru `['login', 'password_hash']`,
   * Gelbooru `['user_id', 'api_key']`. They are redacted from every log line and error message.
   */
  queryAuth?: readonly [loginParam: string, keyParam: string];
  /**
   * The `Authorization` scheme of header credentials: `Basic` (default) or `Token` (Szurubooru: the same
   * `base64(login:key)` under another name). Never logged.
   */
  authScheme?: 'Basic' | 'Token';
  /** API reads (GET) per second; 0 = unlimited. (Default: 0) */
  readRate?: number;
  /** Burst of API reads allowed after a quiet spell. (Default: 5) */
  readBurst?: number;
  /** API writes (PUT/POST/PATCH/DELETE) per second; 0 = unlimited. Danbooru Members get 1/s. (Default: 1) */
  writeRate?: number;
  /** Burst of writes allowed after a quiet spell (Danbooru allows 200; stay well below). (Default: 10) */
  writeBurst?: number;
  /**
   * Hosts media may be downloaded from when a call names none: exact names, or `*.example.com` / `.example.com`
   * for a domain and its subdomains. (Default: the API's own site: its host and the subdomains of its domain, e.g.
   * danbooru.donmai.us ⇒ cdn.donmai.us.)
   */
  mediaHosts?: readonly string[];
  /**
   * Non-public destinations media downloads may reach (SSRF guard, see address-guard.ts): host names (`*.domain`
   * allowed) whose addresses are not checked, and IPs or CIDR subnets (`10.0.0.0/8`, `fd00::/8`). The booru's own host
   * is always trusted. Every other media host must resolve to public addresses only. (Default: none)
   */
  mediaAllowPrivate?: readonly string[];
  /** Redirects a media download may follow, each to an allowed host and re-checked. (Default: 5) */
  maxMediaRedirects?: number;
  /** Injected for tests: the DNS resolver media connections use (and pin). (Default: the system's, every address) */
  resolveHost?: ResolveHost;
  /** Injected for tests: the clock the rate limits and the 429 pause use. (Default: Date.now) */
  now?: () => number;
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
  /** Told of every request's outcome (metrics, readiness): its status, or `error` when no answer came. */
  onRequest?: (event: BooruRequestEvent) => void;
}

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface JsonRequestOptions {
  query?: Record<string, string | number | undefined>;
  /** Sent as `application/x-www-form-urlencoded`. */
  form?: Record<string, string>;
  /** Sent as `application/json`. */
  json?: unknown;
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
  private readonly queryAuth: Record<string, string>;
  private readonly media: MediaDownloader;
  private readonly readLimiter: RateLimiter;
  private readonly writeLimiter: RateLimiter;
  private readonly now: () => number;
  /** After a 429, no request leaves before this instant (ms since epoch). */
  private pausedUntil = 0;
  private closed = false;
  private readonly onRequest: ((event: BooruRequestEvent) => void) | undefined;

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
    this.onRequest = options.onRequest;
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
    this.now = options.now ?? Date.now;
    const timing = { now: this.now, sleep: this.sleep };
    this.readLimiter = new RateLimiter(options.readRate ?? 0, options.readBurst ?? 5, timing);
    this.writeLimiter = new RateLimiter(options.writeRate ?? 1, options.writeBurst ?? 10, timing);
    this.queryAuth = {};
    if (options.credentials && options.queryAuth) {
      this.queryAuth[options.queryAuth[0]] = options.credentials.login;
      this.queryAuth[options.queryAuth[1]] = options.credentials.apiKey;
    } else if (options.credentials) {
      const token = Buffer.from(`${options.credentials.login}:${options.credentials.apiKey}`).toString('base64');
      this.headers['authorization'] = `${options.authScheme ?? 'Basic'} ${token}`;
    }
    this.media = new MediaDownloader(
      {
        ...options,
        baseUrl: this.baseUrl,
        userAgent: this.headers['user-agent']!,
        authorization: this.headers['authorization'],
      },
      this.sendContext(),
      (method, url, attempt) => this.withRetry(method, url, attempt),
    );
  }

  /** GET `path` (relative to the base URL) and return the parsed JSON. */
  getJson(path: string, query?: JsonRequestOptions['query']): Promise<unknown> {
    return this.requestJson('GET', path, { query });
  }

  /**
   * GET `path` and turn the body text into a value with `parse` (XML or hand-parsed dialects). A `parse` that throws
   * makes the attempt fail as a retryable BOORU_BAD_RESPONSE (a garbled or cut-off page); otherwise the same retries
   * and errors as {@link requestJson}.
   */
  async getParsed<T>(path: string, query: JsonRequestOptions['query'], parse: (text: string) => T): Promise<T> {
    const url = this.buildUrl(path, { ...query, ...this.queryAuth });
    return this.withRetry('GET', url, async () => {
      const raw = await this.sendApi('GET', url, { ...this.headers }, undefined);
      const text = raw.body.toString('utf8');
      try {
        return parse(text);
      } catch (thrown) {
        const why = thrown instanceof Error ? thrown.message.replace(/ \[.*\]$/, '') : String(thrown);
        throw new BooruError('BOORU_BAD_RESPONSE', `unreadable body (${why}): ${JSON.stringify(text.slice(0, 80))}`, {
          method: 'GET',
          url,
          status: raw.status,
          retryable: true,
          cause: thrown,
        });
      }
    });
  }

  /** GET `path` and return the body as text; same retries and errors as {@link requestJson}. */
  getText(path: string, query?: JsonRequestOptions['query']): Promise<string> {
    return this.getParsed(path, query, (text) => text);
  }

  /** Milliseconds until requests may leave again after a 429 (0 when not paused). */
  pausedForMs(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  /**
   * Send one API request and return the parsed JSON body. Retries 5xx, connection errors and timeouts (also for
   * writes: callers only send idempotent writes, such as Danbooru's snapshot-form tag edit), unparseable bodies of
   * GETs (a truncated or garbled page), and 429 after pausing every request of this helper. Reads and writes wait
   * for their rate limits before each attempt, retries included.
   * @throws BooruError BOORU_AUTH (401), BOORU_BLOCKED (non-JSON 403), BOORU_FORBIDDEN (JSON 403), BOORU_NOT_FOUND
   *   (404), BOORU_RATE_LIMITED (429), BOORU_TIMEOUT, BOORU_HTTP (other statuses, connection errors),
   *   BOORU_BAD_RESPONSE (not JSON, or too large).
   */
  async requestJson(method: HttpMethod, path: string, options: JsonRequestOptions = {}): Promise<unknown> {
    const url = this.buildUrl(path, { ...options.query, ...this.queryAuth });
    const headers = { ...this.headers };
    let body: string | undefined;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    } else if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    return this.withRetry(method, url, async () => {
      const raw = await this.sendApi(method, url, headers, body);
      try {
        return parseJson(raw, method, url);
      } catch (thrown) {
        // A garbled or cut-off page is worth another try for a read; a write is verified by a re-read anyway.
        if (method === 'GET' && thrown instanceof BooruError) {
          throw new BooruError('BOORU_BAD_RESPONSE', thrown.message.replace(/ \[.*\]$/, ''), {
            method,
            url,
            status: raw.status,
            retryable: true,
            cause: thrown.cause,
          });
        }
        throw thrown;
      }
    });
  }

  private async sendApi(
    method: HttpMethod,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<RawResponse> {
    await (method === 'GET' ? this.readLimiter : this.writeLimiter).acquire();
    const raw = await sendBounded(this.sendContext(), method, url, headers, body, {
      dispatcher: this.agent,
      target: 'api',
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
  }

  /**
   * Download media bytes (streamed), e.g. a post's 360x360 variant. Credentials are sent only to the API's own origin.
   * SSRF guard: the host must be allowed (`mediaHosts`), and every address it resolves to public or trusted
   * (`mediaAllowPrivate`, the booru's own host); the socket connects to the address that was checked. Redirects are
   * followed by hand, at most `maxMediaRedirects`, each hop checked again; one to a host that is not allowed is refused.
   * @throws BooruError MEDIA_TOO_LARGE (declared or streamed size over maxBytes), MEDIA_FETCH (non-2xx, disallowed
   *   host or address, refused redirect, timeout, connection error; retryable when a later try may succeed).
   */
  getBytes(url: string, options: GetBytesOptions): Promise<Buffer> {
    return this.media.getBytes(url, options);
  }

  /** Close the connection pool (only when this helper created it). */
  async close(): Promise<void> {
    if (!this.ownsAgent || this.closed) return;
    this.closed = true;
    await Promise.all([this.agent.close(), this.media.close()]);
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
      await this.waitWhilePaused();
      const started = Date.now();
      try {
        return await attempt();
      } catch (thrown) {
        const error = coerceError(thrown);
        const isRateLimit = error instanceof AppError && error.code === 'BOORU_RATE_LIMITED';
        const retryable = error instanceof AppError && error.retryable;
        const canRetry = isRateLimit ? rateLimited < this.retry.rateLimitRetries : failures < this.retry.retries;
        const delayMs = isRateLimit ? this.rateLimitDelay() : this.backoffDelay(failures);
        // A 429 pauses every request of this helper, not just this one, and also when we give up: each request sent
        // while limited extends Danbooru's lockout, so nothing may leave until the pause is over.
        if (isRateLimit) this.pausedUntil = Math.max(this.pausedUntil, this.now() + delayMs);
        if (!retryable || !canRetry) throw error;
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
        if (!isRateLimit) await this.sleep(delayMs);
      }
    }
  }

  private async waitWhilePaused(): Promise<void> {
    const until = this.pausedUntil;
    const wait = until - this.now();
    if (wait <= 0) return;
    await this.sleep(wait);
    // With an injected sleep the clock may not have moved: the pause we waited out is over either way.
    if (this.pausedUntil === until) this.pausedUntil = 0;
  }

  private backoffDelay(failures: number): number {
    const exponential = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** failures);
    return Math.round(exponential * (0.5 + this.random() / 2));
  }

  private rateLimitDelay(): number {
    return Math.round(this.retry.rateLimitDelayMs * (1 + this.random() / 4));
  }

  private sendContext(): SendContext {
    return {
      headersTimeoutMs: this.headersTimeoutMs,
      bodyTimeoutMs: this.bodyTimeoutMs,
      logger: this.logger,
      onRequest: this.onRequest,
    };
  }
}
