/**
 * Media downloads for {@link BooruHttp}: the host allow-list, the SSRF guard (addresses checked inside the socket's
 * own lookup), hand-followed redirects each checked again, the size cap and the whole-download deadline.
 */
import { isIP } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { coerceError, ConfigError } from '../shared/errors.js';
import {
  addressPermitted,
  findAddressRefusal,
  guardedLookup,
  hostAllowed,
  type PrivateAllowance,
  privateAllowance,
  type ResolveHost,
  systemResolve,
} from './address-guard.js';
import { BooruError, redactUrl } from './booru-error.js';
import { transportError } from './http-errors.js';
import { type SendContext, sendBounded } from './http-send.js';

export interface GetBytesOptions {
  /** Abort with MEDIA_TOO_LARGE past this many bytes (a larger declared Content-Length fails at once). */
  maxBytes: number;
  /** Whole-download deadline in ms. */
  timeoutMs: number;
  /** When given, only these host names may be fetched (MEDIA_FETCH otherwise). */
  allowedHosts?: readonly string[];
  /**
   * A URL from a dashboard viewer: never sent credentials, and refused (MEDIA_FETCH) on any port but 80 and 443 unless
   * it is the booru's own origin, so the upload page cannot probe other services of an allowed host. (Default: false)
   */
  untrusted?: boolean;
}

/** What {@link MediaDownloader} is built from: the media options of `BooruHttpOptions`, resolved by `BooruHttp`. */
export interface MediaDownloaderOptions {
  baseUrl: string;
  userAgent: string;
  /** The `Authorization` header of the API, sent only to the booru's own origin. */
  authorization: string | undefined;
  mediaHosts?: readonly string[];
  mediaAllowPrivate?: readonly string[];
  maxMediaRedirects?: number;
  resolveHost?: ResolveHost;
  connectTimeoutMs?: number;
  /** An injected dispatcher (tests, proxies): addresses are then checked before the request, without pinning. */
  dispatcher?: Dispatcher;
}

/** Runs one attempt under the helper's retries and 429 pause. */
export type RetryRunner = <T>(method: string, url: string, attempt: () => Promise<T>) => Promise<T>;

/** Thrown inside a media request's `beforeBody` to stop at a redirect (its body is discarded). */
const REDIRECT = Symbol('redirect');

export class MediaDownloader {
  private readonly baseUrl: string;
  private readonly userAgent: string;
  private readonly authorization: string | undefined;
  private readonly mediaHosts: readonly string[];
  /** Media downloads get their own pool, whose sockets resolve through the SSRF guard. */
  private readonly agent: Dispatcher;
  private readonly ownsAgent: boolean;
  private readonly allowance: PrivateAllowance;
  private readonly resolveHost: ResolveHost;
  private readonly maxMediaRedirects: number;

  constructor(
    options: MediaDownloaderOptions,
    private readonly context: SendContext,
    private readonly withRetry: RetryRunner,
  ) {
    this.baseUrl = options.baseUrl;
    this.userAgent = options.userAgent;
    this.authorization = options.authorization;
    this.mediaHosts = options.mediaHosts?.length ? options.mediaHosts : siteHosts(this.baseUrl);
    try {
      const trusted = privateAllowance(options.mediaAllowPrivate ?? []);
      // The operator configured the booru's address: its own host may be private (a LAN booru, the demo on loopback).
      this.allowance = { hosts: [...trusted.hosts, new URL(this.baseUrl).hostname], subnets: trusted.subnets };
    } catch (thrown) {
      throw new ConfigError([`mediaAllowPrivate: ${coerceError(thrown).message}`]);
    }
    this.resolveHost = options.resolveHost ?? systemResolve;
    this.maxMediaRedirects = options.maxMediaRedirects ?? 5;
    this.ownsAgent = !options.dispatcher;
    this.agent =
      options.dispatcher ??
      new Agent({
        connect: {
          timeout: options.connectTimeoutMs ?? 10_000,
          lookup: guardedLookup(this.allowance, this.resolveHost),
        } as Agent.Options['connect'],
        headersTimeout: context.headersTimeoutMs,
        bodyTimeout: context.bodyTimeoutMs,
        keepAliveTimeout: 30_000,
        connections: 8,
      });
  }

