/**
 * A local Szurubooru on 127.0.0.1 that answers as rr-/szurubooru@22fd239e does (server/szurubooru/rest/app.py,
 * api/post_api.py, api/tag_api.py, func/versions.py, search/executor.py, middleware/authenticator.py):
 * - only `Accept: application/json` (406 otherwise); unknown routes 404; errors are `{name, title, description}`;
 * - listings `{query, offset, limit, total, results}` (limit 1–100, else 400), past the end `results: []`;
 * - the post search tokens the adapter sends (`id-min:`, `id:`, `last-edit-date-min:`, `sort:id`,
 *   `sort:last-edit-date` with PostgreSQL's NULLS FIRST on DESC) and plain tag names; tag search `sort:creation-date`
 *   and `implication-count-min:`; `?fields=`;
 * - `Authorization: Token base64(user:token)` (a wrong token is 403 AuthError); anonymous users may read, not edit;
 * - `PUT /api/post/<id>` needs the current `version` (stale ⇒ 409 IntegrityError), replaces the whole tag list,
 *   resolves every name of a tag case-insensitively, creates unknown tags in the default category, applies no
 *   implication (the web client does that), bumps `version` and `lastEditTime`;
 * - deleted posts are gone (404 PostNotFoundError); media under `data/posts/…` and `data/generated-thumbnails/…`
 *   (relative URLs in the JSON).
 * Posts can be added from recorded JSON (`posts_paged.json` results) as they are.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type FakeRequest, FakeHttpHost } from '../../src/demo/fake-booru-host.js';

export interface FakeSzuruTag {
  names: string[];
  category: string;
  implications: string[];
  creationTime: string;
  lastEditTime: string | null;
  version: number;
}

export interface FakeSzuruPost {
  id: number;
  version: number;
  creationTime: string;
  lastEditTime: string | null;
  safety: 'safe' | 'sketchy' | 'unsafe';
  type: string;
  mimeType: string;
  checksumMD5: string;
  fileSize: number;
  canvasWidth: number;
  canvasHeight: number;
  contentUrl: string;
  thumbnailUrl: string;
  /** Canonical (first) names of the post's tags. */
  tags: string[];
  /** Fields of a recorded post the fake does not model, served as they were. */
  extra: Record<string, unknown>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly errorName: string,
    readonly title: string,
    readonly description: string,
  ) {
    super(description);
  }
}

const notFound = (name: string, description: string) => new HttpError(404, 'Not Found', name, 'Not found', description);
const validation = (description: string) =>
  new HttpError(400, 'Bad Request', 'ValidationError', 'Validation error', description);

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'video/mp4': 'mp4' };

export class FakeSzurubooruServer extends FakeHttpHost {
  private readonly tags: FakeSzuruTag[] = [];
  private readonly posts = new Map<number, FakeSzuruPost>();
  private readonly media = new Map<string, { bytes: Buffer; type: string }>();
  private readonly races = new Map<number, { add?: string[]; remove?: string[] }[]>();
  /** Writes that are saved but answered only after the client sent its next write (it timed out meanwhile). */
  private stalledWrites = 0;
  /** Posts whose upload transaction has not committed yet: invisible to every request. */
  private readonly uncommitted = new Set<number>();
  private last = 0;

  constructor(private readonly options: { credentials?: { login: string; token: string } | null } = {}) {
    super();
  }

  protected override internalError(res: ServerResponse, thrown: unknown): void {
    send(res, 500, 'Internal Server Error', { name: 'Error', description: String(thrown) });
  }

  /** A tag: `names[0]` canonical, the others its aliases; `implications` by canonical name. */
  addTag(tag: { names: string[]; category?: string; implications?: string[] }): void {
    this.tags.push({
      names: tag.names,
      category: tag.category ?? 'default',
      implications: tag.implications ?? [],
      creationTime: this.now(),
      lastEditTime: null,
      version: 1,
    });
  }

  /** An admin's edit of a tag (`PUT /api/tag/<name>` in the web UI): its names and implications replaced. */
  editTag(name: string, change: { names?: string[]; implications?: string[] }): void {
    const tag = this.findTag(name);
    if (!tag) throw new Error(`no tag ${name}`);
    if (change.names) tag.names = change.names;
    if (change.implications) tag.implications = change.implications;
    tag.version += 1;
    tag.lastEditTime = this.now();
  }

