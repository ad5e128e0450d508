/**
 * A Danbooru-compatible HTTP server on 127.0.0.1 holding posts in memory: the bundled booru of the `demo` command,
 * and the "edge of the world" for end-to-end tests (BOORU-API §1). Faithful where it matters to a client: the
 * tag-edit merge rule, DESC `a<ID>` pages, 200-with-unsaved-post, Basic auth, Danbooru's error bodies, and injectable
 * faults (Cloudflare HTML 403, 429, 5xx, timeouts, malformed JSON).
 */
import type { ServerResponse } from 'node:http';
import type { Clock } from '../shared/clock.js';
import { FakeBooruHost, type FakeRequest } from './fake-booru-host.js';
import type { FakePostInput, FakePostRecord } from './fake-danbooru.store.js';
import {
  applyFault,
  CONTENT_TYPES,
  type FakeFault,
  parseBody,
  relationRows,
  sendError,
  sendJson,
} from './fake-danbooru.responses.js';
import { searchPosts } from './fake-danbooru.search.js';

export type { FakeFault } from './fake-danbooru.responses.js';

export interface FakeDanbooruOptions {
  /** (Default: 127.0.0.1) */
  host?: string;
  /** (Default: 0, any free port) */
  port?: number;
  /** When set, every API request must authenticate with these (HTTP Basic or `login`/`api_key` query). */
  credentials?: { login: string; apiKey: string } | null;
  /** Recompute automatic tags (highres, lowres…) on edits. (Default: false) */
  automaticTags?: boolean;
  /** Search term limit (Member: 2). (Default: 2) */
  tagLimit?: number;
  /** How long the `slow` fault waits before answering, ms. (Default: 1000) */
  slowMs?: number;
  clock?: Clock;
}

export interface StartedFakeDanbooru {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  close(): Promise<void>;
}

const URL_FIELDS = ['file_url', 'large_file_url', 'preview_file_url'];

/** One encoded file of a post, as Danbooru's media asset variants describe them. */
export interface FakeMediaFile {
  /** original, 180x180, 360x360, 720x720, sample, full */
  type: string;
  ext: string;
  width: number;
  height: number;
  bytes: Buffer;
}

export class FakeDanbooruServer extends FakeBooruHost {
  private readonly media = new Map<string, { bytes: Buffer; contentType: string; declareLength: boolean }>();
  /** The last `/posts.json` listing served, for the `repeat` fault. */
  private lastListing: unknown[] = [];
  private readonly streams = new Map<string, FakeStreamedMedia>();

  constructor(private readonly options: FakeDanbooruOptions = {}) {
    super(options);
  }

  /** Listens on loopback; URLs in post JSON that start with `/media/` are served as `<url>/media/…`. */
  override start(): Promise<StartedFakeDanbooru> {
    return super.start();
  }

  override get url(): string {
    if (!this.started) throw new Error('fake danbooru: not started');
    return this.origin;
  }

  /**
   * Serves `bytes` at `/media/<path>`; returns that path, which post JSON may use as a URL. `declareLength: false`
   * sends the body chunked, without Content-Length (to test streamed size limits).
   */
  addMedia(path: string, bytes: Buffer, contentType = 'application/octet-stream', declareLength = true): string {
    const key = path.replace(/^\/?(media\/)?/, '');
    this.media.set(key, { bytes, contentType, declareLength });
    return `/media/${key}`;
  }

  /** Stops serving `/media/<path>` (404 from now on), as when a post is expunged or its file replaced. */
  removeMedia(path: string): void {
    this.media.delete(path.replace(/^\/?(media\/)?/, ''));
  }

  /**
   * Serves `/media/<path>` as a stream that never ends (until the client hangs up): `chunkBytes` every `intervalMs`,
   * with `declaredLength` as Content-Length when given (a file that claims to be huge). Returns the path.
   */
  addStreamedMedia(path: string, stream: FakeStreamedMedia): string {
    const key = path.replace(/^\/?(media\/)?/, '');
    this.streams.set(key, stream);
    return `/media/${key}`;
  }

  /**
   * Adds a post whose files this server serves: `media_asset.variants`, `file_url`, `large_file_url` and
   * `preview_file_url` are built from `files` the way Danbooru fills them.
   */
  addPostWithMedia(post: FakePostInput, files: readonly FakeMediaFile[]): void {
    const variants = files.map((file) => ({
      type: file.type,
      url: this.addMedia(`${file.type}/${post.id}.${file.ext}`, file.bytes, CONTENT_TYPES[file.ext]),
      width: file.width,
      height: file.height,
      file_ext: file.ext,
    }));
    const byType = (type: string) => variants.find((v) => v.type === type);
    const original = byType('original');
    this.store.addPosts([
      {
        image_width: original?.width,
        image_height: original?.height,
        file_ext: original?.file_ext,
        file_size: files.find((f) => f.type === 'original')?.bytes.length,
        file_url: original?.url,
        large_file_url: (byType('sample') ?? original)?.url,
        preview_file_url: (byType('180x180') ?? byType('360x360'))?.url,
        ...post,
        media_asset: { id: post.id, status: 'active', duration: null, variants },
      },
    ]);
  }

