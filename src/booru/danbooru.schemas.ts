/**
 * Danbooru post JSON, parsed at the edge (BOORU-API §1.4). Every field a post may lack is optional: banned or hidden
 * posts have no `md5` and no URLs, 2020-era responses have no `media_asset`, a hidden asset has no `variants`.
 * Unknown fields are kept (loose objects) so that the fake server and fixtures round-trip.
 */
import { z } from 'zod';
import type { BooruPost, MediaVariant, Rating } from '../core/types.js';
import { AppError } from '../shared/errors.js';

const nullableInt = z.number().int().nullish();
const nullableString = z.string().nullish();

const danbooruVariantSchema = z.looseObject({
  type: z.string(),
  url: z.string().min(1),
  width: nullableInt,
  height: nullableInt,
  file_ext: nullableString,
});

const danbooruMediaAssetSchema = z.looseObject({
  id: z.number().int().nullish(),
  md5: nullableString,
  file_ext: nullableString,
  file_size: nullableInt,
  image_width: nullableInt,
  image_height: nullableInt,
  duration: z.number().nullish(),
  status: nullableString,
  variants: z.array(danbooruVariantSchema).nullish(),
});

const timestamp = z
  .string()
  .refine((value) => !Number.isNaN(Date.parse(value)), { message: 'not an ISO-8601 timestamp' })
  .nullish();

const danbooruPostSchema = z.looseObject({
  id: z.number().int().positive(),
  md5: nullableString,
  rating: z.enum(['g', 's', 'q', 'e']).nullish(),
  tag_string: nullableString,
  file_url: nullableString,
  large_file_url: nullableString,
  preview_file_url: nullableString,
  image_width: nullableInt,
  image_height: nullableInt,
  file_ext: nullableString,
  file_size: nullableInt,
  is_deleted: z.boolean().nullish(),
  is_banned: z.boolean().nullish(),
  is_pending: z.boolean().nullish(),
  updated_at: timestamp,
  media_asset: danbooruMediaAssetSchema.nullish(),
});

type DanbooruPostJson = z.infer<typeof danbooruPostSchema>;

