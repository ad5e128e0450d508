/**
 * Moebooru (yande.re, konachan; also MyImouto) post and tag JSON, parsed at the edge (BOORU-API §2): a bare array,
 * a space-separated `tags` string, epoch-second times, `status` instead of flags, ratings `s q e` meaning safe /
 * questionable / explicit, and deleted posts without URLs.
 */
import { z } from 'zod';
import type { BooruPost, MediaVariant, Rating } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { BooruTag } from './booru-client.js';
import { describeIssues, splitTagString } from './danbooru.schemas.js';

const int = z.coerce.number().int().nullish();
const str = z.string().nullish();

const moebooruPostSchema = z.looseObject({
  id: z.coerce.number().int().positive(),
  tags: z.string().nullish(),
  md5: str,
  rating: z.enum(['s', 'q', 'e']).nullish(),
  status: str,
  is_pending: z.boolean().nullish(),
  file_url: str,
  file_ext: str,
  file_size: int,
  width: int,
  height: int,
  preview_url: str,
  actual_preview_width: int,
  actual_preview_height: int,
  preview_width: int,
  preview_height: int,
  sample_url: str,
  sample_width: int,
  sample_height: int,
  jpeg_url: str,
  jpeg_width: int,
  jpeg_height: int,
  updated_at: z.union([z.number(), z.string()]).nullish(),
});

const FROM_MOEBOORU: Record<string, Rating> = { s: 'g', q: 'q', e: 'e' };
/** Danbooru rating → Moebooru: general and sensitive both become safe. */
export const TO_MOEBOORU: Record<Rating, string> = { g: 's', s: 's', q: 'q', e: 'e' };

function extOf(url: string): string | null {
  return /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1]?.toLowerCase() ?? null;
}

export function toMoebooruPost(json: unknown, where = 'post'): BooruPost {
  const parsed = moebooruPostSchema.safeParse(json);
  if (!parsed.success) {
    const id = typeof json === 'object' && json !== null ? (json as { id?: unknown }).id : undefined;
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed Moebooru post ${String(id ?? '(no id)')} in ${where}: ${describeIssues(parsed.error)}`,
    );
  }
  const post = parsed.data;
  const variants: MediaVariant[] = [];
  const add = (
    type: string,
    url: string | null | undefined,
    width: number | null | undefined,
    height: number | null | undefined,
  ) => {
    if (!url || variants.some((v) => v.url === url)) return;
    variants.push({ type, url, width: width ?? null, height: height ?? null, ext: extOf(url) });
  };
  // The listed preview size is the 150 px box; the file itself is the 300 px "actual" preview.
  add(
    'preview',
    post.preview_url,
    post.actual_preview_width ?? post.preview_width,
    post.actual_preview_height ?? post.preview_height,
  );
  if (post.sample_url && post.sample_url !== post.file_url)
    add('sample', post.sample_url, post.sample_width, post.sample_height);
  if (post.jpeg_url && post.jpeg_url !== post.file_url) add('full', post.jpeg_url, post.jpeg_width, post.jpeg_height);
  add('original', post.file_url, post.width, post.height);
  const status = post.status ?? 'active';
  const updated = post.updated_at;
  return {
    remoteId: post.id,
    md5: post.md5 ?? null,
    rating: post.rating ? (FROM_MOEBOORU[post.rating] ?? null) : null,
    tags: splitTagString(post.tags),
    fileUrl: post.file_url ?? null,
    previewUrl: post.preview_url ?? null,
    variants,
    width: post.width ?? null,
    height: post.height ?? null,
    fileExt: post.file_ext ?? (post.file_url ? extOf(post.file_url) : null),
    fileSize: post.file_size ?? null,
    isDeleted: status === 'deleted',
    isBanned: false,
    isPending: status === 'pending' || post.is_pending === true,
    updatedAt:
      typeof updated === 'number' ? toDate(updated * 1000) : typeof updated === 'string' ? toDate(updated) : null,
  };
}

function toDate(value: string | number): Date | null {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Moebooru tag types: 0 general, 1 artist, 3 copyright, 4 character, 5 circle, 6 faults (yande.re). */
function moebooruCategoryToDanbooru(type: number): number {
  if (type === 5) return 1;
  if (type === 6) return 5;
  return [0, 1, 3, 4].includes(type) ? type : 0;
}

const moebooruTagSchema = z.looseObject({
  id: z.coerce.number().int().positive(),
  name: z.string().min(1),
  count: z.coerce.number().int().nullish(),
  type: z.coerce.number().int().nullish(),
});

/** `/tag.json` rows, ascending by id. */
export function parseMoebooruTags(json: unknown, url: string, afterId: number): BooruTag[] {
  const parsed = z.array(moebooruTagSchema).safeParse(json);
  if (!parsed.success) {
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed Moebooru tag listing from ${url}: ${describeIssues(parsed.error)}`,
    );
  }
  return parsed.data
    .filter((row) => row.id > afterId)
    .map((row) => ({
      remoteId: row.id,
      name: row.name.toLowerCase(),
      category: moebooruCategoryToDanbooru(row.type ?? 0),
      postCount: row.count ?? 0,
      isDeprecated: false,
      updatedAt: null,
    }))
    .sort((a, b) => a.remoteId - b.remoteId);
}

const moebooruAliasSchema = z.looseObject({
  id: z.coerce.number().int().positive(),
  /** The antecedent, by name. */
  name: z.string().min(1),
  /** The consequent, by tag id. */
  alias_id: z.coerce.number().int().positive(),
  pending: z.boolean(),
});

const moebooruImplicationSchema = z.looseObject({
  id: z.coerce.number().int().positive(),
  predicate_id: z.coerce.number().int().positive(),
  consequent_id: z.coerce.number().int().positive(),
  pending: z.boolean(),
});

/** `/tag_alias.json` rows (tag_alias.rb `api_attributes`): the antecedent by name, the consequent by tag id. */
export function parseMoebooruAliases(
  json: unknown,
  url: string,
): { id: number; name: string; aliasId: number; pending: boolean }[] {
  const parsed = z.array(moebooruAliasSchema).safeParse(json);
  if (!parsed.success) {
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed Moebooru alias listing from ${url}: ${describeIssues(parsed.error)}`,
    );
  }
  return parsed.data.map((row) => ({
    id: row.id,
    name: row.name.toLowerCase(),
    aliasId: row.alias_id,
    pending: row.pending,
  }));
}

/** `/tag_implication.json` rows (tag_implication.rb `as_json`): both tags by id. */
export function parseMoebooruImplications(
  json: unknown,
  url: string,
): { id: number; predicateId: number; consequentId: number; pending: boolean }[] {
  const parsed = z.array(moebooruImplicationSchema).safeParse(json);
  if (!parsed.success) {
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed Moebooru implication listing from ${url}: ${describeIssues(parsed.error)}`,
    );
  }
  return parsed.data.map((row) => ({
    id: row.id,
    predicateId: row.predicate_id,
    consequentId: row.consequent_id,
    pending: row.pending,
  }));
}
