/**
 * Local fakes of the other dialects (BOORU-API §2), on 127.0.0.1, over the same in-memory store as the fake
 * Danbooru, answering as the real sites do, empty pages included:
 * - e621 (e621ng): `{"posts":[…]}` always; other list endpoints a bare array of rows, but an empty page as
 *   `{"tags":[]}`, `{"tag_aliases":[]}`, `{"tag_implications":[]}` (e621ng issue #359); grouped tags; `PATCH` with
 *   `tag_string_diff`; relations with their status (`pending` ones listed, never applied).
 * - Moebooru (moebooru/moebooru): bare arrays, `[]` when empty; epoch times; `/tag.json` with Moebooru's own
 *   parameters (`after_id` inclusive, `order=date` meaning id DESC, `limit`, 1-based `page`); `/tag_alias.json`
 *   (`{id,name,alias_id,pending}`) and `/tag_implication.json` (`{id,predicate_id,consequent_id,pending}`), 20 rows
 *   a page, pending first; `POST /post/update.json` with Moebooru's old_tags merge, then aliases and implications
 *   (non-pending) applied (post/tag_methods.rb `commit_tags`); `order:change_desc`; query-string credentials
 *   (`login`+`password_hash`, or `username`+`api_key`).
 * - Gelbooru dapi (gelbooru.com): `@attributes` wrapper with `post` absent when empty, HTML-escaped tags, 0-based
 *   `pid`, tag `type` 6 for deprecated, no edit API.
 * Same fault injection as the fake Danbooru.
 */
import type { ServerResponse } from 'node:http';
import { FakeBooruHost, type FakeRequest } from '../../src/demo/fake-booru-host.js';
import { applyFault, parseBody, relationRows, sendError, sendJson } from '../../src/demo/fake-danbooru.responses.js';
import { searchPosts } from '../../src/demo/fake-danbooru.search.js';
import type { FakePostRecord } from '../../src/demo/fake-danbooru.store.js';
import type { Clock } from '../../src/shared/clock.js';

export type FakeDialect = 'e621' | 'moebooru' | 'gelbooru';

export interface FakeDialectOptions {
  /** Query-string credentials (Moebooru `login`/`password_hash`, Gelbooru `user_id`/`api_key`) or Basic (e621). */
  credentials?: { login: string; apiKey: string } | null;
  /** Moebooru: which credential form the site accepts. (Default: password_hash) */
  moebooruAuth?: 'password_hash' | 'api_key';
  /** How long the `slow` fault waits, ms. (Default: 1000) */
  slowMs?: number;
  clock?: Clock;
}

const E621_GROUPS: Record<number, string> = { 0: 'general', 1: 'artist', 3: 'copyright', 4: 'character', 5: 'meta' };
/** The model plural that keys an empty e621 list. */
const E621_LIST_KEYS: Record<string, string> = {
  '/posts.json': 'posts',
  '/tags.json': 'tags',
  '/tag_aliases.json': 'tag_aliases',
  '/tag_implications.json': 'tag_implications',
};
/** Moebooru lists aliases and implications 20 a page. */
const MOEBOORU_RELATION_PAGE = 20;
const TO_E621_RATING: Record<string, string> = { g: 's', s: 's', q: 'q', e: 'e' };
const FROM_LETTER: Record<string, string> = { s: 'g', q: 'q', e: 'e' };
const GELBOORU_RATING: Record<string, string> = { g: 'general', s: 'sensitive', q: 'questionable', e: 'explicit' };

export class FakeDialectServer extends FakeBooruHost {
  private readonly media = new Map<string, { bytes: Buffer; contentType: string }>();

  constructor(
    readonly dialect: FakeDialect,
    private readonly options: FakeDialectOptions = {},
  ) {
    super({ clock: options.clock });
  }

  /** Serves `bytes` at `path` (GET, no credentials needed, as a CDN). */
  addMedia(path: string, bytes: Buffer, contentType = 'application/octet-stream'): void {
    this.media.set(path, { bytes, contentType });
  }

  /** The URLs the dialect renders for a post's file and its variants, as paths on this server. */
  mediaPathsOf(id: number): string[] {
    const post = this.store.getPost(id);
    if (!post) return [];
    const rendered = (
      this.dialect === 'e621'
        ? Object.values(this.renderE621(post)).flatMap((v) =>
            typeof v === 'object' && v !== null && 'url' in v ? [(v as { url: unknown }).url] : [],
          )
        : this.dialect === 'moebooru'
          ? ['file_url', 'preview_url', 'sample_url', 'jpeg_url'].map((k) => this.renderMoebooru(post)[k])
          : ['file_url', 'preview_url'].map((k) => this.renderGelbooru(post)[k])
    ).filter((url): url is string => typeof url === 'string' && url.length > 0);
    return rendered.map((url) => new URL(url).pathname);
  }