  /** A post with its media (served at its contentUrl) and a JPEG-named thumbnail (the same bytes). */
  addPost(
    post: { id: number; tags: string[]; safety?: FakeSzuruPost['safety']; width?: number; height?: number },
    media: { bytes: Buffer; mimeType: string },
  ): void {
    const hash = createHash('md5').update(String(post.id)).digest('hex').slice(0, 16);
    const ext = EXT[media.mimeType] ?? 'dat';
    const record: FakeSzuruPost = {
      id: post.id,
      version: 1,
      creationTime: this.now(),
      lastEditTime: null,
      safety: post.safety ?? 'safe',
      type: media.mimeType.startsWith('video/') ? 'video' : 'image',
      mimeType: media.mimeType,
      checksumMD5: createHash('md5').update(media.bytes).digest('hex'),
      fileSize: media.bytes.length,
      canvasWidth: post.width ?? 512,
      canvasHeight: post.height ?? 512,
      contentUrl: `data/posts/${post.id}_${hash}.${ext}`,
      thumbnailUrl: `data/generated-thumbnails/${post.id}_${hash}.jpg`,
      tags: [],
      extra: {},
    };
    record.tags = this.resolveTags(post.tags);
    this.posts.set(post.id, record);
    this.media.set(`/${record.contentUrl}`, { bytes: media.bytes, type: media.mimeType });
    this.media.set(`/${record.thumbnailUrl}`, { bytes: media.bytes, type: media.mimeType });
  }

  /** A recorded post (an item of `GET /api/posts/` results) as it is; its media answer with `bytes`. */
  addRecordedPost(json: Record<string, unknown>, bytes: Buffer, type: string): void {
    const tags = json['tags'] as { names: string[]; category: string }[];
    for (const tag of tags) {
      if (!this.findTag(tag.names[0]!)) this.addTag({ names: tag.names, category: tag.category });
    }
    const { id, version, creationTime, lastEditTime, safety, type: kind, mimeType, checksumMD5 } = json;
    const record: FakeSzuruPost = {
      id: id as number,
      version: version as number,
      creationTime: creationTime as string,
      lastEditTime: (lastEditTime as string | null) ?? null,
      safety: safety as FakeSzuruPost['safety'],
      type: kind as string,
      mimeType: mimeType as string,
      checksumMD5: checksumMD5 as string,
      fileSize: json['fileSize'] as number,
      canvasWidth: json['canvasWidth'] as number,
      canvasHeight: json['canvasHeight'] as number,
      contentUrl: json['contentUrl'] as string,
      thumbnailUrl: json['thumbnailUrl'] as string,
      tags: tags.map((tag) => tag.names[0]!),
      extra: json,
    };
    this.posts.set(record.id, record);
    this.media.set(`/${record.contentUrl}`, { bytes, type });
    this.media.set(`/${record.thumbnailUrl}`, { bytes, type });
  }

  getPost(id: number): FakeSzuruPost | undefined {
    return this.posts.get(id);
  }

  /** The post's tags as the site would list them (canonical names, sorted). */
  tagsOf(id: number): string[] {
    return [...(this.posts.get(id)?.tags ?? [])].sort();
  }

  /** Szurubooru deletes posts outright. */
  deletePost(id: number): void {
    this.posts.delete(id);
  }

  /** A human's edit through the web UI: a new version, a new lastEditTime. */
  editAsHuman(id: number, change: { add?: string[]; remove?: string[]; safety?: FakeSzuruPost['safety'] }): void {
    const post = this.posts.get(id);
    if (!post) throw new Error(`no post ${id}`);
    const removing = new Set((change.remove ?? []).map((name) => this.findTag(name)?.names[0] ?? name));
    post.tags = this.resolveTags([...post.tags.filter((name) => !removing.has(name)), ...(change.add ?? [])]);
    if (change.safety) post.safety = change.safety;
    post.version += 1;
    post.lastEditTime = this.now();
  }

  /**
   * Hides post `id` until {@link commit}: an upload whose transaction got its id before a later upload's but commits
   * after it, so a listing in between skips it.
   */
  delayCommit(id: number): void {
    this.uncommitted.add(id);
  }

  commit(id: number): void {
    this.uncommitted.delete(id);
  }

  /** The next `count` PUTs are saved, but their answers are held until the client sends another PUT. */
  stallNextWrites(count: number): void {
    this.stalledWrites += count;
  }

  /** The next PUT to post `id` arrives just after a human saved `change`: it carries a stale version. */
  raceNextWrite(id: number, change: { add?: string[]; remove?: string[] }): void {
    this.races.set(id, [...(this.races.get(id) ?? []), change]);
  }