  protected async route({ req, res, method, url, headers, body }: FakeRequest): Promise<void> {
    const fault = this.takeFault(method, url.pathname);
    if (fault === 'repeat' && url.pathname === '/posts.json') return sendJson(res, 200, this.lastListing);
    if (fault === 'slow') await new Promise((resolve) => setTimeout(resolve, this.options.slowMs ?? 1000));
    if (fault === 'empty' && method === 'GET' && url.pathname.endsWith('.json')) return sendJson(res, 200, []);
    if (fault !== null && fault !== 'unsaved' && applyFault(fault, req, res)) return;

    if (url.pathname.startsWith('/media/')) return this.serveMedia(url.pathname, method, res);
    if (fault === 'skip' && url.pathname === '/posts.json') {
      this.listPosts(url, res, (posts) => posts.filter((_, i) => i !== 1));
      return;
    }

    const form = parseBody(body, headers['content-type']);
    if (form['login'] !== undefined || form['api_key'] !== undefined) {
      // Danbooru reads login/api_key from the query string only: in a body they fail the CSRF check.
      return sendError(
        res,
        403,
        'ActionController::InvalidAuthenticityToken',
        'ActionController::InvalidAuthenticityToken',
      );
    }
    if (!this.authenticated(req, url)) {
      return sendError(res, 401, 'SessionLoader::AuthenticationFailure', 'Invalid API key');
    }

    const postMatch = /^\/posts\/(\d+)\.json$/.exec(url.pathname);
    if (method === 'GET' && url.pathname === '/posts.json') return this.listPosts(url, res);
    if (postMatch && method === 'GET') return this.showPost(Number(postMatch[1]), res);
    if (postMatch && (method === 'PUT' || method === 'PATCH')) {
      return this.updatePost(Number(postMatch[1]), form, fault, res);
    }
    if (method === 'GET' && url.pathname === '/tags.json') return this.listTags(url, res);
    if (method === 'GET' && url.pathname === '/tag_aliases.json')
      return sendJson(res, 200, relationRows([...this.store.aliases], url, [...this.store.pendingAliases]));
    if (method === 'GET' && url.pathname === '/tag_implications.json') {
      const rows: [string, string][] = [];
      for (const [from, tos] of this.store.implications) for (const to of tos) rows.push([from, to]);
      const pending: [string, string][] = [];
      for (const [from, tos] of this.store.pendingImplications) for (const to of tos) pending.push([from, to]);
      return sendJson(res, 200, relationRows(rows, url, pending));
    }
    return sendError(res, 404, 'ActiveRecord::RecordNotFound', 'That record was not found.');
  }

