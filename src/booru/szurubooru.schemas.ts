/**
 * Szurubooru JSON, parsed at the edge (rr-/szurubooru@22fd239e `doc/API.md`, `server/szurubooru/func/posts.py`,
 * `func/tags.py`, `search/executor.py`): every listing is the envelope `{query, offset, limit, total, results}` (an
 * empty page is `results: []`); a post's tags are "micro tags" `{names, category, usages}`; a tag has several
 * `names`, the first canonical and the others aliases, and lists the tags it `implications`; errors are
 * `{name, title, description}`. Tag categories are names the site chooses and safety is `safe|sketchy|unsafe`:
 * both are mapped onto Danbooru's numbering below, by rules written down here.
 */
import { z } from 'zod';
import type { BooruPost, MediaVariant, Rating } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { BooruTag, BooruTagRelation } from './booru-client.js';
import { dateOrNull, describeIssues } from './danbooru.schemas.js';

/** Szurubooru's `limit` ceiling for every listing (`search/executor.py`: `max=100`). */
export const SZURUBOORU_MAX_PAGE = 100;

/**
 * Danbooru rating → szurubooru safety, as szurubooru-toolkit (the tool its users know) converts: general and
 * sensitive are `safe`, questionable is `sketchy`, explicit `unsafe`.
 */
export const TO_SAFETY: Record<Rating, string> = { g: 'safe', s: 'safe', q: 'sketchy', e: 'unsafe' };
/** Szurubooru safety → Danbooru rating: `safe` reads as general, `sketchy` as questionable, `unsafe` as explicit. */
const FROM_SAFETY: Record<string, Rating> = { safe: 'g', sketchy: 'q', unsafe: 'e' };
/** What each Danbooru rating is kept as on szurubooru, read back: sensitive becomes general (the diff's `ratingScale`). */
export const SZURUBOORU_RATING_SCALE: Readonly<Partial<Record<Rating, Rating>>> = { s: 'g' };

/**
 * A szurubooru tag category (a name the site's admins choose; a fresh install has only `default`) → Danbooru's
 * category: a name containing `meta` is meta (5); `artist`, `author`, `creator`, `circle` or `studio` is artist (1);
 * `copyright`, `series`, `franchise` or `parody` is copyright (3); `character` is character (4); every other
 * category (`default`, `general`, `objects`…) is general (0), the category the diff may add and remove in.
 */
export function szurubooruCategoryToDanbooru(category: string): number {
  const name = category.toLowerCase();
  if (/meta/.test(name)) return 5;
  if (/artist|author|creator|circle|studio/.test(name)) return 1;
  if (/copyright|series|franchise|parody/.test(name)) return 3;
  if (/character/.test(name)) return 4;
  return 0;
}

const str = z.string().nullish();
const int = z.number().int().nullish();
const timestamp = z
  .string()
  .refine((value) => !Number.isNaN(Date.parse(value)), { message: 'not an ISO-8601 timestamp' })
  .nullish();

/** A tag name: szurubooru's default `tag_name_regex` is `^\S+$`, and the project's tag strings are space-separated. */
const tagName = z.string().regex(/^\S+$/, 'a tag name without white space');

/** `{names, category, usages}`: how a post or a tag's relations name a tag. */
const szurubooruMicroTagSchema = z.looseObject({
  names: z.array(tagName).min(1),
  category: z.string(),
  usages: int,
});

const szurubooruPostSchema = z.looseObject({
  id: z.number().int().positive(),
  version: z.number().int(),
  creationTime: timestamp,
  lastEditTime: timestamp,
  safety: z.enum(['safe', 'sketchy', 'unsafe']),
  type: str,
  mimeType: str,
  checksum: str,
  checksumMD5: str,
  fileSize: int,
  canvasWidth: int,
  canvasHeight: int,
  contentUrl: str,
  thumbnailUrl: str,
  tags: z.array(szurubooruMicroTagSchema),
});

export type SzurubooruPostJson = z.infer<typeof szurubooruPostSchema>;

const szurubooruTagSchema = z.looseObject({
  names: z.array(tagName).min(1),
  category: z.string(),
  version: z.number().int(),
  creationTime: timestamp,
  lastEditTime: timestamp,
  usages: int,
  implications: z.array(szurubooruMicroTagSchema).nullish(),
  suggestions: z.array(szurubooruMicroTagSchema).nullish(),
});

export type SzurubooruTagJson = z.infer<typeof szurubooruTagSchema>;

const pagedSchema = z.looseObject({
  query: z.string().nullish(),
  offset: z.number().int().min(0),
  limit: z.number().int().min(0),
  total: z.number().int().min(0),
  results: z.array(z.unknown()),
});

export type SzurubooruPage = z.infer<typeof pagedSchema>;

/** The `{query, offset, limit, total, results}` envelope of a listing; throws BOORU_BAD_RESPONSE otherwise. */
export function szurubooruPage(json: unknown, where: string): SzurubooruPage {
  const parsed = pagedSchema.safeParse(json);
  if (!parsed.success) {
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed szurubooru listing in ${where}: expected {query, offset, limit, total, results}: ` +
        describeIssues(parsed.error),
    );
  }
  return parsed.data;
}

/** A tag's canonical name: its first name, lowercased like every tag name the project stores. */
export function canonicalName(tag: { names: readonly string[] }): string {
  return (tag.names[0] ?? '').toLowerCase();
}

/** Parses one post object; throws BOORU_BAD_RESPONSE naming the bad fields. */
export function parseSzurubooruPost(json: unknown, where = 'post'): SzurubooruPostJson {
  const parsed = szurubooruPostSchema.safeParse(json);
  if (!parsed.success) {
    const id = typeof json === 'object' && json !== null ? (json as { id?: unknown }).id : undefined;
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed szurubooru post ${String(id ?? '(no id)')} in ${where}: ${describeIssues(parsed.error)}`,
    );
  }
  return parsed.data;
}

