/**
 * Wire-level pieces of the fake Danbooru: request bodies, Danbooru's error body, injected faults, relation rows.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * HTTP status with a Danbooru JSON error body, or a misbehaviour: `timeout` never answers, `slow` answers normally
 * after the server's `slowMs`, `reset` drops the connection, `html403` is Cloudflare's challenge page, `malformed`
 * is cut-off JSON with a matching length, `truncated` declares a longer body than it sends and hangs up, `empty`
 * answers a listing with an empty page, `unsaved` answers an edit with HTTP 200 and saves nothing, `html502` is a
 * proxy's HTML "Bad Gateway" page, `html200` a maintenance page served with HTTP 200, `repeat` answers a listing
 * with the previous listing again (a stale cache), `skip` answers it without its second post (a lagging replica).
 */
export type FakeFault =
  | number
  | 'timeout'
  | 'slow'
  | 'html403'
  | 'malformed'
  | 'truncated'
  | 'empty'
  | 'unsaved'
  | 'reset'
  | 'html502'
  | 'html200'
  | 'repeat'
  | 'skip'
  /** A write the booru saves, answered by a proxy in front of it with its own 200 HTML page. */
  | 'savedHtml200'
  /** A write the booru saves, answered 200 with an empty body (a proxy or cache dropped it). */
  | 'savedEmpty';

export const CONTENT_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  mp4: 'video/mp4',
  webm: 'video/webm',
  zip: 'application/zip',
  swf: 'application/x-shockwave-flash',
};

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Danbooru's error body (application_controller.rb). */
export function sendError(res: ServerResponse, status: number, error: string, message: string): void {
  sendJson(res, status, { success: false, error, message, backtrace: [] });
}

/** Returns true when the fault answered the request. */
export function applyFault(fault: FakeFault, req: IncomingMessage, res: ServerResponse): boolean {
  if (fault === 'timeout') return true; // never answer; close() drops the connection
  if (fault === 'reset') {
    req.socket.destroy();
    return true;
  }
  if (fault === 'html403') {
    res.writeHead(403, { 'content-type': 'text/html; charset=UTF-8', 'cf-mitigated': 'challenge' });
    res.end('<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body></body></html>');
    return true;
  }
  if (fault === 'html502' || fault === 'html200') {
    const [status, title] = fault === 'html502' ? [502, '502 Bad Gateway'] : [200, 'Down for maintenance'];
    res.writeHead(status, { 'content-type': 'text/html' });
    res.end(`<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center><hr></body></html>`);
    return true;
  }
  if (fault === 'truncated') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': '4096' });
    res.write('[{"id": 1, "tag_string": "1girl sol');
    setTimeout(() => res.destroy(), 5);
    return true;
  }
  if (fault === 'malformed') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end('[{"id": 1, "tag_string": "1girl sol');
    return true;
  }
  if (typeof fault === 'number') {
    const messages: Record<number, [string, string]> = {
      429: ['RateLimiter::RateLimitError', "You're doing that too fast. Please wait a bit and try again."],
      500: ['ActiveRecord::QueryCanceled', 'The database timed out running your query.'],
      503: ['PG::ConnectionBad', 'The database is unavailable. Try again later.'],
    };
    const [error, message] = messages[fault] ?? ['Error', `HTTP ${fault}`];
    sendError(res, fault, error, message);
    return true;
  }
  return false;
}

/** Danbooru accepts PUT bodies as forms or JSON (`{"post":{"tag_string":…}}`); both become `post[field]` keys. */
export function parseBody(body: string, contentType: string | undefined): Record<string, string> {
  if (!body) return {};
  if (contentType?.includes('json')) {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed)) {
      if (value && typeof value === 'object') {
        for (const [field, inner] of Object.entries(value)) if (inner !== null) out[`${key}[${field}]`] = String(inner);
      } else if (value !== null && value !== undefined) out[key] = String(value);
    }
    return out;
  }
  return Object.fromEntries(new URLSearchParams(body));
}

/**
 * Rows of /tag_aliases.json and /tag_implications.json: the active pairs, then the `pending` ones (listed by
 * default, like every non-active status, unless `search[status]` asks for one).
 */
export function relationRows(pairs: [string, string][], url: URL, pending: [string, string][] = []): unknown[] {
  const status = url.searchParams.get('search[status]');
  const antecedents = url.searchParams.get('search[antecedent_name_comma]')?.split(',');
  const after = /^a(\d+)$/.exec(url.searchParams.get('page') ?? '')?.[1];
  return [...pairs.map((pair) => [...pair, 'active'] as const), ...pending.map((pair) => [...pair, 'pending'] as const)]
    .map(([from, to, state], index) => ({ id: index + 1, antecedent_name: from, consequent_name: to, status: state }))
    .filter((row) => !antecedents || antecedents.includes(row.antecedent_name))
    .filter((row) => status === null || status === row.status)
    .filter((row) => after === undefined || row.id > Number(after))
    .sort((a, b) => (after === undefined ? a.id - b.id : b.id - a.id));
}
