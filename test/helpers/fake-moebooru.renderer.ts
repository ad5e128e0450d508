/**
 * The fake Moebooru (moebooru/moebooru): bare arrays, `[]` when empty; epoch times; `/tag.json` with Moebooru's own
 * parameters (`after_id` inclusive, `order=date` meaning id DESC, `limit`, 1-based `page`); `/tag_alias.json`
 * (`{id,name,alias_id,pending}`) and `/tag_implication.json` (`{id,predicate_id,consequent_id,pending}`), 20 rows a
 * page, pending first; `POST /post/update.json` with Moebooru's old_tags merge, then aliases and implications
 * (non-pending) applied (post/tag_methods.rb `commit_tags`); `order:change_desc`.
 */
import type { ServerResponse } from 'node:http';
import { sendError, sendJson } from '../../src/demo/fake-danbooru.responses.js';
import type { FakePostRecord } from '../../src/demo/fake-danbooru.store.js';
import { DialectRenderer, FROM_LETTER, pairsOf, TO_E621_RATING } from './fake-dialect.renderer.js';

/** Moebooru lists aliases and implications 20 a page. */
const MOEBOORU_RELATION_PAGE = 20;

export class MoebooruRenderer extends DialectRenderer {
  route(method: string, url: URL, form: Record<string, string>, unsaved: boolean, res: ServerResponse) {
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

  sendEmpty(_path: string, res: ServerResponse): void {
    sendJson(res, 200, []);
  }

  mediaUrls(post: FakePostRecord): unknown[] {
    return ['file_url', 'preview_url', 'sample_url', 'jpeg_url'].map((k) => this.renderMoebooru(post)[k]);
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

/** Moebooru's `paginate per_page: 20, page: page_number` over a listing. */
function pageOf<T>(rows: readonly T[], url: URL): T[] {
  const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
  return rows.slice((page - 1) * MOEBOORU_RELATION_PAGE, page * MOEBOORU_RELATION_PAGE);
}
