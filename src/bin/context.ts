/**
 * The composition root's building blocks: each entry point builds only what it uses, from the config, by
 * constructor injection. Nothing here is a module-level singleton.
 */
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DanbooruClient } from '../booru/danbooru.client.js';
import { BooruHttp } from '../booru/http.js';
import { type Config, PACKAGE_ROOT, userAgentOf } from '../config/config.js';
import { defaultDiffPolicy, type DiffPolicy } from '../core/tag-diff.js';
import { TagCategory } from '../core/types.js';
import { AuditRepository } from '../db/audit.repository.js';
import { BooruRepository } from '../db/booru.repository.js';
import { CursorRepository } from '../db/cursor.repository.js';
import { type Database, openDatabase } from '../db/database.js';
import { ModelRepository } from '../db/model.repository.js';
import { PostRepository } from '../db/post.repository.js';
import { PredictionRepository } from '../db/prediction.repository.js';
import { SuggestionRepository } from '../db/suggestion.repository.js';
import { TagRepository } from '../db/tag.repository.js';
import { TaggingRepository } from '../db/tagging.repository.js';
import { UserRepository } from '../db/user.repository.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { OnnxTagger } from '../tagger/onnx-tagger.js';

/** The bundled test model, used when MODEL_DIR is unset. */
export const DEFAULT_MODEL_DIR = join(PACKAGE_ROOT, 'models', 'test-colors');

export function modelDirOf(config: Config): string {
  return config.modelDir ? resolve(config.modelDir) : DEFAULT_MODEL_DIR;
}

export interface Repositories {
  boorus: BooruRepository;
  models: ModelRepository;
  posts: PostRepository;
  cursors: CursorRepository;
  predictions: PredictionRepository;
  suggestions: SuggestionRepository;
  tags: TagRepository;
  tagging: TaggingRepository;
  users: UserRepository;
  audit: AuditRepository;
}

export async function openRepositories(
  config: Config,
  logger: Logger,
  dataDir = config.dataDir,
): Promise<{ db: Database; repos: Repositories }> {
  const db = await openDatabase({
    url: config.databaseUrl,
    dataDir: isAbsolute(dataDir) ? join(dataDir, 'pglite') : resolve(dataDir, 'pglite'),
    logger,
  });
  const { prisma } = db;
  return {
    db,
    repos: {
      boorus: new BooruRepository(prisma),
      models: new ModelRepository(prisma),
      posts: new PostRepository(prisma),
      cursors: new CursorRepository(prisma),
      predictions: new PredictionRepository(prisma),
      suggestions: new SuggestionRepository(prisma),
      tags: new TagRepository(prisma),
      tagging: new TaggingRepository(prisma),
      users: new UserRepository(prisma),
      audit: new AuditRepository(prisma),
    },
  };
}

/** The booru client for the configured URL and dialect. */
export function createBooruClient(
  config: Config,
  logger: Logger,
  baseUrl = config.booruUrl,
): { client: DanbooruClient; http: BooruHttp } {
  if (!baseUrl) throw new AppError('USAGE', 'BOORU_URL (or --booru-url) is required for this command');
  if (config.booruKind !== 'danbooru') {
    throw new AppError('USAGE', `BOORU_KIND=${config.booruKind} is not supported yet; only danbooru is`);
  }
  const http = new BooruHttp({
    baseUrl,
    userAgent: userAgentOf(config),
    credentials:
      config.booruLogin && config.booruApiKey ? { login: config.booruLogin, apiKey: config.booruApiKey } : null,
    headersTimeoutMs: config.httpTimeoutMs,
    bodyTimeoutMs: config.httpTimeoutMs,
    logger,
  });
  return { client: new DanbooruClient(http, { logger }), http };
}

export async function loadTagger(config: Config, logger: Logger): Promise<OnnxTagger> {
  return OnnxTagger.load(modelDirOf(config), {
    device: config.device,
    threads: config.threads || undefined,
    maxPixels: config.maxPixels,
    logger,
  });
}

/** The diff policy from the configured thresholds. */
export function policyOf(config: Config): DiffPolicy {
  const removable = new Set<number>(config.removeCategories.map((name) => TagCategory[name]));
  return defaultDiffPolicy({
    addThresholds: new Map([
      [TagCategory.general, config.thresholdGeneral],
      [TagCategory.character, config.thresholdCharacter],
    ]),
    removeThreshold: config.thresholdRemove,
    removableCategories: removable,
    ratingMargin: config.ratingMargin,
  });
}

/** Identifies this process in leases and logs. */
export function workerId(): string {
  return `${hostname()}:${process.pid}`;
}
