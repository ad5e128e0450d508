/**
 * The fake e621 (e621ng): `{"posts":[…]}` always; other list endpoints a bare array of rows, but an empty page as
 * `{"tags":[]}`, `{"tag_aliases":[]}`, `{"tag_implications":[]}` (e621ng issue #359); grouped tags; `PATCH` with
 * `tag_string_diff`; relations with their status (`pending` ones listed, never applied).
 */
import type { ServerResponse } from 'node:http';
import { relationRows, sendError, sendJson } from '../../src/demo/fake-danbooru.responses.js';
import type { FakePostRecord } from '../../src/demo/fake-danbooru.store.js';
import { DialectRenderer, FROM_LETTER, pairsOf, TO_E621_RATING } from './fake-dialect.renderer.js';

const E621_GROUPS: Record<number, string> = { 0: 'general', 1: 'artist', 3: 'copyright', 4: 'character', 5: 'meta' };
/** The model plural that keys an empty e621 list. */
const E621_LIST_KEYS: Record<string, string> = {
  '/posts.json': 'posts',
  '/tags.json': 'tags',
  '/tag_aliases.json': 'tag_aliases',
  '/tag_implications.json': 'tag_implications',
};

export class E621Renderer extends DialectRenderer {
  route(method: string, url: URL, form: Record<string, string>, unsaved: boolean, res: ServerResponse) {
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

  sendEmpty(path: string, res: ServerResponse): void {
    sendJson(res, 200, { [E621_LIST_KEYS[path] ?? 'posts']: [] });
  }

  mediaUrls(post: FakePostRecord): unknown[] {
    return Object.values(this.renderE621(post)).flatMap((v) =>
      typeof v === 'object' && v !== null && 'url' in v ? [(v as { url: unknown }).url] : [],
    );
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

  /** e621ng answers an empty list as an object keyed by the model's plural (a bare array otherwise). */
  private e621List(res: ServerResponse, path: string, rows: unknown[]) {
    sendJson(res, 200, rows.length === 0 ? { [E621_LIST_KEYS[path] ?? 'posts']: [] } : rows);
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
}
