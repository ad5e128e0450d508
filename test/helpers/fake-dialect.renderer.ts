/**
 * What the dialect renderers of {@link FakeDialectServer} share: the host they render from (its store and URL), the
 * post search with each dialect's order words, and the rating letters e621 and Moebooru use.
 */
import type { ServerResponse } from 'node:http';
import { searchPosts } from '../../src/demo/fake-danbooru.search.js';
import type { FakeDanbooruStore, FakePostRecord } from '../../src/demo/fake-danbooru.store.js';

export const TO_E621_RATING: Record<string, string> = { g: 's', s: 's', q: 'q', e: 'e' };
export const FROM_LETTER: Record<string, string> = { s: 'g', q: 'q', e: 'e' };

/** One dialect's answers over the shared store (authentication, faults and media are the host's). */
export abstract class DialectRenderer {
  constructor(private readonly host: { readonly store: FakeDanbooruStore; readonly url: string }) {}

  protected get store(): FakeDanbooruStore {
    return this.host.store;
  }

  protected get origin(): string {
    return this.host.url;
  }

  /** Answers an authenticated API request; `unsaved`: an edit answered as usual but not saved. */
  abstract route(method: string, url: URL, form: Record<string, string>, unsaved: boolean, res: ServerResponse): void;

  /** The dialect's empty listing (the `empty` fault). */
  abstract sendEmpty(path: string, res: ServerResponse): void;

  /** The URLs the dialect renders for a post's file and its variants. */
  abstract mediaUrls(post: FakePostRecord): unknown[];

  protected search(
    tags: string,
    limit: string | null,
    page: string | null,
  ): FakePostRecord[] | { status: number; message: string } {
    // Gelbooru's `sort:id:asc`; Moebooru's `order:change_desc` (newest change first, as Danbooru's `order:change`).
    const query = tags.replace(/\bsort:id:asc\b/, 'order:id').replace(/\border:change_desc\b/, 'order:change');
    const result = searchPosts(this.store.allPosts(), { tags: query, limit, page }, 40);
    return result.ok ? result.posts : { status: result.status, message: result.message };
  }
}

export function pairsOf(map: ReadonlyMap<string, readonly string[]>): [string, string][] {
  const rows: [string, string][] = [];
  for (const [from, tos] of map) for (const to of tos) rows.push([from, to]);
  return rows;
}
