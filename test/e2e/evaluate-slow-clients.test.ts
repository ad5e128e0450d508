/**
 * Slow clients against /evaluate and the upload page (issue 16): bodies are read inside a few slots, so a client that
 * trickles its body must not hold a slot for ever (408 after the body timeout, connection closed) and a request that
 * finds every slot taken must not wait for ever (503 with Retry-After after the queue timeout). Real dashboard server
 * on loopback, slow clients as raw TCP sockets that send headers and a few body bytes, then nothing.
 */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { FormData, fetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../src/dashboard/app.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import type { EvaluateDeps } from '../../src/dashboard/evaluate.service.js';
import { EVALUATE_SLOTS } from '../../src/dashboard/routes/evaluate.routes.js';
import { ApiTokenRepository } from '../../src/db/api-token.repository.js';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { InferenceBatcher } from '../../src/tagger/inference-batcher.js';
import { OnnxTagger } from '../../src/tagger/onnx-tagger.js';
import { Client } from '../helpers/inject-client.js';
import { makeSolidPng } from '../helpers/images.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { dashboardRepos } from '../helpers/seed.js';

const BOUNDARY = 'slowclientboundary';

/** A client that sends a multipart request's headers and first bytes, then stalls; resolves with what it got back. */
function slowClient(port: number, path: string, headers: Record<string, string> = {}) {
  const socket: Socket = connect(port, '127.0.0.1');
  let received = '';
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.on('end', () => resolve(received));
    socket.on('close', () => resolve(received));
    socket.on('error', () => resolve(received));
  });
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
      `Content-Length: 1000000\r\n${extra.join('')}\r\n` +
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="slow.png"\r\n` +
      'Content-Type: image/png\r\n\r\n\x89PNG',
  );
  return { socket, answer };
}

const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);

describe('/evaluate and /upload against slow clients', () => {
  const database = useTestDatabase();
  let batcher: InferenceBatcher;
  const apps: FastifyInstance[] = [];
  const sockets: Socket[] = [];

  const start = async (evaluate: Partial<EvaluateDeps>) => {
    const { prisma } = database();
    const app = await buildDashboard({
      users: new UserRepository(prisma),
      suggestions: new SuggestionRepository(prisma),
      ...dashboardRepos(prisma),
      apiTokens: new ApiTokenRepository(prisma),
      audit: new AuditRepository(prisma),
      logger: silentLogger,
      evaluate: {
        model: async () => batcher,
        open: true,
        maxFileBytes: 1024 * 1024,
        maxFiles: 2,
        ratePerMinute: 0,
        ...evaluate,
      },
    });
    apps.push(app);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { app, url, port: Number(new URL(url).port) };
  };
  const slow = (port: number, path: string, headers?: Record<string, string>) => {
    const client = slowClient(port, path, headers);
    sockets.push(client.socket);
    return client.answer;
  };
  const evaluate = async (url: string) => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(await makeSolidPng(32, 32, [10, 230, 240]))]), 'aqua.png');
    form.append('format', 'json');
    const response = await fetch(`${url}/evaluate`, { method: 'POST', body: form });
    return { status: response.status, text: await response.text() };
  };

  beforeAll(async () => {
    const tagger = await OnnxTagger.load(join(process.cwd(), 'models', 'test-colors'), {
      device: 'cpu',
      logger: silentLogger,
    });
    batcher = new InferenceBatcher(tagger, { maxBatch: 8, windowMs: 5 });
  }, 60_000);

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await batcher?.close();
  });

  it('should answer 408 to clients whose bodies stall, freeing the slots for the next request', async () => {
    const { url, port } = await start({ bodyTimeoutMs: 300, queueTimeoutMs: 60_000 });
    const stalled = Array.from({ length: EVALUATE_SLOTS }, () => slow(port, '/evaluate'));

    const next = await evaluate(url);

    expect(next.status, next.text).toBe(200);
    for (const raw of await Promise.all(stalled)) {
      expect(statusOf(raw)).toBe(408);
      expect(raw).toMatch(/connection: close/i);
      expect(raw).toContain('"error":"RequestTimeout"');
    }
  });

  it('should answer 503 with Retry-After to requests that wait past the queue timeout while every slot is held', async () => {
    const { url, port } = await start({ bodyTimeoutMs: 60_000, queueTimeoutMs: 200 });
    // Two more than there are slots: whichever arrive first hold the slots, the last two wait and are turned away.
    const clients = Array.from({ length: EVALUATE_SLOTS + 2 }, () => slow(port, '/evaluate'));
    const settled: string[] = [];
    for (const client of clients) void client.then((raw) => settled.push(raw));

    while (settled.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));

    for (const raw of settled) {
      expect(statusOf(raw)).toBe(503);
      expect(raw).toMatch(/retry-after: 1\r\n/i);
      expect(raw).toContain('"error":"ServiceUnavailable"');
    }
    // The slots are still held by the stalled bodies (60 s): a well-behaved request is turned away too, not hung.
    expect((await evaluate(url)).status).toBe(503);
  });

  it('should apply both limits to the upload page', async () => {
    const { prisma } = database();
    await new UserRepository(prisma).create({
      name: 'uploader',
      role: 'viewer',
      passwordHash: await hashPassword('uploader-pass-1'),
    });
    const { app, url, port } = await start({ bodyTimeoutMs: 300, queueTimeoutMs: 60_000 });
    const client = new Client(app);
    await client.signIn('uploader', 'uploader-pass-1');
    const session = {
      cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      'x-csrf-token': client.csrf,
    };
    const stalled = [slow(port, '/upload', session), slow(port, '/upload', session)];

    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(await makeSolidPng(32, 32, [10, 230, 240]))]), 'aqua.png');
    const next = await fetch(`${url}/upload`, { method: 'POST', body: form, headers: session });

    expect(next.status, await next.text()).toBe(200);
    for (const raw of await Promise.all(stalled)) expect(statusOf(raw)).toBe(408);
  });
});
