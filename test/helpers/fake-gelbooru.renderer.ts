/**
 * The fake Gelbooru dapi (gelbooru.com): `@attributes` wrapper with `post` absent when empty, HTML-escaped tags,
 * 0-based `pid`, tag `type` 6 for deprecated, no edit API.
 */
import type { ServerResponse } from 'node:http';
import { sendError, sendJson } from '../../src/demo/fake-danbooru.responses.js';
import type { FakePostRecord } from '../../src/demo/fake-danbooru.store.js';
import { DialectRenderer } from './fake-dialect.renderer.js';

const GELBOORU_RATING: Record<string, string> = { g: 'general', s: 'sensitive', q: 'questionable', e: 'explicit' };

export class GelbooruRenderer extends DialectRenderer {
  route(method: string, url: URL, _form: Record<string, string>, _unsaved: boolean, res: ServerResponse) {
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

  sendEmpty(_path: string, res: ServerResponse): void {
    sendJson(res, 200, { '@attributes': { limit: 100, offset: 0, count: 0 } });
  }

  mediaUrls(post: FakePostRecord): unknown[] {
    return ['file_url', 'preview_url'].map((k) => this.renderGelbooru(post)[k]);
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
}
