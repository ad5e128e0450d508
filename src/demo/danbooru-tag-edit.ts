/**
 * Danbooru's tag-edit merge rule, transcribed from `app/logical/post_edit.rb` (BOORU-API §1.5), for the fake server.
 * It is deliberately faithful, including the trap: a bare `tag_string` without `old_tag_string` takes `old` = the
 * current tags, so everything not in the new string is removed.
 */
import type { Rating } from '../core/types.js';

export interface TagRules {
  /** Active aliases, antecedent → consequent (single hop, as on Danbooru). */
  aliases: ReadonlyMap<string, string>;
  /** Active implications, antecedent → consequents (applied transitively). */
  implications: ReadonlyMap<string, readonly string[]>;
  /** Deprecated tags: never added. */
  deprecated: ReadonlySet<string>;
  /** Recomputes automatic tags (highres, lowres, video…) over the final list; identity when absent. */
  automaticTags?: (tags: string[]) => string[];
}

export interface TagEditInput {
  /** The tags stored now. */
  current: readonly string[];
  /** `post[old_tag_string]`; null/undefined ⇒ the current tags (Danbooru: `old_tag_string || tag_string_was`). */
  oldTagString?: string | null;
  /** `post[tag_string]`. */
  newTagString: string;
}

export interface TagEditApplied {
  tags: string[];
  /** Set by a `rating:x` metatag in the tag string. */
  rating: Rating | null;
  /** What Danbooru would only show as flash warnings (never in JSON). */
  warnings: string[];
}

const CATEGORY_PREFIXES = [
  'general',
  'gen',
  'artist',
  'art',
  'copyright',
  'copy',
  'co',
  'character',
  'char',
  'ch',
  'meta',
];
const METATAGS = ['parent', '-parent', 'rating', 'source', ...CATEGORY_PREFIXES];
const METATAG_RE = new RegExp(`^(${METATAGS.join('|')}):(.*)$`, 'i');

