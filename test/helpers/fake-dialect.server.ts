/**
 * Local fakes of the other dialects (BOORU-API §2), on 127.0.0.1, over the same in-memory store as the fake
 * Danbooru (`FakeBooruHost`), answering as the real sites do, empty pages included; one renderer per dialect
 * (`fake-e621.renderer.ts`, `fake-moebooru.renderer.ts`, `fake-gelbooru.renderer.ts`):
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
import { FakeBooruHost, type FakeRequest } from '../../src/demo/fake-booru-host.js';
import { applyFault, parseBody, sendError } from '../../src/demo/fake-danbooru.responses.js';
import type { Clock } from '../../src/shared/clock.js';
import type { DialectRenderer } from './fake-dialect.renderer.js';
import { E621Renderer } from './fake-e621.renderer.js';
import { GelbooruRenderer } from './fake-gelbooru.renderer.js';
import { MoebooruRenderer } from './fake-moebooru.renderer.js';

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

export class FakeDialectServer extends FakeBooruHost {
  private readonly renderer: DialectRenderer;
  private readonly media = new Map<string, { bytes: Buffer; contentType: string }>();

  constructor(
    readonly dialect: FakeDialect,
    private readonly options: FakeDialectOptions = {},
  ) {
    super({ clock: options.clock });
    const Renderer = { e621: E621Renderer, moebooru: MoebooruRenderer, gelbooru: GelbooruRenderer }[dialect];
    this.renderer = new Renderer(this);
  }

  /** Serves `bytes` at `path` (GET, no credentials needed, as a CDN). */
  addMedia(path: string, bytes: Buffer, contentType = 'application/octet-stream'): void {
    this.media.set(path, { bytes, contentType });
  }

  /** The URLs the dialect renders for a post's file and its variants, as paths on this server. */
  mediaPathsOf(id: number): string[] {
    const post = this.store.getPost(id);
    if (!post) return [];
    const rendered = this.renderer
      .mediaUrls(post)
      .filter((url): url is string => typeof url === 'string' && url.length > 0);
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
    if (fault === 'empty' && method === 'GET') return this.renderer.sendEmpty(url.pathname, res);
    if (fault !== null && fault !== 'unsaved' && applyFault(fault, req, res)) return;
    if (!this.authenticated(req, url)) return sendError(res, 401, 'AuthenticationFailure', 'Invalid API key');
    const form = parseBody(body, headers['content-type']);
    this.renderer.route(method, url, form, fault === 'unsaved', res);
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
}