  protected async route({ req, res, method, url, headers, body }: FakeRequest): Promise<void> {
    const fault = this.takeFault(method, url.pathname);
    const media = method === 'GET' ? this.media.get(url.pathname) : undefined;
    if (media && fault === null) {
      res.writeHead(200, { 'content-type': media.contentType, 'content-length': media.bytes.length });
      res.end(media.bytes);
      return;
    }
    if (fault === 'slow') await new Promise((resolve) => setTimeout(resolve, this.options.slowMs ?? 1000));
    if (fault === 'empty' && method === 'GET') return this.sendEmpty(url.pathname, res);
    if (fault !== null && fault !== 'unsaved' && applyFault(fault, req, res)) return;
    if (!this.authenticated(req, url)) return sendError(res, 401, 'AuthenticationFailure', 'Invalid API key');
    const form = parseBody(body, headers['content-type']);
    if (this.dialect === 'e621') return this.e621(method, url, form, fault === 'unsaved', res);
    if (this.dialect === 'moebooru') return this.moebooru(method, url, form, fault === 'unsaved', res);
    return this.gelbooru(method, url, res);
  }

  private authenticated(req: FakeRequest['req'], url: URL): boolean {
    const expected = this.options.credentials;
    if (!expected) return true;
    if (this.dialect === 'e621') {
      const header = req.headers.authorization ?? '';
      return header === `Basic ${Buffer.from(`${expected.login}:${expected.apiKey}`).toString('base64')}`;
    }
    const [loginParam, keyParam] =
      this.dialect === 'moebooru'
        ? this.options.moebooruAuth === 'api_key'
          ? ['username', 'api_key']
          : ['login', 'password_hash']
        : ['user_id', 'api_key'];
    return url.searchParams.get(loginParam) === expected.login && url.searchParams.get(keyParam) === expected.apiKey;
  }

  private sendEmpty(path: string, res: ServerResponse) {
    if (this.dialect === 'e621') sendJson(res, 200, { [E621_LIST_KEYS[path] ?? 'posts']: [] });
    else if (this.dialect === 'moebooru') sendJson(res, 200, []);
    else sendJson(res, 200, { '@attributes': { limit: 100, offset: 0, count: 0 } });
  }

  /** e621ng answers an empty list as an object keyed by the model's plural (a bare array otherwise). */
  private e621List(res: ServerResponse, path: string, rows: unknown[]) {
    sendJson(res, 200, rows.length === 0 ? { [E621_LIST_KEYS[path] ?? 'posts']: [] } : rows);
  }

