/**
 * One request, read to the end under a size cap: the streaming core under both API calls and media downloads of
 * {@link BooruHttp}. A declared Content-Length over the cap fails at once; a streamed body is aborted past it.
 */
import { type Dispatcher, request } from 'undici';
import type { Logger } from '../shared/logger.js';
import { BooruError, redactUrl } from './booru-error.js';
import { discard, type RawResponse } from './http-errors.js';

/** One request to the booru (each retry is its own), as metrics and readiness see it. */
export interface BooruRequestEvent {
  /** `api` for the booru's JSON API, `media` for image downloads. */
  target: 'api' | 'media';
  method: string;
  /** The HTTP status, or `error` when the connection failed or timed out before the headers. */
  status: number | 'error';
  /** Time to the response headers (or to the failure). */
  seconds: number;
}

/** What every request of one helper shares: its timeouts, its log and its metrics hook. */
export interface SendContext {
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  logger: Logger;
  onRequest: ((event: BooruRequestEvent) => void) | undefined;
}

/** The limits and error mapping of one request. */
export interface SendLimits {
  dispatcher: Dispatcher;
  target: BooruRequestEvent['target'];
  maxBytes: number;
  timeoutMs?: number;
  tooLarge: (size: number) => Error;
  failure: (thrown: unknown) => Error;
  /** Called with the status and headers before the body is read; throwing discards the body. */
  beforeBody?: (status: number, headers: Dispatcher.ResponseData['headers']) => void;
}

/** Send one request and read its whole body, or throw what `limits` maps the failure to. */
export async function sendBounded(
  context: SendContext,
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
  limits: SendLimits,
): Promise<RawResponse> {
  const started = Date.now();
  const signal = limits.timeoutMs ? AbortSignal.timeout(limits.timeoutMs) : undefined;
  const observe = (status: number | 'error') =>
    context.onRequest?.({ target: limits.target, method, status, seconds: (Date.now() - started) / 1000 });
  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, {
      dispatcher: limits.dispatcher,
      method: method as Dispatcher.HttpMethod,
      headers,
      body,
      signal,
      headersTimeout: limits.timeoutMs ?? context.headersTimeoutMs,
      bodyTimeout: limits.timeoutMs ?? context.bodyTimeoutMs,
    });
  } catch (thrown) {
    observe('error');
    throw limits.failure(thrown);
  }
  observe(response.statusCode);
  try {
    limits.beforeBody?.(response.statusCode, response.headers);
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
  context.logger.debug(
    { method, url: redactUrl(url), status: response.statusCode, bytes: size, durationMs: Date.now() - started },
    'booru request',
  );
  return { status: response.statusCode, contentType, body: Buffer.concat(chunks) };
}
