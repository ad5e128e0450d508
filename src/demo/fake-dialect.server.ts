/**
 * Local fakes of the other dialects (BOORU-API §2), on 127.0.0.1, over the same in-memory store as the fake
 * Danbooru: e621 (`{"posts":[…]}`, grouped tags, `PATCH` with `tag_string_diff`), Moebooru (bare arrays, epoch
 * times, `POST /post/update.json` with Moebooru's own old_tags merge, query-string credentials) and Gelbooru 0.2 dapi
 * (`@attributes` wrapper, HTML-escaped tags, 0-based `pid`, no edit API). Same fault injection as the fake Danbooru.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../shared/clock.js';
import { applyFault, type FakeFault, parseBody, relationRows, sendError, sendJson } from './fake-danbooru.responses.js';
import { searchPosts } from './fake-danbooru.search.js';
import type { FakeRequestLogEntry } from './fake-danbooru.server.js';
import { type FakePostInput, type FakePostRecord, FakeDanbooruStore, type FakeTag } from './fake-danbooru.store.js';

export type FakeDialect = 'e621' | 'moebooru' | 'gelbooru';

export interface FakeDialectOptions {
  /** Query-string credentials (Moebooru `login`/`password_hash`, Gelbooru `user_id`/`api_key`) or Basic (e621). */
  credentials?: { login: string; apiKey: string } | null;
  /** How long the `slow` fault waits, ms. (Default: 1000) */
  slowMs?: number;
  clock?: Clock;
}

const E621_GROUPS: Record<number, string> = { 0: 'general', 1: 'artist', 3: 'copyright', 4: 'character', 5: 'meta' };
const TO_E621_RATING: Record<string, string> = { g: 's', s: 's', q: 'q', e: 'e' };
const FROM_LETTER: Record<string, string> = { s: 'g', q: 'q', e: 'e' };
const GELBOORU_RATING: Record<string, string> = { g: 'general', s: 'sensitive', q: 'questionable', e: 'explicit' };

interface PendingFault {
  remaining: number;
  fault: FakeFault;
  path?: string;
}

export class FakeDialectServer {
  readonly store: FakeDanbooruStore;
  readonly requests: FakeRequestLogEntry[] = [];
  private faults: PendingFault[] = [];
  private server: Server | null = null;
  private origin = '';

  constructor(
    readonly dialect: FakeDialect,
    private readonly options: FakeDialectOptions = {},
  ) {
    this.store = new FakeDanbooruStore({ clock: options.clock ?? systemClock });
  }

