/**
 * Picks the adapter for a dialect, and for `auto` probes the site once: Danbooru and e621 share `/posts.json`
 * (a bare array vs `{"posts":[…]}`), Moebooru answers `/post.json`, Gelbooru the `index.php?page=dapi` API,
 * Szurubooru `/api/posts/` (a `{query, offset, limit, total, results}` page).
 */
import type { BooruKind, BooruPost, TagChange } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type {
  BooruCapabilities,
  BooruClient,
  BooruTag,
  BooruTagRelation,
  MediaLimits,
  PostPage,
  TagEditResult,
  TagListQuery,
} from './booru-client.js';
import { DanbooruClient } from './danbooru.client.js';
import { E621_MAX_RATE, E621Client } from './e621.client.js';
import { GelbooruClient } from './gelbooru.client.js';
import { dapiItems } from './gelbooru.schemas.js';
import type { BooruHttp } from './http.js';
import { MoebooruClient } from './moebooru.client.js';
import { SzurubooruClient } from './szurubooru.client.js';

/** A configured dialect: a known kind, or `auto` (probe the site). */
export type BooruKindSetting = BooruKind | 'auto';
type ConcreteBooruKind = BooruKind;

/** How each dialect must be talked to: Moebooru and Gelbooru read credentials from the query string only. */
export const QUERY_AUTH: Partial<Record<ConcreteBooruKind, readonly [string, string]>> = {
  moebooru: ['login', 'password_hash'],
  gelbooru: ['user_id', 'api_key'],
};

/**
 * Dialects whose credentials go in an `Authorization` header of another scheme than Basic: Szurubooru takes
 * `Token base64(login:token)` for a login token (Basic there means the account's password).
 */
export const AUTH_SCHEME: Partial<Record<ConcreteBooruKind, 'Token'>> = { szurubooru: 'Token' };

/**
 * Moebooru's two credential forms (application_controller.rb `set_current_user`): `login` + `password_hash` (the
 * SHA-1 of "choujin-steiner--PASSWORD--"; every version, a wrong one silently reads as anonymous) or `username` +
 * `api_key` (newest versions; a wrong one is answered 403).
 */
export const MOEBOORU_AUTH = {
  password_hash: ['login', 'password_hash'],
  api_key: ['username', 'api_key'],
} as const satisfies Record<string, readonly [string, string]>;

export type MoebooruAuthForm = keyof typeof MOEBOORU_AUTH;

/**
 * The transport a dialect needs, from the configured values: where credentials go and the fastest read rate the
 * site tolerates (e621 answers 503 beyond 2 requests per second, whatever is configured).
 */
export function dialectTransport(
  kind: BooruKindSetting,
  options: { readRate: number; moebooruAuth: MoebooruAuthForm },
): { queryAuth?: readonly [string, string]; readRate: number } {
  if (kind === 'auto') return { readRate: options.readRate };
  const queryAuth = kind === 'moebooru' ? MOEBOORU_AUTH[options.moebooruAuth] : QUERY_AUTH[kind];
  const readRate = kind === 'e621' ? Math.min(options.readRate || E621_MAX_RATE, E621_MAX_RATE) : options.readRate;
  return { ...(queryAuth ? { queryAuth } : {}), readRate };
}

/** The adapter for a known dialect. */
export function createBooruAdapter(kind: ConcreteBooruKind, http: BooruHttp, logger: Logger): BooruClient {
  switch (kind) {
    case 'danbooru':
      return new DanbooruClient(http, { logger });
    case 'e621':
      return new E621Client(http, { logger });
    case 'moebooru':
      return new MoebooruClient(http, { logger });
    case 'gelbooru':
      return new GelbooruClient(http, { logger });
    case 'szurubooru':
      return new SzurubooruClient(http, { logger });
  }
}

async function answers<T>(probe: () => Promise<T>): Promise<T | undefined> {
  try {
    return await probe();
  } catch (thrown) {
    // Blocked, bad credentials: probing further would only hide the real problem.
    if (thrown instanceof AppError && ['BOORU_BLOCKED', 'BOORU_AUTH', 'BOORU_RATE_LIMITED'].includes(thrown.code)) {
      throw thrown;
    }
    return undefined;
  }
}

/**
 * Finds the dialect of the site behind `http` with at most four one-post reads.
 * @throws AppError USAGE naming what was tried when nothing answers like a known booru.
 */