  private now(): string {
    // Real time, but distinct and increasing: ordering by creation or edit time is then well defined.
    this.last = Math.max(Date.now(), this.last + 1);
    return new Date(this.last).toISOString();
  }

  private findTag(name: string): FakeSzuruTag | undefined {
    const lower = name.toLowerCase();
    return this.tags.find((tag) => tag.names.some((n) => n.toLowerCase() === lower));
  }

  /** `tags.get_or_create_tags_by_names`: case-insensitive by any name, unknown names become default tags. */
  private resolveTags(names: readonly string[]): string[] {
    const out = new Set<string>();
    for (const name of names) {
      let tag = this.findTag(name);
      if (!tag) {
        this.addTag({ names: [name] });
        tag = this.findTag(name)!;
      }
      out.add(tag.names[0]!);
    }
    return [...out];
  }

  private usages(canonical: string): number {
    let count = 0;
    for (const post of this.posts.values()) if (post.tags.includes(canonical)) count += 1;
    return count;
  }

  private microTag(canonical: string) {
    const tag = this.findTag(canonical);
    return { names: tag?.names ?? [canonical], category: tag?.category ?? 'default', usages: this.usages(canonical) };
  }

  private serializePost(post: FakeSzuruPost, fields: string[] | null): Record<string, unknown> {
    const full: Record<string, unknown> = {
      ...post.extra,
      id: post.id,
      version: post.version,
      creationTime: post.creationTime,
      lastEditTime: post.lastEditTime,
      safety: post.safety,
      source: post.extra['source'] ?? null,
      type: post.type,
      mimeType: post.mimeType,
      checksumMD5: post.checksumMD5,
      fileSize: post.fileSize,
      canvasWidth: post.canvasWidth,
      canvasHeight: post.canvasHeight,
      contentUrl: post.contentUrl,
      thumbnailUrl: post.thumbnailUrl,
      flags: post.extra['flags'] ?? [],
      tags: [...post.tags].sort().map((name) => this.microTag(name)),
      relations: post.extra['relations'] ?? [],
      tagCount: post.tags.length,
      notes: post.extra['notes'] ?? [],
      comments: post.extra['comments'] ?? [],
      pools: post.extra['pools'] ?? [],
    };
    return pick(full, fields);
  }

  private serializeTag(tag: FakeSzuruTag, fields: string[] | null): Record<string, unknown> {
    return pick(
      {
        names: tag.names,
        category: tag.category,
        version: tag.version,
        description: null,
        creationTime: tag.creationTime,
        lastEditTime: tag.lastEditTime,
        usages: this.usages(tag.names[0]!),
        suggestions: [],
        implications: tag.implications.map((name) => this.microTag(name)),
      },
      fields,
    );
  }

