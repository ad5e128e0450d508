/**
 * Gelbooru dapi responses, parsed at the edge (BOORU-API §2): gelbooru.com's `{"@attributes":{…},"post":[…]}` (no
 * `post` key when empty), Gelbooru 0.2's bare array (or an empty body), XML from either (attribute or element form),
 * HTML-entity-escaped tags, `hash` instead of `md5`, rating words (`general sensitive questionable explicit`, legacy
 * `safe`) or letters, and file URLs that 0.2 leaves out (rebuilt from `directory` + `image`).
 */
import { z } from 'zod';
import type { BooruPost, MediaVariant, Rating } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { BooruTag } from './booru-client.js';
import { dateOrNull, describeIssues, splitTagString } from './danbooru.schemas.js';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes HTML/XML character references (`&#039;`, `&#x27;`, `&amp;`…). */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

/**
 * The records named `element` of a dapi XML document, each as a flat field → text map: attributes
 * (`<post id="1" tags="…"/>`, Gelbooru 0.2) and simple child elements (`<post><id>1</id>…</post>`, gelbooru.com).
 * Enough for dapi's flat documents; not a general XML parser. One pass, linear in the input whatever it holds: a
 * search that finds nothing (no closing tag, no end of CDATA) is remembered and never repeated, so a hostile page of
 * unclosed tags cannot make it quadratic (a regex over the whole document was: minutes for a few hundred KiB).
 */
export function parseXmlRecords(xml: string, element: string): Record<string, string>[] {
  const records: Record<string, string>[] = [];
  const open = `<${element}`;
  const close = `</${element}>`;
  let noCloseFrom = Number.POSITIVE_INFINITY;
  for (let from = 0; ; ) {
    const start = xml.indexOf(open, from);
    if (start < 0) break;
    const afterName = start + open.length;
    if (afterName < xml.length && /\w/.test(xml[afterName]!)) {
      from = afterName; // another element whose name starts the same (<posts>)
      continue;
    }
    const end = endOfTag(xml, afterName);
    if (end < 0) break; // no later tag can end either
    const selfClosing = xml[end - 1] === '/';
    const record: Record<string, string> = {};
    const attributes = xml.slice(afterName, selfClosing ? end - 1 : end);
    for (const attr of attributes.matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      record[attr[1]!] = decodeEntities(attr[2] ?? attr[3] ?? '');
    }
    if (selfClosing) {
      records.push(record);
      from = end + 1;
      continue;
    }
    const closeAt = end + 1 >= noCloseFrom ? -1 : xml.indexOf(close, end + 1);
    if (closeAt < 0) {
      noCloseFrom = Math.min(noCloseFrom, end + 1);
      from = end + 1;
      continue;
    }
    readChildren(xml.slice(end + 1, closeAt), record);
    records.push(record);
    from = closeAt + close.length;
  }
  return records;
}

/** The index of the `>` ending a tag whose attributes start at `from` (quotes honoured), or -1. */
function endOfTag(xml: string, from: number): number {
  for (let i = from; i < xml.length; i++) {
    const c = xml[i];
    if (c === '>') return i;
    if (c === '"' || c === "'") {
      const match = xml.indexOf(c, i + 1);
      if (match < 0) return -1;
      i = match;
    }
  }
  return -1;
}

/** Simple child elements (`<name>text</name>`, `<name/>`) of a record's body into `record`, CDATA unwrapped. */
function readChildren(body: string, record: Record<string, string>): void {
  const noCloseFrom = new Map<string, number>();
  for (let i = body.indexOf('<'); i >= 0; i = body.indexOf('<', i + 1)) {
    const name = /^[\w:-]+/.exec(body.slice(i + 1, i + 201))?.[0];
    if (!name) continue;
    let j = i + 1 + name.length;
    while (j < body.length && /\s/.test(body[j]!)) j++;
    if (body.startsWith('/>', j)) {
      record[name] = '';
      i = j + 1;
      continue;
    }
    if (body[j] !== '>') continue;
    const closeTag = `</${name}>`;
    const closeAt = j + 1 >= (noCloseFrom.get(name) ?? Number.POSITIVE_INFINITY) ? -1 : body.indexOf(closeTag, j + 1);
    if (closeAt < 0) {
      noCloseFrom.set(name, Math.min(noCloseFrom.get(name) ?? Number.POSITIVE_INFINITY, j + 1));
      continue;
    }
    record[name] = decodeEntities(unwrapCdata(body.slice(j + 1, closeAt))).trim();
    i = closeAt + closeTag.length - 1;
  }
}

/** `<![CDATA[x]]>` → `x`, for every section that is closed. */
function unwrapCdata(text: string): string {
  let out = '';
  let from = 0;
  for (;;) {
    const start = text.indexOf('<![CDATA[', from);
    const end = start < 0 ? -1 : text.indexOf(']]>', start + 9);
    if (end < 0) return out + text.slice(from);
    out += text.slice(from, start) + text.slice(start + 9, end);
    from = end + 3;
  }
}

const num = z.union([z.number(), z.string()]).nullish();
const str = z.union([z.string(), z.number()]).nullish();

const gelbooruPostSchema = z.looseObject({
  id: z.coerce.number().int().positive(),
  md5: z.string().nullish(),
  hash: z.string().nullish(),
  rating: z.string().nullish(),
  tags: z.string().nullish(),
  file_url: z.string().nullish(),
  preview_url: z.string().nullish(),
  sample_url: z.string().nullish(),
  sample: z.union([z.boolean(), z.number(), z.string()]).nullish(),
  sample_width: num,
  sample_height: num,
  preview_width: num,
  preview_height: num,
  width: num,
  height: num,
  directory: str,
  image: z.string().nullish(),
  status: z.string().nullish(),
  change: num,
});