export async function probeBooruKind(http: BooruHttp): Promise<ConcreteBooruKind> {
  const posts = await answers(() => http.getJson('/posts.json', { limit: 1 }));
  if (Array.isArray(posts)) return 'danbooru';
  if (typeof posts === 'object' && posts !== null && Array.isArray((posts as { posts?: unknown }).posts)) return 'e621';
  const moe = await answers(() => http.getJson('/post.json', { limit: 1 }));
  if (Array.isArray(moe)) return 'moebooru';
  const dapi = await answers(() =>
    http.getParsed('/index.php', { page: 'dapi', s: 'post', q: 'index', json: 1, limit: 1 }, (text) => {
      if (dapiItems(text, 'post') === null) throw new Error('not dapi');
      return true;
    }),
  );
  if (dapi) return 'gelbooru';
  const szuru = await answers(() => http.getJson('/api/posts/', { limit: 1 }));
  if (typeof szuru === 'object' && szuru !== null && Array.isArray((szuru as { results?: unknown }).results)) {
    return 'szurubooru';
  }
  throw new AppError(
    'USAGE',
    `BOORU_KIND=auto: ${http.baseUrl} answers none of /posts.json (Danbooru, e621), /post.json (Moebooru), ` +
      '/index.php?page=dapi (Gelbooru) or /api/posts/ (Szurubooru); set BOORU_KIND',
  );
}

/**
 * `BOORU_KIND=auto`: probes the site on first use and then behaves exactly like the adapter found. Until then the
 * capabilities are all false and reading `kind` throws; {@link readyBooru} (or `prepare`) probes eagerly.
 */
export class AutoBooruClient implements BooruClient {
  private resolved: BooruClient | null = null;
  private probing: Promise<BooruClient> | null = null;

  constructor(
    private readonly http: BooruHttp,
    private readonly logger: Logger,
  ) {}

  get kind(): BooruKind {
    if (!this.resolved) throw new AppError('USAGE', 'BOORU_KIND=auto: the site was not probed yet (call readyBooru)');
    return this.resolved.kind;
  }

  get capabilities(): BooruCapabilities {
    return this.resolved?.capabilities ?? { canEditTags: false, canListChanges: false, canSyncRelations: false };
  }

  /** Probes the site (once) and returns the adapter it speaks. */
  prepare(): Promise<BooruClient> {
    if (this.resolved) return Promise.resolve(this.resolved);
    this.probing ??= probeBooruKind(this.http).then(
      (kind) => {
        this.logger.info({ kind, url: this.http.baseUrl }, 'booru dialect probed');
        this.resolved = createBooruAdapter(kind, this.http, this.logger);
        return this.resolved;
      },
      (thrown: unknown) => {
        this.probing = null;
        throw thrown;
      },
    );
    return this.probing;
  }

  async listPostsSince(afterId: number, limit?: number): Promise<PostPage> {
    return (await this.prepare()).listPostsSince(afterId, limit);
  }
  async listPostsByChange(page: number, limit?: number): Promise<PostPage> {
    return (await this.prepare()).listPostsByChange(page, limit);
  }
  async getPost(remoteId: number): Promise<BooruPost | null> {
    return (await this.prepare()).getPost(remoteId);
  }
  async listTags(query: TagListQuery): Promise<BooruTag[]> {
    return (await this.prepare()).listTags(query);
  }
  async listTagRelations(kind: 'alias' | 'implication', query: TagListQuery): Promise<BooruTagRelation[]> {
    return (await this.prepare()).listTagRelations(kind, query);
  }
  async updateTags(remoteId: number, change: TagChange): Promise<TagEditResult> {
    return (await this.prepare()).updateTags(remoteId, change);
  }
  async downloadMedia(url: string, limits: MediaLimits): Promise<Buffer> {
    return (await this.prepare()).downloadMedia(url, limits);
  }
}

/** The client for a configured dialect (`auto` probes lazily). */
export function createBooruClientFor(kind: BooruKindSetting, http: BooruHttp, logger: Logger): BooruClient {
  return kind === 'auto' ? new AutoBooruClient(http, logger) : createBooruAdapter(kind, http, logger);
}

/** Resolves an `auto` client (probing the site) so that `kind` and `capabilities` are real; others as they are. */
export async function readyBooru(client: BooruClient): Promise<BooruClient> {
  return client instanceof AutoBooruClient ? client.prepare() : client;
}
