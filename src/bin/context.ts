/**
 * The composition root's building blocks: each entry point builds only what it uses, from the config, by
 * constructor injection. Nothing here is a module-level singleton.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { BooruCapabilities, BooruClient } from '../booru/booru-client.js';
import { AUTH_SCHEME, createBooruClientFor, dialectTransport } from '../booru/booru-factory.js';
import type { TagBudget } from '../booru/rate-limiter.js';
import { BooruHttp, type BooruRequestEvent, siteHosts } from '../booru/http.js';
import { type Config, isSettingGiven, PACKAGE_ROOT, userAgentOf } from '../config/config.js';
import { resolveDiffPolicy } from '../core/diff-policy.js';
import type { DiffPolicy } from '../core/tag-diff.js';
import { parseTagThresholds, type TagThresholdOverride } from '../core/thresholds.js';
import { ApiTokenRepository } from '../db/api-token.repository.js';
import { AppSecretRepository } from '../db/app-secret.repository.js';
import { LoginAttemptRepository } from '../db/login-attempt.repository.js';
import { AuditRepository } from '../db/audit.repository.js';
import { BooruRepository } from '../db/booru.repository.js';
import { CursorRepository } from '../db/cursor.repository.js';
import { type Database, openDatabase } from '../db/database.js';
import { ModelRepository } from '../db/model.repository.js';
import { PostRepository } from '../db/post.repository.js';
import { ReadinessRepository } from '../db/readiness.repository.js';
import { ReportRepository } from '../db/report.repository.js';
import { SuggestionRepository } from '../db/suggestion.repository.js';
import { type SharedTagBudgetOptions, TagBudgetRepository } from '../db/tag-budget.repository.js';
import { TagRepository } from '../db/tag.repository.js';
import { TaggingRepository } from '../db/tagging.repository.js';
import { ThresholdRepository } from '../db/threshold.repository.js';
import { UserRepository } from '../db/user.repository.js';
import { WorkerRepository } from '../db/worker.repository.js';
import { AppError, ConfigError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { decideDeviceBatch } from '../tagger/batch-choice.js';
import { planCpu, useOneVipsThreadPerDecode } from '../tagger/cpu-plan.js';
import { OnnxTagger } from '../tagger/onnx-tagger.js';
import type { ExecutionProvider } from '../tagger/tagger.js';

/** The bundled test model, used when MODEL_DIR is unset. */
export const DEFAULT_MODEL_DIR = join(PACKAGE_ROOT, 'models', 'test-colors');

function modelDirOf(config: Config): string {
  return config.modelDir ? resolve(config.modelDir) : DEFAULT_MODEL_DIR;
}

export interface Repositories {
  boorus: BooruRepository;
  models: ModelRepository;
  posts: PostRepository;
  cursors: CursorRepository;
  suggestions: SuggestionRepository;
  tags: TagRepository;
  tagging: TaggingRepository;
  users: UserRepository;
  audit: AuditRepository;
  apiTokens: ApiTokenRepository;
  /** Worker registrations and heartbeats, and the one status query. */
  workers: WorkerRepository;
  readiness: ReadinessRepository;
  reports: ReportRepository;
  thresholds: ThresholdRepository;
  /** Sign-in attempts (the dashboard's login throttle), shared by every process. */
  loginAttempts: LoginAttemptRepository;
  /** The dashboard's cookie-signing key, shared by every process. */
  secrets: AppSecretRepository;
  /** A tag-change budget kept in the database (see {@link tagBudgetOf}). */
  tagBudgets: (options: SharedTagBudgetOptions) => TagBudgetRepository;
}

/** What the tagging service (src/bin/service.ts) reads and writes. */
export type ServiceRepositories = Pick<Repositories, 'boorus' | 'models' | 'posts' | 'tags' | 'thresholds'>;

/** The repositories the dashboard reads (its `DashboardDeps`), picked from the bag. */
export function dashboardRepositoriesOf(repos: Repositories) {
  const { users, suggestions, posts, boorus, apiTokens, audit, reports, thresholds, loginAttempts, secrets } = repos;
  return { users, suggestions, posts, boorus, apiTokens, audit, reports, thresholds, loginAttempts, secrets };
}

