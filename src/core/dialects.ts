/**
 * What each dialect's API allows, known from a booru's kind alone: for the pages and queries that see a stored
 * booru row, not a client. Kept equal to every adapter's own `capabilities` (test/e2e/booru-dialects-client.test.ts).
 */
import type { BooruKind } from './types.js';

/** Whether the dialect has a tag-edit API (false: its suggestions are report-only). */
const TAG_EDITING: Readonly<Record<BooruKind, boolean>> = {
  danbooru: true,
  e621: true,
  moebooru: true,
  gelbooru: false,
  szurubooru: true,
};

/** False for a report-only dialect, and for a kind this version does not know. */
export function canEditTagsOf(kind: string): boolean {
  return (TAG_EDITING as Readonly<Record<string, boolean | undefined>>)[kind] ?? false;
}

/** The dialects whose suggestions cannot be approved or written back. */
export const REPORT_ONLY_KINDS: readonly string[] = Object.entries(TAG_EDITING)
  .filter(([, editable]) => !editable)
  .map(([kind]) => kind);

/** How each dialect names the page of a post, from the site's root. */
const POST_PAGES: Readonly<Record<BooruKind, (base: string, remoteId: number) => string>> = {
  danbooru: (base, id) => `${base}/posts/${id}`,
  e621: (base, id) => `${base}/posts/${id}`,
  moebooru: (base, id) => `${base}/post/show/${id}`,
  gelbooru: (base, id) => `${base}/index.php?page=post&s=view&id=${id}`,
  szurubooru: (base, id) => `${base}/post/${id}`,
};

/** The page of a post on its booru. */
export function postUrlOf(baseUrl: string, kind: BooruKind, remoteId: number): string {
  return POST_PAGES[kind](baseUrl.replace(/\/$/, ''), remoteId);
}
