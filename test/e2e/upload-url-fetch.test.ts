/**
 * The upload page's URL fetch (issue 16): a URL a viewer types is fetched as `serve` wires it (evaluateDepsOf), and
 * must not turn the server into a port scanner or a credentialed client: only ports 80 and 443 (or the booru's own
 * origin), never the booru's credentials, and one generic message for every failure. Real fake Danbooru servers on
 * loopback, one standing in for another service on an allowed host.
 */
import { FormData, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateDepsOf, type EvaluateWiring } from '../../src/bin/evaluate-deps.js';
import { loadConfig } from '../../src/config/config.js';
import { buildDashboard } from '../../src/dashboard/app.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import { ApiTokenRepository } from '../../src/db/api-token.repository.js';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { AppError } from '../../src/shared/errors.js';
import { makeSolidPng } from '../helpers/images.js';
import { Client } from '../helpers/inject-client.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { dashboardRepos } from '../helpers/seed.js';

describe('upload page URL fetch', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer({ credentials: { login: 'bot', apiKey: 'booru-secret-key' } });
  // Another service on the same (allowed) host, on another port.
  const neighbour = new FakeDanbooruServer();
  let wiring: EvaluateWiring;
  let red: Buffer;

  beforeAll(async () => {
    red = await makeSolidPng(16, 16, [230, 20, 20]);
    booru.addMedia('red.png', red, 'image/png');
    neighbour.addMedia('red.png', red, 'image/png');
    const { url } = await booru.start();
    await neighbour.start();
    const config = loadConfig({
      BOORU_URL: url,
      BOORU_LOGIN: 'bot',
      BOORU_API_KEY: 'booru-secret-key',
      TAGGER_LOG_LEVEL: 'silent',
    });
    wiring = evaluateDepsOf(config, silentLogger, database().prisma, null);
  });

  afterAll(async () => {
    await wiring?.close();
    await booru.close();
    await neighbour.close();
  });

  it("should fetch an image on the booru's own origin without sending the booru's credentials", async () => {
    const bytes = await wiring.deps.fetchImage!(`${booru.url}/media/red.png`);

    expect(Buffer.compare(bytes, red)).toBe(0);
    const fetched = booru.requests.filter((r) => r.path === '/media/red.png');
    expect(fetched).toHaveLength(1);
    expect(fetched[0]!.headers['authorization']).toBeUndefined();
  });

  it('should refuse another port of an allowed host without connecting to it', async () => {
    const error = await wiring.deps.fetchImage!(`${neighbour.url}/media/red.png`).then(
      () => null,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('MEDIA_FETCH');
    expect((error as AppError).message).toMatch(/port \d+ is not allowed/);
    expect(neighbour.requests).toHaveLength(0);
  });

  it('should answer every failed URL fetch with the same message, naming no address, port or reason', async () => {
    const { prisma } = database();
    const users = new UserRepository(prisma);
    await users.create({ name: 'viewer', role: 'viewer', passwordHash: await hashPassword('viewer-pass-1') });
    const app = await buildDashboard({
      users,
      suggestions: new SuggestionRepository(prisma),
      ...dashboardRepos(prisma),
      apiTokens: new ApiTokenRepository(prisma),
      audit: new AuditRepository(prisma),
      logger: silentLogger,
      evaluate: wiring.deps,
    });
    try {
      const base = await app.listen({ host: '127.0.0.1', port: 0 });
      const client = new Client(app);
      await client.signIn('viewer', 'viewer-pass-1');
      const headers = {
        cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        'x-csrf-token': client.csrf,
      };
      const tagUrl = async (url: string) => {
        const form = new FormData();
        form.append('url', url);
        const response = await fetch(`${base}/upload`, { method: 'POST', body: form, headers });
        return { status: response.status, text: await response.text() };
      };
      const neighbourPort = new URL(neighbour.url).port;

      const answers = [
        await tagUrl(`${neighbour.url}/media/red.png`), // a port that is not allowed
        await tagUrl('http://127.0.0.1:80/red.png'), // an allowed port where nothing listens
        await tagUrl(`${booru.url}/media/missing.png`), // a 404 on the booru
        await tagUrl('http://images.example.invalid/cat.png'), // a host that is not allowed
      ];

      for (const answer of answers) {
        expect(answer.status).toBe(400);
        expect(answer.text).toContain('cannot fetch that URL');
        expect(answer.text).not.toContain(neighbourPort);
        expect(answer.text).not.toMatch(/ECONNREFUSED|HTTP 404|127\.0\.0\.1|example\.invalid/);
      }
      expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    } finally {
      await app.close();
    }
  });
});