/** `new Date(value)`, or null when that is no valid instant (an unreadable string, a number out of range). */
export function dateOrNull(value: string | number): Date | null {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Splits a Danbooru tag string into sorted, unique, lowercase names. */
export function splitTagString(tagString: string | null | undefined): string[] {
  const names = (tagString ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  return [...new Set(names)].sort();
}

function extFromUrl(url: string): string | null {
  const match = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url);
  return match?.[1]?.toLowerCase() ?? null;
}

/** Size of an image fitted inside a `box`×`box` square, aspect kept, never enlarged (Danbooru's thumbnails). */
function fitInBox(width: number | null, height: number | null, box: number): [number | null, number | null] {
  if (!width || !height) return [null, null];
  const scale = Math.min(1, box / Math.max(width, height));
  return [Math.round(width * scale), Math.round(height * scale)];
}

/** Variants of a post without `media_asset` (2020–2023 responses), rebuilt from its three URLs. */
function variantsFromUrls(post: DanbooruPostJson): MediaVariant[] {
  const width = post.image_width ?? null;
  const height = post.image_height ?? null;
  const variants: MediaVariant[] = [];
  if (post.preview_file_url) {
    const is180 = post.preview_file_url.includes('/180x180/');
    const [w, h] = is180 ? fitInBox(width, height, 180) : [null, null];
    variants.push({
      type: is180 ? '180x180' : 'preview',
      url: post.preview_file_url,
      width: w,
      height: h,
      ext: extFromUrl(post.preview_file_url),
    });
  }
  if (post.large_file_url && post.large_file_url !== post.file_url) {
    // Danbooru's sample is 850 px wide (only made for images wider than that).
    const isSample = /\/sample[/-]/.test(post.large_file_url);
    const w = isSample && width && height ? Math.min(850, width) : null;
    const h = w && width && height ? Math.round((height * w) / width) : null;
    variants.push({
      type: 'sample',
      url: post.large_file_url,
      width: w,
      height: h,
      ext: extFromUrl(post.large_file_url),
    });
  }
  if (post.file_url) {
    variants.push({
      type: 'original',
      url: post.file_url,
      width,
      height,
      ext: post.file_ext ?? extFromUrl(post.file_url),
    });
  }
  return variants;
}

/** Maps parsed post JSON to the domain shape. */
function mapDanbooruPost(post: DanbooruPostJson): BooruPost {
  const asset = post.media_asset ?? null;
  const assetVariants: MediaVariant[] = (asset?.variants ?? []).map((v) => ({
    type: v.type,
    url: v.url,
    width: v.width ?? null,
    height: v.height ?? null,
    ext: v.file_ext ?? extFromUrl(v.url),
  }));
  const variants = assetVariants.length > 0 ? assetVariants : variantsFromUrls(post);
  return {
    remoteId: post.id,
    md5: post.md5 ?? asset?.md5 ?? null,
    rating: (post.rating ?? null) as Rating | null,
    tags: splitTagString(post.tag_string),
    fileUrl: post.file_url ?? variants.find((v) => v.type === 'original')?.url ?? null,
    previewUrl: post.preview_file_url ?? variants.find((v) => v.type === '180x180')?.url ?? null,
    variants,
    width: post.image_width ?? asset?.image_width ?? null,
    height: post.image_height ?? asset?.image_height ?? null,
    fileExt: post.file_ext ?? asset?.file_ext ?? null,
    fileSize: post.file_size ?? asset?.file_size ?? null,
    isDeleted: post.is_deleted ?? false,
    isBanned: post.is_banned ?? false,
    isPending: post.is_pending ?? false,
    updatedAt: post.updated_at ? new Date(post.updated_at) : null,
  };
}

/** Formats zod issues as `path: message; …`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Parses one Danbooru post object into a {@link BooruPost}.
 * @param where Where the JSON came from, for the message (e.g. `GET /posts.json[3]`).
 * @throws AppError BOORU_BAD_RESPONSE naming the post id and the bad field paths.
 */
export function toBooruPost(json: unknown, where = 'post'): BooruPost {
  const parsed = danbooruPostSchema.safeParse(json);
  if (!parsed.success) {
    const id = typeof json === 'object' && json !== null ? (json as { id?: unknown }).id : undefined;
    const which = typeof id === 'number' || typeof id === 'string' ? `post ${id}` : 'post without a valid id';
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed Danbooru ${which} in ${where}: ${describeIssues(parsed.error)}`,
      {
        details: { postId: id ?? null, where },
      },
    );
  }
  return mapDanbooruPost(parsed.data);
}

const tagRowSchema = z.looseObject({
  id: z.number().int().positive(),
  name: z.string().min(1),
  post_count: z.number().int().nullish(),
  category: z.number().int().nullish(),
  is_deprecated: z.boolean().nullish(),
  updated_at: timestamp,
});

const relationRowSchema = z.looseObject({
  id: z.number().int().positive(),
  antecedent_name: z.string().min(1),
  consequent_name: z.string().min(1),
  status: z.string().min(1),
  updated_at: timestamp,
});

function parseRows<T>(json: unknown, schema: z.ZodType<T>, what: string, url: string): T[] {
  const parsed = z.array(schema).safeParse(json);
  if (!parsed.success) {
    throw new AppError('BOORU_BAD_RESPONSE', `malformed ${what} listing from ${url}: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** `/tags.json` rows (Danbooru; also e621, whose categories {@link mapCategory} translates). Ascending by id. */
export function parseDanbooruTags(
  json: unknown,
  url: string,
  afterId: number,
  mapCategory: (category: number) => number = (c) => c,
): import('./booru-client.js').BooruTag[] {
  return parseRows(json, tagRowSchema, 'tag', url)
    .filter((row) => row.id > afterId)
    .map((row) => ({
      remoteId: row.id,
      name: row.name.toLowerCase(),
      category: mapCategory(row.category ?? 0),
      postCount: row.post_count ?? 0,
      isDeprecated: row.is_deprecated ?? false,
      updatedAt: row.updated_at ? new Date(row.updated_at) : null,
    }))
    .sort((a, b) => a.remoteId - b.remoteId);
}

/** `/tag_aliases.json` and `/tag_implications.json` rows (Danbooru and e621). Ascending by id. */
export function parseDanbooruRelations(
  json: unknown,
  url: string,
  afterId: number,
): import('./booru-client.js').BooruTagRelation[] {
  return parseRows(json, relationRowSchema, 'relation', url)
    .filter((row) => row.id > afterId)
    .map((row) => ({
      remoteId: row.id,
      antecedent: row.antecedent_name.toLowerCase(),
      consequent: row.consequent_name.toLowerCase(),
      status: row.status,
      updatedAt: row.updated_at ? new Date(row.updated_at) : null,
    }))
    .sort((a, b) => a.remoteId - b.remoteId);
}