/**
 * Maps one post object. `contentUrl` and `thumbnailUrl` are relative to the site (`data/posts/…`, from the
 * server's `data_url`), so they are resolved against `baseUrl`; an absolute `data_url` stays as it is. Szurubooru
 * deletes posts outright (a deleted post is a 404, never a flagged row), so `isDeleted` is always false here.
 */
export function toSzurubooruPost(json: unknown, baseUrl: string, where = 'post'): BooruPost {
  const post = parseSzurubooruPost(json, where);
  const fileUrl = post.contentUrl ? resolveUrl(post.contentUrl, baseUrl) : null;
  const previewUrl = post.thumbnailUrl ? resolveUrl(post.thumbnailUrl, baseUrl) : null;
  const variants: MediaVariant[] = [];
  // Thumbnails are JPEGs fitted inside the site's `thumbnails.post_width`×`post_height` (300×300 by default):
  // their size is not in the JSON, so the tagger only picks them when nothing larger is offered.
  if (previewUrl) variants.push({ type: 'preview', url: previewUrl, width: null, height: null, ext: 'jpg' });
  if (fileUrl) {
    variants.push({
      type: 'original',
      url: fileUrl,
      width: post.canvasWidth ?? null,
      height: post.canvasHeight ?? null,
      ext: extOf(fileUrl),
    });
  }
  const tags = [...new Set(post.tags.map(canonicalName))].sort();
  return {
    remoteId: post.id,
    md5: post.checksumMD5 ?? null,
    rating: FROM_SAFETY[post.safety] ?? null,
    tags,
    fileUrl,
    previewUrl,
    variants,
    width: post.canvasWidth ?? null,
    height: post.canvasHeight ?? null,
    fileExt: fileUrl ? extOf(fileUrl) : null,
    fileSize: post.fileSize ?? null,
    isDeleted: false,
    isBanned: false,
    isPending: false,
    // A post never edited since upload has no lastEditTime: its creation is its last change.
    updatedAt: dateOrNull(post.lastEditTime ?? post.creationTime ?? '') ?? null,
  };
}

/** Parses one tag object; throws BOORU_BAD_RESPONSE naming the bad fields. */
export function parseSzurubooruTag(json: unknown, where = 'tag'): SzurubooruTagJson {
  const parsed = szurubooruTagSchema.safeParse(json);
  if (!parsed.success) {
    const names = typeof json === 'object' && json !== null ? (json as { names?: unknown }).names : undefined;
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed szurubooru tag ${JSON.stringify(names ?? '(no names)')} in ${where}: ${describeIssues(parsed.error)}`,
    );
  }
  return parsed.data;
}

/**
 * A tag object → the project's tag. Szurubooru tags have no id in the API, so `remoteId` is the tag's position
 * (1-based) in the listing the client pages through: ascending creation time, which new tags only extend.
 */
export function toSzurubooruTag(tag: SzurubooruTagJson, position: number): BooruTag {
  return {
    remoteId: position,
    name: canonicalName(tag),
    category: szurubooruCategoryToDanbooru(tag.category),
    postCount: tag.usages ?? 0,
    // Szurubooru has no deprecation.
    isDeprecated: false,
    updatedAt: dateOrNull(tag.lastEditTime ?? tag.creationTime ?? '') ?? null,
  };
}

/**
 * The relations a tag object carries: every name after the first is an alias of the first (szurubooru resolves any
 * of a tag's names to the tag, in searches and in edits), and each of `implications` is implied by it. Both are in
 * force as long as the tag says so: `active`.
 */
export function szurubooruRelations(
  tag: SzurubooruTagJson,
  kind: 'alias' | 'implication',
  position: number,
): BooruTagRelation[] {
  const canonical = canonicalName(tag);
  const updatedAt = dateOrNull(tag.lastEditTime ?? tag.creationTime ?? '') ?? null;
  const others =
    kind === 'alias'
      ? tag.names.slice(1).map((name) => name.toLowerCase())
      : (tag.implications ?? []).map(canonicalName);
  return [...new Set(others)]
    .filter((name) => name !== canonical)
    .map((name) =>
      kind === 'alias'
        ? { remoteId: position, antecedent: name, consequent: canonical, status: 'active', updatedAt }
        : { remoteId: position, antecedent: canonical, consequent: name, status: 'active', updatedAt },
    );
}

/** `url` resolved against the site root; null unless the result is an http(s) URL. */
function resolveUrl(url: string, baseUrl: string): string | null {
  try {
    const resolved = new URL(url, `${baseUrl.replace(/\/+$/, '')}/`);
    return resolved.protocol === 'http:' || resolved.protocol === 'https:' ? resolved.toString() : null;
  } catch {
    return null;
  }
}

function extOf(url: string): string | null {
  return /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1]?.toLowerCase() ?? null;
}
