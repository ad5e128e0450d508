/**
 * The booru credentials (API key, Moebooru password hash, Gelbooru user id and key, Szurubooru token) never reach a log line or an
 * error message, whatever goes wrong: 401, 403, 500 with retries, a garbled page, a refused media host. And the size
 * cap on API responses: a page larger than `maxResponseBytes` is refused while streaming, not buffered whole.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BooruError } from '../../src/booru/booru-error.js';
import { BooruHttp, type BooruHttpOptions } from '../../src/booru/http.js';
import { createLogger } from '../../src/shared/logger.js';

const KEY = 'K3y-0f-the-b0t-NEVER-SHOWN';
const LOGIN = 'tagger_bot';

/** Answers by path: /401, /403, /500, /garbled, /big (40 KiB of JSON, streamed without a length), /ok. */
const received: string[] = [];

function startBooru(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    received.push(`${req.url} ${req.headers.authorization ?? ''}`);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/401') res.writeHead(401, { 'content-type': 'application/json' }).end('{"success":false}');
    else if (path === '/403') res.writeHead(403, { 'content-type': 'text/html' }).end('<html>cf</html>');
    else if (path === '/500') res.writeHead(500).end('oops');
    else if (path === '/400-echo') {
      // Szurubooru echoes a header it cannot read in its error (middleware/authenticator.py).
      const description = `Authorization header values are not properly formed. Supplied header ${req.headers.authorization}. Got error: x`;
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ name: 'ValidationError', title: 'Bad Request', description }));
    } else if (path === '/garbled') res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": 1,');
    else if (path === '/big') {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < 40; i++) res.write(`${i === 0 ? '[' : ','}"${'x'.repeat(1020)}"`);
      res.end(']');
    } else res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

describe('booru credentials in logs and errors', () => {
  let booru: { server: Server; url: string };
  const lines: string[] = [];
  const logger = createLogger({
    level: 'trace',
    destination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  const https: BooruHttp[] = [];

  const httpFor = (overrides: Partial<BooruHttpOptions> = {}) => {
    const http = new BooruHttp({
      baseUrl: booru.url,
      userAgent: 'booru-tagger/0.1 (secrets test)',
      credentials: { login: LOGIN, apiKey: KEY },
      retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 2 },
      logger,
      ...overrides,
    });
    https.push(http);
    return http;
  };

  beforeAll(async () => {
    booru = await startBooru();
  });

  afterAll(async () => {
    await Promise.all(https.map((h) => h.close()));
    booru.server.closeAllConnections();
    await new Promise<void>((resolve) => booru.server.close(() => resolve()));
  });

  it.each([
    ['Basic auth', {}],
    ['query auth (Moebooru password_hash)', { queryAuth: ['login', 'password_hash'] as const }],
    ['query auth (Gelbooru user_id, api_key)', { queryAuth: ['user_id', 'api_key'] as const }],
    ['Token auth (Szurubooru)', { authScheme: 'Token' as const }],
  ])('should keep the key out of every error and log line (%s)', async (_name, overrides) => {
    const sut = httpFor(overrides);
    const errors: unknown[] = [];
    for (const path of ['/401', '/403', '/500', '/garbled', '/400-echo', '/ok']) {
      await sut.getJson(path).catch((thrown: unknown) => errors.push(thrown));
    }
    await sut.getBytes('http://evil.example/x.png', { maxBytes: 10, timeoutMs: 100 }).catch((t) => errors.push(t));
    expect(errors).toHaveLength(6);
    for (const error of errors) {
      expect(error).toBeInstanceOf(BooruError);
      const seen = JSON.stringify({
        message: (error as BooruError).message,
        url: (error as BooruError).url,
        details: (error as BooruError).details,
        stack: (error as BooruError).stack,
      });
      expect(seen).not.toContain(KEY);
      expect(seen).not.toContain(Buffer.from(`${LOGIN}:${KEY}`).toString('base64'));
    }
    // The key did travel (in the query or the Authorization header): the redaction above is not vacuous.
    const sent = received.at(-1)!;
    expect(sent.includes(KEY) || sent.includes(Buffer.from(`${LOGIN}:${KEY}`).toString('base64'))).toBe(true);
    const log = lines.join('');
    expect(log).toContain('booru request'); // debug lines were written
    expect(log).not.toContain(KEY);
    expect(log).not.toContain(Buffer.from(`${LOGIN}:${KEY}`).toString('base64'));
  });

  it('should refuse an API page over maxResponseBytes while streaming it', async () => {
    const sut = httpFor({ maxResponseBytes: 16 * 1024, retry: { retries: 0 } });
    const error = (await sut.getJson('/big').catch((thrown: unknown) => thrown)) as BooruError;
    expect(error).toBeInstanceOf(BooruError);
    expect(error.code).toBe('BOORU_BAD_RESPONSE');
    expect(error.message).toMatch(/response larger than 16384 bytes/);
  });
});