/** Danbooru's tag-name rules (tag_name_validator.rb), enough to refuse what it refuses. */
function isValidTagName(name: string): boolean {
  if (name.length === 0 || name.length > 170) return false;
  if (!/^[\x21-\x7e]+$/.test(name)) return false;
  if (/[*,]/.test(name)) return false;
  if (/^[-~_`%(){}[\]/]/.test(name)) return false;
  if (name.endsWith('_') || name.includes('__')) return false;
  if (METATAG_RE.test(name)) return false;
  return true;
}

interface ParsedTerms {
  tags: { name: string; negated: boolean }[];
  metatags: { name: string; value: string }[];
}

function parseTagString(tagString: string): ParsedTerms {
  const parsed: ParsedTerms = { tags: [], metatags: [] };
  for (const token of tagString.split(/\s+/).filter(Boolean)) {
    const meta = METATAG_RE.exec(token);
    if (meta && !token.startsWith('-')) {
      parsed.metatags.push({ name: meta[1]!.toLowerCase(), value: meta[2]!.toLowerCase() });
    } else if (token.startsWith('-') && token.length > 1) {
      parsed.tags.push({ name: token.slice(1).toLowerCase(), negated: true });
    } else {
      parsed.tags.push({ name: token.toLowerCase(), negated: false });
    }
  }
  return parsed;
}

function toAliased(names: readonly string[], aliases: ReadonlyMap<string, string>): string[] {
  return names.map((name) => aliases.get(name) ?? name);
}

/** Every tag implied by `names`, transitively (TagImplication.tags_implied_by). */
function impliedTags(names: Iterable<string>, implications: ReadonlyMap<string, readonly string[]>): Set<string> {
  const implied = new Set<string>();
  const queue = [...names];
  while (queue.length > 0) {
    const name = queue.shift()!;
    for (const consequent of implications.get(name) ?? []) {
      if (!implied.has(consequent)) {
        implied.add(consequent);
        queue.push(consequent);
      }
    }
  }
  return implied;
}

const uniq = (names: Iterable<string>): string[] => [...new Set(names)];
const minus = (a: readonly string[], b: readonly string[]): string[] => {
  const drop = new Set(b);
  return a.filter((name) => !drop.has(name));
};

/**
 * current, old = old_tag_string ?? current, new = parsed tag_string;
 * removed = aliased(explicit -tags) ∪ (old − new); added = aliased(new − old − removed) − invalid − deprecated;
 * final = sort(uniq(automatic(current + added − removed) + implied)).
 */
export function applyDanbooruTagEdit(input: TagEditInput, rules: TagRules): TagEditApplied {
  const warnings: string[] = [];
  const oldNames = (input.oldTagString ?? input.current.join(' ')).toLowerCase().split(/\s+/).filter(Boolean);
  const terms = parseTagString(input.newTagString);
  const categorized = terms.metatags.filter((m) => CATEGORY_PREFIXES.includes(m.name)).map((m) => m.value);
  const newNames = [...terms.tags.filter((t) => !t.negated).map((t) => t.name), ...categorized];

  const explicitRemoved = toAliased(
    terms.tags.filter((t) => t.negated).map((t) => t.name),
    rules.aliases,
  );
  const userRemoved = uniq([...explicitRemoved, ...minus(oldNames, newNames)]).sort();
  const userAdded = uniq(toAliased(minus(minus(newNames, oldNames), userRemoved), rules.aliases)).sort();
  const invalid = userAdded.filter((name) => !isValidTagName(name));
  const deprecated = userAdded.filter((name) => rules.deprecated.has(name));
  for (const name of invalid) warnings.push(`Couldn't add tag: '${name}' is not a valid tag name`);
  for (const name of deprecated) warnings.push(`The following tags are deprecated and could not be added: ${name}`);
  const effectiveAdded = minus(minus(userAdded, invalid), deprecated);

  let names = minus([...input.current, ...effectiveAdded], userRemoved);
  if (rules.automaticTags) names = rules.automaticTags(names);
  names = [...names, ...impliedTags(names, rules.implications)];

  let rating: Rating | null = null;
  const ratingTerm = terms.metatags.filter((m) => m.name === 'rating').at(-1);
  if (ratingTerm) {
    const letter = ratingTerm.value.charAt(0);
    if (letter === 'g' || letter === 's' || letter === 'q' || letter === 'e') rating = letter;
  }
  return { tags: uniq(names).sort(), rating, warnings };
}

/** Danbooru's `add_automatic_tags` (post.rb) for the facts the fake knows: dimensions, file type, tag count. */
export function danbooruAutomaticTags(
  tags: string[],
  post: { width: number | null; height: number | null; fileExt: string | null },
): string[] {
  const computed = new Set([
    'incredibly_absurdres',
    'absurdres',
    'highres',
    'lowres',
    'flash',
    'video',
    'ugoira',
    'wide_image',
    'tall_image',
  ]);
  const result = tags.filter((tag) => !computed.has(tag));
  if (result.length >= 30) result.splice(0, result.length, ...result.filter((tag) => tag !== 'tagme'));
  else if (result.length === 0) result.push('tagme');
  const { width: w, height: h } = post;
  if (w && h) {
    if (w >= 10_000 || h >= 10_000) result.push('incredibly_absurdres');
    if (w >= 3200 || h >= 2400) result.push('absurdres');
    if (w >= 1600 || h >= 1200) result.push('highres');
    if (w <= 500 && h <= 500) result.push('lowres');
    if (w >= 1024 && w / h >= 4) result.push('wide_image');
    else if (h >= 1024 && h / w >= 4) result.push('tall_image');
  }
  if (post.fileExt === 'swf') result.push('flash');
  if (post.fileExt === 'mp4' || post.fileExt === 'webm') result.push('video');
  if (post.fileExt === 'zip') result.push('ugoira');
  return result;
}