  protected async route({ res, method, url, headers, body }: FakeRequest): Promise<void> {
    const file = this.media.get(url.pathname);
    if (url.pathname.startsWith('/data/')) {
      if (!file || method !== 'GET') {
        res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404 Not Found</h1>');
        return;
      }
      res.writeHead(200, { 'content-type': file.type, 'content-length': file.bytes.length }).end(file.bytes);
      return;
    }
    try {
      const reply = this.api(method, url, headers, body);
      if (method === 'PUT' && this.stalledWrites > 0) {
        // Saved, but the answer is held until the client, having given up, sends the next write.
        this.stalledWrites -= 1;
        const puts = this.requests.filter((r) => r.method === 'PUT').length;
        for (let waited = 0; waited < 10_000; waited += 20) {
          if (this.requests.filter((r) => r.method === 'PUT').length > puts) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      send(res, 200, 'OK', reply);
    } catch (thrown) {
      if (!(thrown instanceof HttpError)) throw thrown;
      send(res, thrown.status, thrown.reason, {
        name: thrown.errorName,
        title: thrown.title,
        description: thrown.description,
      });
    }
  }

  private api(method: string, url: URL, headers: Record<string, string | undefined>, body: string): unknown {
    if (!(headers['accept'] ?? '').includes('application/json')) {
      throw new HttpError(
        406,
        'Not Acceptable',
        'ValidationError',
        'Not Acceptable',
        'This API only supports JSON responses.',
      );
    }
    const path = url.pathname.replace(/^\/api/, '');
    if (!url.pathname.startsWith('/api/')) {
      throw new HttpError(404, 'Not Found', 'ValidationError', 'Not Found', `Requested path ${path} was not found.`);
    }
    const user = this.authenticate(headers['authorization']);
    const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
    if (body) {
      try {
        Object.assign(params, JSON.parse(body) as Record<string, unknown>);
      } catch {
        throw new HttpError(
          400,
          'Bad Request',
          'ValidationError',
          'Bad Request',
          'Could not decode the request body. The JSON was incorrect or was not encoded as UTF-8.',
        );
      }
    }
    const fields = typeof params['fields'] === 'string' ? String(params['fields']).split(',') : null;
    const postMatch = path.match(/^\/post\/([^/]+)\/?$/);
    const tagMatch = path.match(/^\/tag\/([^/]+)\/?$/);
    if (/^\/posts\/?$/.test(path) && method === 'GET') return this.listPosts(params, fields);
    if (/^\/tags\/?$/.test(path) && method === 'GET') return this.listTags(params, fields);
    if (postMatch) {
      const match = postMatch;
      const id = Number(match[1]);
      const post = this.uncommitted.has(id) ? undefined : this.posts.get(id);
      if (method === 'GET') {
        if (!post) throw notFound('PostNotFoundError', `Post ${match[1]} not found.`);
        return this.serializePost(post, fields);
      }
      if (method === 'PUT') {
        if (!post) throw notFound('PostNotFoundError', `Post ${match[1]} not found.`);
        return this.updatePost(post, params, user, fields);
      }
    }
    if (tagMatch && method === 'GET') {
      const name = decodeURIComponent(tagMatch[1]!);
      const tag = this.findTag(name);
      if (!tag) throw notFound('TagNotFoundError', `Tag '${name}' not found.`);
      return this.serializeTag(tag, fields);
    }
    if (/^\/(posts|tags|post|tag)\b/.test(path)) {
      throw new HttpError(405, 'Method Not Allowed', 'ValidationError', 'Method Not Allowed', 'Allowed methods: …');
    }
    throw new HttpError(404, 'Not Found', 'ValidationError', 'Not Found', `Requested path ${path} was not found.`);
  }

  private authenticate(header: string | undefined): string | null {
    if (!header) return null;
    const [scheme, credentials] = header.split(' ', 2);
    if (!scheme || !credentials || !['basic', 'token'].includes(scheme.toLowerCase())) {
      throw validation('Only basic or token HTTP authentication is supported.');
    }
    const [login, secret] = Buffer.from(credentials, 'base64').toString('utf8').split(/:(.*)/s, 2);
    const expected = this.options.credentials;
    if (scheme.toLowerCase() === 'basic' || !expected || login !== expected.login || secret !== expected.token) {
      throw new HttpError(
        403,
        'Forbidden',
        'AuthError',
        'Authentication error',
        scheme.toLowerCase() === 'basic' ? 'Invalid password.' : 'Invalid token.',
      );
    }
    return login;
  }

  private paging(params: Record<string, unknown>): { offset: number; limit: number } {
    const offset = params['offset'] === undefined ? 0 : Number(params['offset']);
    const limit = params['limit'] === undefined ? 100 : Number(params['limit']);
    if (!Number.isInteger(offset)) throw validation("Parameter 'offset' must be an integer value.");
    if (!Number.isInteger(limit)) throw validation("Parameter 'limit' must be an integer value.");
    if (offset < 0) throw validation("Parameter 'offset' must be at least 0.");
    if (limit < 1) throw validation("Parameter 'limit' must be at least 1.");
    if (limit > 100) throw validation("Parameter 'limit' may not exceed 100.");
    return { offset, limit };
  }

  private listPosts(params: Record<string, unknown>, fields: string[] | null) {
    const query = String(params['query'] ?? '');
    const { offset, limit } = this.paging(params);
    let rows = [...this.posts.values()].filter((p) => !this.uncommitted.has(p.id));
    let sort: { key: 'id' | 'edit'; asc: boolean } = { key: 'id', asc: false };
    for (const token of query.toLowerCase().split(/\s+/).filter(Boolean)) {
      const [key, value = ''] = token.split(/:(.*)/s, 2) as [string, string?];
      if (token.includes(':') && key === 'sort') {
        const [by, order] = value.split(',');
        if (by !== 'id' && by !== 'last-edit-date') throw searchError(`Unknown sort token: ${by}`);
        sort = { key: by === 'id' ? 'id' : 'edit', asc: order === 'asc' };
      } else if (token.includes(':') && key === 'id-min') {
        rows = rows.filter((p) => p.id >= Number(value));
      } else if (token.includes(':') && key === 'id') {
        rows = rows.filter((p) => p.id === Number(value));
      } else if (token.includes(':') && key === 'last-edit-date-min') {
        const since = Date.UTC(Number(value.slice(0, 4)), 0, 1);
        rows = rows.filter((p) => p.lastEditTime !== null && Date.parse(p.lastEditTime) >= since);
      } else if (token.includes(':')) {
        throw searchError(`Unknown named token: ${key}`);
      } else {
        const tag = this.findTag(token);
        rows = tag ? rows.filter((p) => p.tags.includes(tag.names[0]!)) : [];
      }
    }
    rows.sort((a, b) => {
      if (sort.key === 'id') return sort.asc ? a.id - b.id : b.id - a.id;
      // PostgreSQL: NULLS LAST ascending, NULLS FIRST descending.
      const ta = a.lastEditTime === null ? Number.POSITIVE_INFINITY : Date.parse(a.lastEditTime);
      const tb = b.lastEditTime === null ? Number.POSITIVE_INFINITY : Date.parse(b.lastEditTime);
      return sort.asc ? ta - tb : tb - ta;
    });
    return {
      query,
      offset,
      limit,
      total: rows.length,
      results: rows.slice(offset, offset + limit).map((p) => this.serializePost(p, fields)),
    };
  }

  private listTags(params: Record<string, unknown>, fields: string[] | null) {
    const query = String(params['query'] ?? '');
    const { offset, limit } = this.paging(params);
    let rows = [...this.tags];
    let asc = false;
    for (const token of query.toLowerCase().split(/\s+/).filter(Boolean)) {
      const [key, value = ''] = token.split(/:(.*)/s, 2) as [string, string?];
      if (key === 'sort' && value.startsWith('creation-date')) asc = value.endsWith(',asc');
      else if (key === 'implication-count-min') rows = rows.filter((t) => t.implications.length >= Number(value));
      else if (!token.includes(':')) {
        const pattern = new RegExp(`^${token.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
        rows = rows.filter((t) => t.names.some((n) => pattern.test(n.toLowerCase())));
      } else throw searchError(`Unknown named token: ${key}`);
    }
    rows.sort((a, b) => (asc ? 1 : -1) * (Date.parse(a.creationTime) - Date.parse(b.creationTime)));
    return {
      query,
      offset,
      limit,
      total: rows.length,
      results: rows.slice(offset, offset + limit).map((t) => this.serializeTag(t, fields)),
    };
  }

  private updatePost(
    post: FakeSzuruPost,
    params: Record<string, unknown>,
    user: string | null,
    fields: string[] | null,
  ) {
    const race = this.races.get(post.id)?.shift();
    if (race) this.editAsHuman(post.id, race);
    if (params['version'] === undefined) throw validation("Required parameter 'version' is missing.");
    if (Number(params['version']) !== post.version) {
      throw new HttpError(
        409,
        'Conflict',
        'IntegrityError',
        'Integrity violation',
        'Someone else modified this in the meantime. Please try again.',
      );
    }
    if (user === null) {
      throw new HttpError(403, 'Forbidden', 'AuthError', 'Authentication error', 'Insufficient privileges to do this.');
    }
    if (params['safety'] !== undefined && !['safe', 'sketchy', 'unsafe'].includes(String(params['safety']))) {
      throw new HttpError(
        400,
        'Bad Request',
        'InvalidPostSafetyError',
        'Validation error',
        "Safety can be either of ['safe', 'sketchy', 'unsafe'].",
      );
    }
    if (params['tags'] !== undefined) {
      if (!Array.isArray(params['tags'])) throw validation("Parameter 'tags' must be a list.");
      post.tags = this.resolveTags(params['tags'].map(String));
    }
    if (params['safety'] !== undefined) post.safety = params['safety'] as FakeSzuruPost['safety'];
    post.version += 1;
    post.lastEditTime = this.now();
    return this.serializePost(post, fields);
  }
}

function searchError(description: string): HttpError {
  return new HttpError(400, 'Bad Request', 'SearchError', 'Search error', description);
}

function pick(full: Record<string, unknown>, fields: string[] | null): Record<string, unknown> {
  if (!fields) return full;
  return Object.fromEntries(fields.filter((f) => f in full).map((f) => [f, full[f]]));
}

function send(res: ServerResponse, status: number, reason: string, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, reason, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
