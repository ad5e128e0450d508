/**
 * Wiring for /evaluate and the upload page: the model (the worker's own batching tagger when this process runs one,
 * else one loaded on the first request and shared by every later one), the limits from the config, URL fetches
 * through the booru client's media path (its host allowlist), and the md5 lookup of known posts.
 */
import type { BooruHttp } from '../booru/http.js';
import type { Config } from '../config/config.js';
import type { EvaluateDeps, EvaluateModel } from '../dashboard/routes/evaluate.routes.js';
import { DatasetRepository } from '../db/dataset.repository.js';
import type { PrismaClient } from '../db/generated/client.js';
import type { Logger } from '../shared/logger.js';
import { InferenceBatcher } from '../tagger/inference-batcher.js';
import type { Tagger } from '../tagger/tagger.js';
import { createBooruClient, loadTagger } from './context.js';
import type { Service } from './service.js';

/** Window in which concurrent requests join one model run, ms: short, since an API caller waits on it. */
export const EVALUATE_BATCH_WINDOW_MS = 5;

export interface EvaluateWiring {
  deps: EvaluateDeps;
  /** Frees what the wiring opened itself (a model loaded on demand, an HTTP pool); the service's tagger is its own. */
  close(): Promise<void>;
}

export function evaluateDepsOf(
  config: Config,
  logger: Logger,
  prisma: PrismaClient,
  service: Service | null,
): EvaluateWiring {
  let loading: Promise<Tagger> | null = null;
  let http: BooruHttp | null = null;
  const model = (): Promise<EvaluateModel> => {
    if (service) return Promise.resolve(service.tagger);
    loading ??= loadTagger(config, logger).then(
      (tagger) => new InferenceBatcher(tagger, { maxBatch: config.batchSize, windowMs: EVALUATE_BATCH_WINDOW_MS }),
    );
    // A failed load is retried by the next request rather than cached.
    loading.catch(() => {
      loading = null;
    });
    return loading;
  };
  let booru = service?.booru ?? null;
  if (!booru && config.booruUrl) {
    const created = createBooruClient(config, logger);
    booru = created.client;
    http = created.http;
  }
  const posts = new DatasetRepository(prisma);
  const fetchFrom = booru;
  return {
    deps: {
      model,
      open: config.evaluateOpen,
      maxFileBytes: config.evaluateMaxFileBytes,
      maxFiles: config.evaluateMaxFiles,
      ratePerMinute: config.evaluateRate,
      bodyTimeoutMs: config.evaluateBodyTimeoutMs,
      queueTimeoutMs: config.evaluateQueueTimeoutMs,
      ...(fetchFrom
        ? {
            fetchImage: (url: string) =>
              fetchFrom.downloadMedia(url, {
                maxBytes: config.evaluateMaxFileBytes,
                timeoutMs: config.httpTimeoutMs,
                untrusted: true,
              }),
          }
        : {}),
      findPostByMd5: (md5) => posts.findPostByMd5(md5),
    },
    async close() {
      const loaded = loading;
      loading = null;
      if (loaded) await (await loaded.catch(() => null))?.close();
      await http?.close();
    },
  };
}