  private search(
    tags: string,
    limit: string | null,
    page: string | null,
  ): FakePostRecord[] | { status: number; message: string } {
    // Gelbooru's `sort:id:asc`; Moebooru's `order:change_desc` (newest change first, as Danbooru's `order:change`).
    const query = tags.replace(/\bsort:id:asc\b/, 'order:id').replace(/\border:change_desc\b/, 'order:change');
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
    if (method === 'GET' && url.pathname === '/tags.json') return this.e621List(res, url.pathname, this.tagRows(url));
    if (method === 'GET' && url.pathname === '/tag_aliases.json') {
      const rows = this.relations([...this.store.aliases], [...this.store.pendingAliases], url);
      return this.e621List(res, url.pathname, rows);
    }
    if (method === 'GET' && url.pathname === '/tag_implications.json') {
      const rows = this.relations(pairsOf(this.store.implications), pairsOf(this.store.pendingImplications), url);
      return this.e621List(res, url.pathname, rows);
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
      // post/tag_methods.rb commit_tags: with old_tags, new = (current ∪ new) − old ∪ (current ∩ new); then tagme
      // when empty, aliases (TagAlias.to_aliased) and implications (TagImplication.with_implied), pending ones not.
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
      if (tags.length === 0) tags = ['tagme'];
      tags = tags.map((t) => this.store.aliases.get(t) ?? t);
      for (let i = 0; i < tags.length && i < 10_000; i++) tags.push(...(this.store.implications.get(tags[i]!) ?? []));
      const rating = form['post[rating]'];
      this.store.setTags(id, tags, rating ? (FROM_LETTER[rating] ?? null) : null);
      return sendJson(res, 200, { success: true });
    }
    if (method === 'GET' && url.pathname === '/tag.json') return sendJson(res, 200, this.moebooruTags(url));
    if (method === 'GET' && url.pathname === '/tag_alias.json') {
      // tag_alias_controller.rb: `order(is_pending: :desc)`, 20 a page; rows {id, name, alias_id, pending}.
      const rows = [
        ...[...this.store.aliases].map(([from, to]) => ({ from, to, pending: false })),
        ...[...this.store.pendingAliases].map(([from, to]) => ({ from, to, pending: true })),
      ].map((r, i) => ({ id: i + 1, name: r.from, alias_id: this.store.tagIdOf(r.to), pending: r.pending }));
      rows.sort((a, b) => Number(b.pending) - Number(a.pending) || a.id - b.id);
      return sendJson(res, 200, pageOf(rows, url));
    }
    if (method === 'GET' && url.pathname === '/tag_implication.json') {
      // tag_implication.rb order_for_listing: pending first, then predicate name, consequent name; 20 a page.
      const rows = [
        ...pairsOf(this.store.implications).map(([from, to]) => ({ from, to, pending: false })),
        ...pairsOf(this.store.pendingImplications).map(([from, to]) => ({ from, to, pending: true })),
      ].map((r, i) => ({ ...r, id: i + 1 }));
      rows.sort(
        (a, b) => Number(b.pending) - Number(a.pending) || a.from.localeCompare(b.from) || a.to.localeCompare(b.to),
      );
      const out = rows.map((r) => ({
        id: r.id,
        consequent_id: this.store.tagIdOf(r.to),
        predicate_id: this.store.tagIdOf(r.from),
        pending: r.pending,
      }));
      return sendJson(res, 200, pageOf(out, url));
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
      // Like the post listing, an empty tag page has no `tag` key at all.
      const attributes = { limit: 100, offset: 0, count: rows.length };
      return sendJson(
        res,
        200,
        rows.length === 0 ? { '@attributes': attributes } : { '@attributes': attributes, tag: rows },
      );
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

  private relations(pairs: [string, string][], pending: [string, string][], url: URL): unknown[] {
    const afterId = Number(/^a(\d+)$/.exec(url.searchParams.get('page') ?? '')?.[1] ?? 0);
    return (relationRows(pairs, url, pending) as { id: number }[]).filter((row) => row.id > afterId);
  }

  /**
   * Moebooru's tag_controller.rb index: `after_id` keeps ids ≥ it, `order` is `date` (id DESC), `count` or the name,
   * `limit` defaults to 50 (`0`: all), `page` is 1-based; `id`, `name` (substring) and `type` filter.
   */
  private moebooruTags(url: URL): unknown[] {
    const q = url.searchParams;
    let tags = this.store.listTags();
    const afterId = q.get('after_id');
    if (afterId) tags = tags.filter((t) => t.id >= Number(afterId));
    if (q.get('id')) tags = tags.filter((t) => t.id === Number(q.get('id')));
    if (q.get('name')) tags = tags.filter((t) => t.name.includes(String(q.get('name')).replace(/\*/g, '')));
    if (q.get('type')) tags = tags.filter((t) => t.category === Number(q.get('type')));
    const order = q.get('order');
    if (order === 'date') tags.sort((a, b) => b.id - a.id);
    else if (order === 'count') tags.sort((a, b) => b.post_count - a.post_count);
    else tags.sort((a, b) => a.name.localeCompare(b.name));
    const limit = q.get('limit') === null ? 50 : Number(q.get('limit'));
    const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
    const shown = limit === 0 ? tags : tags.slice((page - 1) * limit, page * limit);
    return shown.map((t) => ({ id: t.id, name: t.name, count: t.post_count, type: t.category, ambiguous: false }));
  }
}

function pairsOf(map: ReadonlyMap<string, readonly string[]>): [string, string][] {
  const rows: [string, string][] = [];
  for (const [from, tos] of map) for (const to of tos) rows.push([from, to]);
  return rows;
}

/** Moebooru's `paginate per_page: 20, page: page_number` over a listing. */
function pageOf<T>(rows: readonly T[], url: URL): T[] {
  const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
  return rows.slice((page - 1) * MOEBOORU_RELATION_PAGE, page * MOEBOORU_RELATION_PAGE);
}