const RATINGS: Record<string, Rating> = {
  general: 'g',
  safe: 'g',
  s: 'g',
  g: 'g',
  sensitive: 's',
  questionable: 'q',
  q: 'q',
  explicit: 'e',
  e: 'e',
};

/** The rating a dapi word or letter names; null for anything else (own keys only: `constructor` is no rating). */
function ratingOf(word: string): Rating | null {
  const key = word.toLowerCase();
  return Object.hasOwn(RATINGS, key) ? RATINGS[key]! : null;
}

function toInt(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? Math.trunc(n) : null;
}

function extOf(url: string): string | null {
  return /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1]?.toLowerCase() ?? null;
}

/**
 * Maps one dapi post (JSON object or XML record). `siteUrl` rebuilds the file and thumbnail URLs Gelbooru 0.2
 * leaves out (`/images/<dir>/<image>`, `/thumbnails/<dir>/thumbnail_<stem>.jpg`).
 */
export function toGelbooruPost(json: unknown, siteUrl: string, where = 'post'): BooruPost {
  const parsed = gelbooruPostSchema.safeParse(json);
  if (!parsed.success) {
    const id = typeof json === 'object' && json !== null ? (json as { id?: unknown }).id : undefined;
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed Gelbooru post ${String(id ?? '(no id)')} in ${where}: ${describeIssues(parsed.error)}`,
    );
  }
  const post = parsed.data;
  const dir = post.directory === null || post.directory === undefined ? null : String(post.directory);
  const base = siteUrl.replace(/\/+$/, '');
  const fileUrl = post.file_url?.trim() || (dir && post.image ? `${base}/images/${dir}/${post.image}` : null);
  const previewUrl =
    post.preview_url?.trim() ||
    (dir && post.image ? `${base}/thumbnails/${dir}/thumbnail_${post.image.replace(/\.[^.]+$/, '')}.jpg` : null);
  const width = toInt(post.width);
  const height = toInt(post.height);
  const variants: MediaVariant[] = [];
  if (previewUrl) {
    variants.push({
      type: 'preview',
      url: previewUrl,
      width: toInt(post.preview_width),
      height: toInt(post.preview_height),
      ext: extOf(previewUrl),
    });
  }
  const sampleUrl = post.sample_url?.trim();
  if (sampleUrl && sampleUrl !== fileUrl) {
    variants.push({
      type: 'sample',
      url: sampleUrl,
      width: toInt(post.sample_width),
      height: toInt(post.sample_height),
      ext: extOf(sampleUrl),
    });
  }
  if (fileUrl) variants.push({ type: 'original', url: fileUrl, width, height, ext: extOf(fileUrl) });
  const change = toInt(post.change);
  const status = post.status ?? 'active';
  return {
    remoteId: post.id,
    md5: post.md5 ?? post.hash ?? null,
    rating: post.rating ? ratingOf(post.rating) : null,
    tags: splitTagString(decodeEntities(post.tags ?? '')),
    fileUrl,
    previewUrl,
    variants,
    width,
    height,
    fileExt: fileUrl ? extOf(fileUrl) : post.image ? extOf(post.image) : null,
    fileSize: null,
    isDeleted: status === 'deleted',
    isBanned: false,
    isPending: status === 'pending',
    updatedAt: change ? dateOrNull(change * 1000) : null,
  };
}

/**
 * The items of a dapi listing, whatever its shape: JSON with `@attributes` (absent `post`/`tag` key = empty), a bare
 * array, an empty body (0.2 answers nothing when nothing matches), or XML.
 * @returns null when the body is none of these.
 */
export function dapiItems(body: string, element: 'post' | 'tag'): unknown[] | null {
  const text = body.trim();
  if (text === '') return [];
  if (text.startsWith('<')) {
    if (!new RegExp(`<${element}s\\b`).test(text) && !new RegExp(`<${element}\\b`).test(text)) return null;
    return parseXmlRecords(text, element);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (Array.isArray(json)) return json;
  if (typeof json === 'object' && json !== null) {
    const items = (json as Record<string, unknown>)[element];
    if (items === undefined && '@attributes' in json) return [];
    if (Array.isArray(items)) return items;
    if (typeof items === 'object' && items !== null) return [items];
  }
  return null;
}

const gelbooruTagSchema = z.looseObject({
  id: z.coerce.number().int().positive(),
  name: z.string().min(1),
  count: num,
  type: num,
});

/**
 * dapi tag rows, ascending by id. Types: 0 general, 1 artist, 3 copyright, 4 character, 5 meta, 6 deprecated (the
 * tag is then recorded as a deprecated general tag).
 */
export function parseGelbooruTags(items: unknown[], url: string, afterId: number): BooruTag[] {
  const parsed = z.array(gelbooruTagSchema).safeParse(items);
  if (!parsed.success) {
    throw new AppError(
      'BOORU_BAD_RESPONSE',
      `malformed Gelbooru tag listing from ${url}: ${describeIssues(parsed.error)}`,
    );
  }
  return parsed.data
    .filter((row) => row.id > afterId)
    .map((row) => {
      const type = toInt(row.type) ?? 0;
      return {
        remoteId: row.id,
        name: decodeEntities(row.name).toLowerCase(),
        category: [0, 1, 3, 4, 5].includes(type) ? type : 0,
        postCount: toInt(row.count) ?? 0,
        isDeprecated: type === 6,
        updatedAt: null,
      };
    })
    .sort((a, b) => a.remoteId - b.remoteId);
}