  /** See {@link BooruHttp.getBytes}. */
  async getBytes(url: string, options: GetBytesOptions): Promise<Buffer> {
    const method = 'GET';
    const allowed = options.allowedHosts ?? this.mediaHosts;
    const untrusted = options.untrusted ?? false;
    const first = this.checkMediaUrl(url, allowed, url, untrusted);
    return this.withRetry(method, url, async () => {
      let target = first;
      for (let hop = 0; ; hop += 1) {
        await this.checkAddressWithoutPinning(target);
        const headers: Record<string, string> = { 'user-agent': this.userAgent, accept: '*/*' };
        const auth = this.authorization;
        if (auth && !untrusted && target.origin === new URL(this.baseUrl).origin) headers['authorization'] = auth;
        const current = target.href;
        let location: string | null = null;
        const response = await sendBounded(this.context, method, current, headers, undefined, {
          dispatcher: this.agent,
          target: 'media',
          maxBytes: options.maxBytes,
          timeoutMs: options.timeoutMs,
          tooLarge: (size) =>
            new BooruError('MEDIA_TOO_LARGE', `media larger than ${options.maxBytes} bytes (${size})`, {
              method,
              url: current,
            }),
          failure: (thrown) => {
            const refusal = findAddressRefusal(thrown);
            if (refusal)
              return new BooruError('MEDIA_FETCH', refusal.message, { method, url: current, cause: refusal });
            return transportError(thrown, method, current, 'MEDIA');
          },
          beforeBody: (status, responseHeaders) => {
            const redirect = responseHeaders['location'];
            if (status >= 300 && status < 400 && typeof redirect === 'string') {
              location = redirect;
              throw REDIRECT;
            }
            if (status < 200 || status >= 300) {
              throw new BooruError('MEDIA_FETCH', 'media download failed', {
                method,
                url: current,
                status,
                retryable: status >= 500 || status === 429,
              });
            }
          },
        }).catch((thrown: unknown) => {
          if (thrown === REDIRECT) return null;
          throw thrown;
        });
        if (response) return response.body;
        if (hop >= this.maxMediaRedirects) {
          throw new BooruError('MEDIA_FETCH', `more than ${this.maxMediaRedirects} redirects`, {
            method,
            url: current,
          });
        }
        target = this.checkMediaUrl(new URL(location!, current).href, allowed, current, untrusted);
      }
    });
  }

  /** Close the media pool (only when this downloader created it). */
  async close(): Promise<void> {
    if (this.ownsAgent) await this.agent.close();
  }

  /**
   * A media URL (or a redirect's target) that may be fetched: http(s), an allowed host, and, for an IP literal (which
   * never goes through DNS), a permitted address. Refusals are final (not retryable): the post is failed with the why.
   */
  private checkMediaUrl(url: string, allowed: readonly string[], from: string, untrusted: boolean): URL {
    const method = 'GET';
    const redirected = url !== from;
    let target: URL;
    try {
      target = new URL(url);
    } catch (thrown) {
      throw new BooruError('MEDIA_FETCH', 'invalid media URL', { method, url, cause: thrown });
    }
    const via = redirected ? ` (redirected from ${redactUrl(from)})` : '';
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new BooruError('MEDIA_FETCH', `media URL scheme ${target.protocol} is not allowed${via}`, { method, url });
    }
    if (!hostAllowed(target.hostname, allowed)) {
      throw new BooruError('MEDIA_FETCH', `media host ${target.hostname} is not allowed${via}`, { method, url });
    }
    const webPort = target.port === '' || target.port === '80' || target.port === '443';
    if (untrusted && !webPort && target.origin !== new URL(this.baseUrl).origin) {
      throw new BooruError('MEDIA_FETCH', `media port ${target.port} is not allowed (only 80 and 443)${via}`, {
        method,
        url,
      });
    }
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal) !== 0 && !addressPermitted(target.hostname, literal, this.allowance)) {
      throw new BooruError(
        'MEDIA_FETCH',
        `media address ${literal} is not public: refused (trust it with TAGGER_MEDIA_ALLOW_PRIVATE)${via}`,
        { method, url },
      );
    }
    return target;
  }

  /**
   * With an injected dispatcher the guarded socket lookup is not in the path: resolve and check here instead (tests
   * and proxies; the address cannot be pinned then). With our own pool this is a no-op: the socket checks.
   */
  private async checkAddressWithoutPinning(target: URL): Promise<void> {
    if (this.ownsAgent || isIP(target.hostname.replace(/^\[|\]$/g, '')) !== 0) return;
    const addresses = await this.resolveHost(target.hostname);
    const refused = addresses.find((a) => !addressPermitted(target.hostname, a.address, this.allowance));
    if (refused) {
      throw new BooruError(
        'MEDIA_FETCH',
        `media host ${target.hostname} resolves to the non-public address ${refused.address}: refused`,
        { method: 'GET', url: target.href },
      );
    }
  }
}

/** The API's own site: its host, and its registrable-looking domain with every subdomain. */
export function siteHosts(baseUrl: string): string[] {
  const host = new URL(baseUrl).hostname;
  if (/^[\d.]+$/.test(host) || host.includes(':') || !host.includes('.')) return [host];
  return [host, `*.${host.split('.').slice(-2).join('.')}`];
}