export async function openRepositories(
  config: Config,
  logger: Logger,
  dataDir = config.dataDir,
  options: { migrate?: boolean } = {},
): Promise<{ db: Database; repos: Repositories }> {
  const db = await openDatabase({
    url: config.databaseUrl,
    dataDir: isAbsolute(dataDir) ? join(dataDir, 'pglite') : resolve(dataDir, 'pglite'),
    logger,
    ...(options.migrate === false ? { migrate: false } : {}),
  });
  const { prisma } = db;
  return {
    db,
    repos: {
      boorus: new BooruRepository(prisma),
      models: new ModelRepository(prisma),
      posts: new PostRepository(prisma),
      cursors: new CursorRepository(prisma),
      suggestions: new SuggestionRepository(prisma),
      tags: new TagRepository(prisma),
      tagging: new TaggingRepository(prisma),
      users: new UserRepository(prisma),
      audit: new AuditRepository(prisma),
      apiTokens: new ApiTokenRepository(prisma),
      loginAttempts: new LoginAttemptRepository(prisma),
      secrets: new AppSecretRepository(prisma),
      tagBudgets: (options) => new TagBudgetRepository(prisma, options),
      workers: new WorkerRepository(prisma),
      readiness: new ReadinessRepository(prisma),
      reports: new ReportRepository(prisma),
      thresholds: new ThresholdRepository(prisma, {
        enabledByDefault: config.learnedThresholds,
        target: config.learnedTarget,
        minSamples: config.learnedMinSamples,
      }),
    },
  };
}

/**
 * The booru client for the configured URL and dialect (`auto` probes the site on first use; `readyBooru` probes
 * now), over one shared HTTP helper with the configured politeness: read and write rates, the 429 pause, retries.
 */
export function createBooruClient(
  config: Config,
  logger: Logger,
  baseUrl = config.booruUrl,
  onRequest?: (event: BooruRequestEvent) => void,
): { client: BooruClient; http: BooruHttp } {
  if (!baseUrl) throw new AppError('USAGE', 'BOORU_URL (or --booru-url) is required for this command');
  const kind = config.booruKind;
  const { queryAuth, readRate } = dialectTransport(kind, {
    readRate: config.readRate,
    moebooruAuth: config.booruMoebooruAuth,
  });
  const authScheme = kind === 'auto' ? undefined : AUTH_SCHEME[kind];
  const http = new BooruHttp({
    baseUrl,
    userAgent: userAgentOf(config),
    credentials:
      config.booruLogin && config.booruApiKey ? { login: config.booruLogin, apiKey: config.booruApiKey } : null,
    ...(queryAuth ? { queryAuth } : {}),
    ...(authScheme ? { authScheme } : {}),
    headersTimeoutMs: config.httpTimeoutMs,
    bodyTimeoutMs: config.httpTimeoutMs,
    readRate,
    writeRate: config.writeRate,
    writeBurst: config.writeBurst,
    retry: { retries: config.httpRetries, rateLimitDelayMs: config.rateLimitBackoffMs },
    ...(config.mediaHosts?.length ? { mediaHosts: config.mediaHosts } : {}),
    ...(config.mediaAllowPrivate?.length ? { mediaAllowPrivate: config.mediaAllowPrivate } : {}),
    logger,
    ...(onRequest ? { onRequest } : {}),
  });
  return { client: createBooruClientFor(kind, http, logger), http };
}

/**
 * The hosts dashboard pages may load images from (CSP `img-src`): `TAGGER_MEDIA_HOSTS` when set, else each known
 * booru's site (its host and domain, as media downloads allow), on any port.
 */
export async function imageHostsOf(config: Config, repos: Pick<Repositories, 'boorus'>): Promise<string[]> {
  const hosts = config.mediaHosts?.length
    ? config.mediaHosts
    : [...(config.booruUrl ? [config.booruUrl] : []), ...(await repos.boorus.listBaseUrls())].flatMap(siteHosts);
  // CSP host-sources cannot name an IPv6 literal: such a booru's previews are not shown.
  return [...new Set(hosts)].filter((host) => !host.includes(':')).map((host) => `${host}:*`);
}

/**
 * The per-minute tag-change budget from the config, kept in the database: every process writing to the same booru
 * account (URL and login) spends from one budget.
 */
export function tagBudgetOf(
  config: Config,
  repos: Pick<Repositories, 'tagBudgets'>,
  baseUrl = config.booruUrl,
): TagBudget {
  return repos.tagBudgets({
    scope: `${baseUrl ? new URL(baseUrl).origin : 'default'} ${config.booruLogin ?? 'anonymous'}`,
    perMinute: config.tagBudgetPerMinute,
  });
}

