/** Set-up shared by the tests that run the worker's pipeline against a fake booru and the real test model. */
import { BooruHttp } from '../../src/booru/http.js';
import type { PrismaClient } from '../../src/db/generated/client.js';
import { ModelRepository, modelInputOf } from '../../src/db/model.repository.js';
import type { TaggerModelInfo } from '../../src/tagger/tagger.js';
import { silentLogger } from './test-db.js';

/** A client for `baseUrl` whose retries wait milliseconds, not seconds; `label` names the test in its User-Agent. */
export function fastRetryHttp(baseUrl: string, label: string): BooruHttp {
  return new BooruHttp({
    baseUrl,
    userAgent: `booru-tagger/0.1 (${label})`,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
    retry: { retries: 1, baseDelayMs: 2, maxDelayMs: 10, rateLimitDelayMs: 20, rateLimitRetries: 1 },
    logger: silentLogger,
  });
}

/** The models row of a loaded tag model (created once, found after), as the service registers it. */
export function ensureTagModel(prisma: PrismaClient, model: TaggerModelInfo): Promise<number> {
  return new ModelRepository(prisma).ensure(modelInputOf(model, 'tags'));
}