  async start(): Promise<{ url: string; close: () => Promise<void> }> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((thrown: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'RuntimeError', String(thrown));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.server = server;
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url: this.origin, close: () => this.close() };
  }

  get url(): string {
    return this.origin;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Posts in Danbooru's JSON shape (`tag_string`, `rating` g/s/q/e, flags); rendered in the dialect's shape. */
  addPosts(posts: readonly FakePostInput[]): void {
    this.store.addPosts(posts);
  }

  addTags(tags: readonly FakeTag[]): void {
    this.store.addTags(tags);
  }

  getPost(id: number): FakePostRecord | undefined {
    return this.store.getPost(id);
  }

  editAsHuman(id: number, change: { add?: readonly string[]; remove?: readonly string[] }): FakePostRecord {
    return this.store.editAsHuman(id, change);
  }

  /** The next `count` requests (whose path starts with `path`, when given) misbehave as `fault`. */
  failNext(count: number, fault: FakeFault, path?: string): void {
    this.faults.push({ remaining: count, fault, ...(path ? { path } : {}) });
  }

  private takeFault(path: string): FakeFault | null {
    const pending = this.faults.find((f) => f.remaining > 0 && (!f.path || path.startsWith(f.path)));
    if (!pending) return null;
    pending.remaining -= 1;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return pending.fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.origin);
    const method = req.method ?? 'GET';
    const headers: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(req.headers))
      headers[key] = Array.isArray(value) ? value.join(', ') : value;
    this.requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body });

    const fault = this.takeFault(url.pathname);
    if (fault === 'slow') await new Promise((resolve) => setTimeout(resolve, this.options.slowMs ?? 1000));
    if (fault === 'empty' && method === 'GET') return this.sendEmpty(res);
    if (fault !== null && fault !== 'unsaved' && applyFault(fault, req, res)) return;
    if (!this.authenticated(req, url)) return sendError(res, 401, 'AuthenticationFailure', 'Invalid API key');
    const form = parseBody(body, headers['content-type']);
    if (this.dialect === 'e621') return this.e621(method, url, form, fault === 'unsaved', res);
    if (this.dialect === 'moebooru') return this.moebooru(method, url, form, fault === 'unsaved', res);
    return this.gelbooru(method, url, res);
  }

  private authenticated(req: IncomingMessage, url: URL): boolean {
    const expected = this.options.credentials;
    if (!expected) return true;
    if (this.dialect === 'e621') {
      const header = req.headers.authorization ?? '';
      return header === `Basic ${Buffer.from(`${expected.login}:${expected.apiKey}`).toString('base64')}`;
    }
    const [loginParam, keyParam] = this.dialect === 'moebooru' ? ['login', 'password_hash'] : ['user_id', 'api_key'];
    return url.searchParams.get(loginParam) === expected.login && url.searchParams.get(keyParam) === expected.apiKey;
  }

  private sendEmpty(res: ServerResponse) {
    if (this.dialect === 'e621') sendJson(res, 200, { posts: [] });
    else if (this.dialect === 'moebooru') sendJson(res, 200, []);
    else sendJson(res, 200, { '@attributes': { limit: 100, offset: 0, count: 0 } });
  }

  private search(
    tags: string,
    limit: string | null,
    page: string | null,
  ): FakePostRecord[] | { status: number; message: string } {
    const query = tags.replace(/\bsort:id:asc\b/, 'order:id');
    const result = searchPosts(this.store.allPosts(), { tags: query, limit, page }, 40);
    return result.ok ? result.posts : { status: result.status, message: result.message };
  }

  // --- e621 ---------------------------------------------------------------------------------------------------

  private e621(method: string, url: URL, form: Record<string, string>, unsaved: boolean, res: ServerResponse) {
    const one = /^\/posts\/(\d+)\.json$/.exec(url.pathname);
    if (method === 'GET' && url.pathname === '/posts.json') {
      const found = this.search(
        url.searchParams.get('tags') ?? '',
        url.searchParams.get('limit'),
        url.searchParams.get('page'),
      );
      if (!Array.isArray(found)) return sendError(res, found.status, 'SearchError', found.message);
      return sendJson(res, 200, { posts: found.map((p) => this.renderE621(p)) });
    }
    if (one && method === 'GET') {
      const post = this.store.getPost(Number(one[1]));
      return post ? sendJson(res, 200, { post: this.renderE621(post) }) : sendError(res, 404, 'NotFound', 'not found');
    }
    if (one && method === 'PATCH') {
      const id = Number(one[1]);
      const post = this.store.getPost(id);
      if (!post) return sendError(res, 404, 'NotFound', 'not found');
      if (unsaved) return sendJson(res, 200, { post: this.renderE621(post) });
      const rating = form['post[rating]'];
      const oldRating = form['post[old_rating]'];
      this.store.editPost(id, {
        // tag_string_diff is a pure delta: like Danbooru's old_tag_string="" form.
        tagString: form['post[tag_string_diff]'] ?? null,
        oldTagString: '',
        rating: rating ? (FROM_LETTER[rating] ?? null) : null,
        oldRating: oldRating ? (FROM_LETTER[oldRating] ?? null) : null,
      });
      return sendJson(res, 200, { post: this.renderE621(this.store.getPost(id)!) });
    }
    if (method === 'GET' && url.pathname === '/tags.json') return sendJson(res, 200, this.tagRows(url));
    if (method === 'GET' && url.pathname === '/tag_aliases.json') {
      return sendJson(res, 200, this.relations([...this.store.aliases.entries()], url));
    }
    if (method === 'GET' && url.pathname === '/tag_implications.json') {
      const rows: [string, string][] = [];
      for (const [from, tos] of this.store.implications) for (const to of tos) rows.push([from, to]);
      return sendJson(res, 200, this.relations(rows, url));
    }
    sendError(res, 404, 'NotFound', 'not found');
  }

  private renderE621(post: FakePostRecord): Record<string, unknown> {
    const groups: Record<string, string[]> = {
      general: [],
      species: [],
      character: [],
      copyright: [],
      artist: [],
      invalid: [],
      lore: [],
      meta: [],
    };
    for (const name of post.tag_string.split(' ').filter(Boolean)) {
      groups[E621_GROUPS[this.store.categoryOf(name)] ?? 'general']!.push(name);
    }
    const hidden = post['is_banned'] === true;
    const md5 = String(post['md5'] ?? '');
    return {
      id: post.id,
      created_at: post['created_at'],
      updated_at: post.updated_at,
      file: {
        width: post['image_width'],
        height: post['image_height'],
        ext: post['file_ext'],
        size: post['file_size'],
        md5: hidden ? null : md5,
        url: hidden ? null : `${this.origin}/data/${md5}.${String(post['file_ext'] ?? 'jpg')}`,
      },
      preview: { width: 150, height: 150, url: hidden ? null : `${this.origin}/data/preview/${md5}.jpg` },
      sample: { has: !hidden, width: 850, height: 850, url: hidden ? null : `${this.origin}/data/sample/${md5}.jpg` },
      tags: groups,
      flags: { pending: post['is_pending'] === true, flagged: false, deleted: post['is_deleted'] === true },
      rating: TO_E621_RATING[String(post['rating'])] ?? 's',
      change_seq: post.id,
    };
  }

  // --- Moebooru -----------------------------------------------------------------------------------------------

  private moebooru(method: string, url: URL, form: Record<string, string>, unsaved: boolean, res: ServerResponse) {
    if (method === 'GET' && url.pathname === '/post.json') {
      const found = this.search(
        url.searchParams.get('tags') ?? '',
        url.searchParams.get('limit'),
        url.searchParams.get('page'),
      );
      if (!Array.isArray(found)) return sendError(res, found.status, 'SearchError', found.message);
      return sendJson(
        res,
        200,
        found.map((p) => this.renderMoebooru(p)),
      );
    }
    if (method === 'POST' && url.pathname === '/post/update.json') {
      const id = Number(form['id']);
      const post = this.store.getPost(id);
      if (!post) return sendError(res, 404, 'NotFound', 'not found');
      if (unsaved) return sendJson(res, 200, { success: true });
      // post/tag_methods.rb: with old_tags, new = (current ∪ new) − old ∪ (current ∩ new).
      const current = new Set(post.tag_string.split(' ').filter(Boolean));
      const next = new Set((form['post[tags]'] ?? '').split(/\s+/).filter(Boolean));
      let tags: string[];
      if (form['post[old_tags]'] !== undefined) {
        const old = new Set(form['post[old_tags]'].split(/\s+/).filter(Boolean));
        const union = [...current, ...next].filter((t) => !old.has(t));
        tags = [...union, ...[...current].filter((t) => next.has(t))];
      } else {
        tags = [...next];
      }
      const rating = form['post[rating]'];
      this.store.setTags(id, tags, rating ? (FROM_LETTER[rating] ?? null) : null);
      return sendJson(res, 200, { success: true });
    }
    if (method === 'GET' && url.pathname === '/tag.json') {
      const afterId = Number(url.searchParams.get('after_id') ?? 0);
      const rows = this.store
        .listTags()
        .filter((t) => t.id > afterId)
        .sort((a, b) => a.id - b.id)
        .slice(0, Number(url.searchParams.get('limit') ?? 100))
        .map((t) => ({ id: t.id, name: t.name, count: t.post_count, type: t.category, ambiguous: false }));
      return sendJson(res, 200, rows);
    }
    sendError(res, 404, 'NotFound', 'not found');
  }

  private renderMoebooru(post: FakePostRecord): Record<string, unknown> {
    const deleted = post['is_deleted'] === true;
    const md5 = String(post['md5'] ?? '');
    const urls = deleted
      ? {}
      : {
          file_url: `${this.origin}/image/${md5}.${String(post['file_ext'] ?? 'jpg')}`,
          preview_url: `${this.origin}/data/preview/${md5}.jpg`,
          sample_url: `${this.origin}/sample/${md5}.jpg`,
          jpeg_url: `${this.origin}/jpeg/${md5}.jpg`,
        };
    return {
      id: post.id,
      tags: post.tag_string,
      created_at: Math.floor(Date.parse(String(post['created_at'])) / 1000),
      updated_at: Math.floor(Date.parse(post.updated_at) / 1000),
      md5,
      file_ext: post['file_ext'],
      file_size: post['file_size'],
      width: post['image_width'],
      height: post['image_height'],
      actual_preview_width: 300,
      actual_preview_height: 240,
      sample_width: 1500,
      sample_height: 1200,
      jpeg_width: post['image_width'],
      jpeg_height: post['image_height'],
      rating: TO_E621_RATING[String(post['rating'])] ?? 's',
      status: deleted ? 'deleted' : post['is_pending'] ? 'pending' : 'active',
      ...urls,
    };
  }

  // --- Gelbooru -----------------------------------------------------------------------------------------------

  private gelbooru(method: string, url: URL, res: ServerResponse) {
    const q = url.searchParams;
    if (method !== 'GET' || url.pathname !== '/index.php' || q.get('page') !== 'dapi') {
      return sendError(res, 404, 'NotFound', 'not found');
    }
    if (q.get('s') === 'post') {
      const limit = Math.min(100, Number(q.get('limit') ?? 100));
      const pid = Number(q.get('pid') ?? 0);
      let posts: FakePostRecord[];
      if (q.get('id')) {
        const post = this.store.getPost(Number(q.get('id')));
        posts = post ? [post] : [];
      } else {
        const found = this.search(q.get('tags') ?? '', String(limit), String(pid + 1));
        if (!Array.isArray(found)) return sendError(res, found.status, 'SearchError', found.message);
        posts = found;
      }
      const attributes = { limit, offset: pid * limit, count: posts.length };
      return sendJson(
        res,
        200,
        posts.length === 0
          ? { '@attributes': attributes }
          : { '@attributes': attributes, post: posts.map((p) => this.renderGelbooru(p)) },
      );
    }
    if (q.get('s') === 'tag') {
      const afterId = Number(q.get('after_id') ?? 0);
      const rows = this.store
        .listTags()
        .filter((t) => t.id > afterId)
        .sort((a, b) => a.id - b.id)
        .slice(0, Number(q.get('limit') ?? 100))
        .map((t) => ({
          id: t.id,
          name: t.name,
          count: t.post_count,
          type: t.is_deprecated ? 6 : t.category,
          ambiguous: 0,
        }));
      return sendJson(res, 200, { '@attributes': { limit: 100, offset: 0, count: rows.length }, tag: rows });
    }
    sendError(res, 404, 'NotFound', 'not found');
  }

  private renderGelbooru(post: FakePostRecord): Record<string, unknown> {
    const md5 = String(post['md5'] ?? '');
    const escaped = post.tag_string.replace(/&/g, '&amp;').replace(/'/g, '&#039;').replace(/"/g, '&quot;');
    return {
      id: post.id,
      created_at: 'Sat Mar 04 09:16:56 -0600 2023',
      md5,
      directory: md5.slice(0, 2),
      image: `${md5}.${String(post['file_ext'] ?? 'jpg')}`,
      rating: GELBOORU_RATING[String(post['rating'])] ?? 'general',
      change: Math.floor(Date.parse(post.updated_at) / 1000),
      tags: escaped,
      width: post['image_width'],
      height: post['image_height'],
      file_url: `${this.origin}/images/${md5.slice(0, 2)}/${md5}.${String(post['file_ext'] ?? 'jpg')}`,
      preview_url: `${this.origin}/thumbnails/${md5.slice(0, 2)}/thumbnail_${md5}.jpg`,
      sample_url: '',
      status: post['is_deleted'] ? 'deleted' : post['is_pending'] ? 'pending' : 'active',
    };
  }

  private tagRows(url: URL): unknown[] {
    const afterId = Number(/^a(\d+)$/.exec(url.searchParams.get('page') ?? '')?.[1] ?? 0);
    return this.store
      .listTags()
      .filter((t) => t.id > afterId)
      .sort((a, b) => b.id - a.id)
      .slice(-Number(url.searchParams.get('limit') ?? 75))
      .map((t) => ({
        id: t.id,
        name: t.name,
        post_count: t.post_count,
        category: t.category,
        updated_at: t.created_at,
      }));
  }

  private relations(pairs: [string, string][], url: URL): unknown[] {
    const afterId = Number(/^a(\d+)$/.exec(url.searchParams.get('page') ?? '')?.[1] ?? 0);
    return (relationRows(pairs, url) as { id: number }[]).filter((row) => row.id > afterId);
  }
}