  private authenticated(req: FakeRequest['req'], url: URL): boolean {
    const expected = this.options.credentials;
    if (!expected) return true;
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      return decoded === `${expected.login}:${expected.apiKey}`;
    }
    return url.searchParams.get('login') === expected.login && url.searchParams.get('api_key') === expected.apiKey;
  }

  private listPosts(url: URL, res: ServerResponse, alter: (posts: unknown[]) => unknown[] = (p) => p): void {
    const md5 = url.searchParams.get('md5');
    if (md5) {
      const post = this.store.allPosts().find((p) => p['md5'] === md5);
      if (!post) {
        sendError(res, 404, 'ActiveRecord::RecordNotFound', 'That record was not found.');
        return;
      }
      sendJson(res, 200, this.render(post));
      return;
    }
    const result = searchPosts(
      this.store.allPosts(),
      {
        tags: url.searchParams.get('tags') ?? url.searchParams.get('post[tags]') ?? '',
        limit: url.searchParams.get('limit'),
        page: url.searchParams.get('page'),
      },
      this.options.tagLimit ?? 2,
    );
    if (!result.ok) {
      sendError(res, result.status, result.error, result.message);
      return;
    }
    const listing = alter(result.posts.map((post) => this.render(post)));
    this.lastListing = listing;
    sendJson(res, 200, listing);
  }

  private showPost(id: number, res: ServerResponse): void {
    const post = this.store.getPost(id);
    if (!post) {
      sendError(res, 404, 'ActiveRecord::RecordNotFound', 'That record was not found.');
      return;
    }
    sendJson(res, 200, this.render(post));
  }

  private updatePost(id: number, form: Record<string, string>, fault: FakeFault | null, res: ServerResponse): void {
    const unsaved = fault === 'unsaved';
    const current = this.store.getPost(id);
    if (!current) {
      sendError(res, 404, 'ActiveRecord::RecordNotFound', 'That record was not found.');
      return;
    }
    if (unsaved) {
      // Validation failed: Danbooru still answers 200 with the in-memory post showing the submitted string.
      const shown = { ...current, tag_string: form['post[tag_string]'] ?? current.tag_string };
      sendJson(res, 200, this.render(shown));
      return;
    }
    const edited = this.store.editPost(id, {
      tagString: form['post[tag_string]'],
      oldTagString: form['post[old_tag_string]'],
      rating: form['post[rating]'],
      oldRating: form['post[old_rating]'],
    });
    if (fault === 'savedHtml200') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><head><title>Saved</title></head><body><p>Your request is being processed.</p></body></html>');
      return;
    }
    if (fault === 'savedEmpty') {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }
    sendJson(res, 200, this.render(edited!.post));
  }

  private listTags(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const names = q.get('search[name_comma]')?.split(',');
    const pattern = q.get('search[name_matches]');
    const regex = pattern
      ? new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
      : null;
    const category = q.get('search[category]');
    const deprecated = q.get('search[is_deprecated]');
    const limit = Math.min(1000, Number(q.get('limit') ?? 20) || 20);
    // `search[updated_at]=>ISO` (incremental sync) and `page=a<ID>` (ids above ID, answered DESC like every a-page).
    const updatedAfter = /^>(.+)$/.exec(q.get('search[updated_at]') ?? '')?.[1];
    const after = /^a(\d+)$/.exec(q.get('page') ?? '')?.[1];
    let rows = this.store
      .listTags()
      .filter((t) => !names || names.includes(t.name))
      .filter((t) => !regex || regex.test(t.name))
      .filter((t) => category === null || String(t.category) === category)
      .filter((t) => deprecated === null || String(t.is_deprecated) === deprecated)
      .filter((t) => !updatedAfter || Date.parse(t.updated_at) > Date.parse(updatedAfter));
    if (after !== undefined) {
      rows = rows
        .filter((t) => t.id > Number(after))
        .sort((a, b) => a.id - b.id)
        .slice(0, limit)
        .sort((a, b) => b.id - a.id);
    } else rows = rows.slice(0, limit);
    const out = rows.map((t) => ({ ...t, words: t.name.split('_').filter(Boolean) }));
    sendJson(res, 200, out);
  }

  private serveMedia(pathname: string, method: string, res: ServerResponse): void {
    const key = decodeURIComponent(pathname.slice('/media/'.length));
    const stream = this.streams.get(key);
    if (stream) {
      serveEndless(stream, res);
      return;
    }
    const file = this.media.get(key);
    if (!file) {
      sendError(res, 404, 'ActiveRecord::RecordNotFound', 'That record was not found.');
      return;
    }
    if (!file.declareLength) {
      res.writeHead(200, { 'content-type': file.contentType });
      for (let offset = 0; offset < file.bytes.length; offset += 16_384)
        res.write(file.bytes.subarray(offset, offset + 16_384));
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': file.contentType, 'content-length': String(file.bytes.length) });
    res.end(method === 'HEAD' ? undefined : file.bytes);
  }

  /** Post JSON as served: media paths made absolute against this server. */
  private render(post: FakePostRecord): FakePostRecord {
    const absolute = (value: unknown) =>
      typeof value === 'string' && value.startsWith('/media/') ? `${this.origin}${value}` : value;
    const out: FakePostRecord = { ...post };
    for (const field of URL_FIELDS) if (field in out) out[field] = absolute(out[field]);
    const asset = out['media_asset'] as { variants?: { url: unknown }[] } | null | undefined;
    if (asset?.variants) {
      out['media_asset'] = { ...asset, variants: asset.variants.map((v) => ({ ...v, url: absolute(v.url) })) };
    }
    return out;
  }
}

/** A media file that never ends: see {@link FakeDanbooruServer.addStreamedMedia}. */
export interface FakeStreamedMedia {
  chunkBytes: number;
  intervalMs: number;
  declaredLength?: number;
  contentType?: string;
}

function serveEndless(stream: FakeStreamedMedia, res: ServerResponse): void {
  const headers: Record<string, string> = { 'content-type': stream.contentType ?? 'image/png' };
  if (stream.declaredLength !== undefined) headers['content-length'] = String(stream.declaredLength);
  res.writeHead(200, headers);
  const chunk = Buffer.alloc(stream.chunkBytes, 0x89);
  const timer = setInterval(() => {
    if (res.destroyed || res.writableEnded) clearInterval(timer);
    else res.write(chunk);
  }, stream.intervalMs);
  res.on('close', () => clearInterval(timer));
}
