/**
 * e621 (e621ng, a Danbooru fork) post and tag JSON, parsed at the edge (BOORU-API §2): posts come wrapped
 * (`{"posts":[…]}`, `{"post":{…}}`), tags are grouped by e621's own categories, `file.url` is null when the post is
 * not visible to you, and ratings `s q e` mean safe / questionable / explicit.
 */
import { z } from 'zod';
import type { BooruPost, MediaVariant, Rating } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import { dateOrNull, describeIssues, splitTagString } from './danbooru.schemas.js';

/** e621's tag categories (tag_category.rb). */
export const E621_CATEGORIES = {
  general: 0,
  artist: 1,
  contributor: 2,
  copyright: 3,
  character: 4,
  species: 5,
  invalid: 6,
  meta: 7,
  lore: 8,
} as const;

/**
 * e621 category → Danbooru category (the project's numbering): species are descriptive like general tags;
 * contributors are credited like artists; invalid and lore tags are bookkeeping, like meta (never removed).
 */
export function e621CategoryToDanbooru(category: number): number {
  switch (category) {
    case 1:
    case 2:
      return 1;
    case 3:
      return 3;
    case 4:
      return 4;
    case 6:
    case 7:
    case 8:
      return 5;
    default:
      return 0;
  }
}

const int = z.number().int().nullish();
const str = z.string().nullish();

const e621PostSchema = z.looseObject({
  id: z.number().int().positive(),
  updated_at: str,
  file: z.looseObject({ width: int, height: int, ext: str, size: int, md5: str, url: str }).nullish(),
  preview: z.looseObject({ width: int, height: int, url: str }).nullish(),
  sample: z.looseObject({ has: z.boolean().nullish(), width: int, height: int, url: str }).nullish(),
  tags: z.record(z.string(), z.array(z.string()).nullish()),
  flags: z
    .looseObject({ pending: z.boolean().nullish(), deleted: z.boolean().nullish(), flagged: z.boolean().nullish() })
    .nullish(),
  rating: z.enum(['s', 'q', 'e']).nullish(),
  duration: z.number().nullish(),
});

/** e621 `s` (safe) is Danbooru's `g` (general); e621 has no "sensitive". */
const FROM_E621: Record<string, Rating> = { s: 'g', q: 'q', e: 'e' };
/** Danbooru rating → e621: general and sensitive both become safe. */
export const TO_E621: Record<Rating, string> = { g: 's', s: 's', q: 'q', e: 'e' };

/** Maps one e621 post object; throws BOORU_BAD_RESPONSE naming the bad fields. */
export function toE621Post(json: unknown, where = 'post'): BooruPost {
  const parsed = e621PostSchema.safeParse(json);
  if (!parsed.success) {
    const id = typeof json === 'object' && json !== null ? (json as { id?: unknown }).id : undefined;
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed e621 post ${String(id ?? '(no id)')} in ${where}: ${describeIssues(parsed.error)}`,
    );
  }
  const post = parsed.data;
  const file = post.file ?? null;
  const variants: MediaVariant[] = [];
  if (post.preview?.url) {
    variants.push({
      type: 'preview',
      url: post.preview.url,
      width: post.preview.width ?? null,
      height: post.preview.height ?? null,
      ext: extOf(post.preview.url),
    });
  }
  if (post.sample?.has && post.sample.url && post.sample.url !== file?.url) {
    variants.push({
      type: 'sample',
      url: post.sample.url,
      width: post.sample.width ?? null,
      height: post.sample.height ?? null,
      ext: extOf(post.sample.url),
    });
  }
  if (file?.url) {
    variants.push({
      type: 'original',
      url: file.url,
      width: file.width ?? null,
      height: file.height ?? null,
      ext: file.ext ?? extOf(file.url),
    });
  }
  const tags = Object.values(post.tags).flatMap((names) => names ?? []);
  return {
    remoteId: post.id,
    md5: file?.md5 ?? null,
    rating: post.rating ? (FROM_E621[post.rating] ?? null) : null,
    tags: splitTagString(tags.join(' ')),
    fileUrl: file?.url ?? null,
    previewUrl: post.preview?.url ?? null,
    variants,
    width: file?.width ?? null,
    height: file?.height ?? null,
    fileExt: file?.ext ?? null,
    fileSize: file?.size ?? null,
    isDeleted: post.flags?.deleted ?? false,
    // e621 has no "banned" flag; a post whose file the API hides is handled as "no media URL" by the crawl.
    isBanned: false,
    isPending: post.flags?.pending ?? false,
    updatedAt: post.updated_at ? dateOrNull(post.updated_at) : null,
  };
}

function extOf(url: string): string | null {
  return /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1]?.toLowerCase() ?? null;
}

/** The posts array of `{"posts":[…]}` (or a bare array, which some mirrors answer). */
export function e621PostItems(json: unknown): unknown[] | null {
  if (Array.isArray(json)) return json;
  if (typeof json === 'object' && json !== null && Array.isArray((json as { posts?: unknown }).posts)) {
    return (json as { posts: unknown[] }).posts;
  }
  return null;
}

/**
 * The rows of an e621 list endpoint other than posts. e621ng answers a page with rows as a bare array, but an empty
 * page as an object keyed by the model's plural name (`{"tags":[]}`, `{"tag_aliases":[]}`,
 * `{"tag_implications":[]}`; e621ng issue #359). Null when the answer is neither.
 */
export function e621ListItems(json: unknown, key: string): unknown[] | null {
  if (Array.isArray(json)) return json;
  if (typeof json === 'object' && json !== null) {
    const keys = Object.keys(json);
    const rows = (json as Record<string, unknown>)[key];
    if (keys.length === 1 && Array.isArray(rows)) return rows;
  }
  return null;
}

/** The post of `{"post":{…}}` (or the object itself). */
export function e621SinglePost(json: unknown): unknown {
  if (typeof json === 'object' && json !== null && 'post' in json) return (json as { post: unknown }).post;
  return json;
}