/**
 * Loads a model as every command runs it: threads by the rule of `planCpu` unless TAGGER_THREADS says otherwise, one
 * libvips thread per decode, and the device batch from TAGGER_DEVICE_BATCH or measured (cached under the data dir).
 */
export async function loadTagger(
  config: Config,
  logger: Logger,
  dir = modelDirOf(config),
  /** Told the tagger as soon as its model is open, before its batch is measured. */
  onOpen?: (tagger: OnnxTagger) => void,
): Promise<OnnxTagger> {
  useOneVipsThreadPerDecode();
  const tagger = await OnnxTagger.load(dir, {
    device: config.device,
    ...(config.threads > 0 ? { threads: config.threads } : {}),
    maxPixels: config.maxPixels,
    decodeTimeoutSeconds: config.decodeTimeoutS,
    ...(config.deviceBatch > 0 ? { maxBatch: config.deviceBatch } : {}),
    logger,
  });
  try {
    onOpen?.(tagger);
    tagger.batchDecision = await decideDeviceBatch(tagger, {
      configured: config.deviceBatch,
      cachePath: batchChoicePath(config),
      device: deviceDescription(config.device, tagger.provider),
      runtime: onnxRuntimeVersion(),
      logger,
    });
  } catch (error) {
    await tagger.close();
    throw error;
  }
  return tagger;
}

/** Where measured batch choices are cached: `<data dir>/batch-choice.json`. */
export function batchChoicePath(config: Config): string {
  return resolve(config.dataDir, 'batch-choice.json');
}

/** The decode concurrency in effect: TAGGER_DECODE_CONCURRENCY, else the cores inference leaves (planCpu). */
export function decodeConcurrencyOf(config: Config, tagger: { provider: ExecutionProvider; threads?: number }): number {
  return planCpu({
    provider: tagger.provider,
    ...(tagger.threads === undefined ? {} : { threads: tagger.threads }),
    decodeConcurrency: config.decodeConcurrency,
  }).decodeConcurrency;
}

/** `cpu (Intel(R) Xeon(R) …)` or `cuda:0`: a measurement is only reused on the same kind of device. */
function deviceDescription(device: string, provider: ExecutionProvider): string {
  return provider === 'cpu' ? `cpu (${cpus()[0]?.model ?? 'unknown'})` : `${provider} ${device}`;
}

function onnxRuntimeVersion(): string {
  const require = createRequire(import.meta.url);
  return `onnxruntime-node ${(require('onnxruntime-node/package.json') as { version: string }).version}`;
}

/**
 * The diff policy of the configuration before learned thresholds (src/core/diff-policy.ts has the precedence): the
 * settings, the model's manifest thresholds, the booru's rating scale, and the operator's TAGGER_THRESHOLDS_FILE,
 * read now (so an edited file takes effect at the next context). Learned thresholds are laid over it by
 * `resolveDiffContext` (src/worker/diff-context.ts).
 */
export function policyOf(
  config: Config,
  model?: { manifestThresholds?: Readonly<Record<string, number>> },
  booru?: { capabilities: BooruCapabilities },
): DiffPolicy {
  return resolveDiffPolicy({
    settings: {
      thresholdGeneral: config.thresholdGeneral,
      thresholdCharacter: config.thresholdCharacter,
      thresholdRemove: config.thresholdRemove,
      removeCategories: config.removeCategories,
      ratingMargin: config.ratingMargin,
      rejectMargin: config.rejectMargin,
      mcut: config.mcut,
      given: {
        thresholdGeneral: isSettingGiven(config, 'thresholdGeneral'),
        thresholdCharacter: isSettingGiven(config, 'thresholdCharacter'),
      },
    },
    manifestThresholds: model?.manifestThresholds,
    tagFile: config.thresholdsFile ? readTagThresholdsFile(config.thresholdsFile) : undefined,
    ratingScale: booru?.capabilities.ratingScale,
  });
}

function readTagThresholdsFile(path: string): Map<string, TagThresholdOverride> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`TAGGER_THRESHOLDS_FILE=${path}: ${(error as Error).message}`]);
  }
  try {
    return parseTagThresholds(text, path);
  } catch (error) {
    throw new ConfigError([`TAGGER_THRESHOLDS_FILE: ${(error as Error).message}`]);
  }
}

/** Identifies this process in leases and logs. */
export function workerId(): string {
  return `${hostname()}:${process.pid}`;
}
