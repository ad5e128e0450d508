/** Parsing the queue filters from a query string (pages and API alike), and writing them back into links. */
import {
  type QueueFilter,
  type QueueSort,
  SUGGESTION_STATUSES,
  type SuggestionStatus,
} from '../db/suggestion.types.js';

export const ACTIONS = ['add', 'remove', 'rating'] as const;
export const PAGE_POSTS = 20;
export const PAGE_GRID = 60;

export type QueryInput = Record<string, string | string[] | undefined>;

function one(query: QueryInput, key: string): string | undefined {
  const value = query[key];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

function intOf(value: string | undefined): number | undefined {
  if (value === undefined || !/^-?\d{1,9}$/.test(value)) return undefined;
  return Number(value);
}

function scoreOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
}

/** The filter a query asks for; unknown or malformed values are ignored (the page shows what it applied). */
export function parseFilter(query: QueryInput): QueueFilter {
  const filter: QueueFilter = {};
  const status = one(query, 'status');
  if (status && SUGGESTION_STATUSES.includes(status as SuggestionStatus)) filter.status = status as SuggestionStatus;
  const action = one(query, 'action');
  if (action && (ACTIONS as readonly string[]).includes(action)) filter.action = action as QueueFilter['action'];
  const category = intOf(one(query, 'category'));
  if (category !== undefined && category >= 0) filter.category = category;
  const minScore = scoreOf(one(query, 'min'));
  if (minScore !== undefined) filter.minScore = minScore;
  const maxScore = scoreOf(one(query, 'max'));
  if (maxScore !== undefined) filter.maxScore = maxScore;
  const tag = one(query, 'tag')?.trim();
  if (tag && tag.length <= 200) filter.tag = tag;
  const modelId = intOf(one(query, 'model'));
  if (modelId !== undefined && modelId > 0) filter.modelId = modelId;
  const booruId = intOf(one(query, 'booru'));
  if (booruId !== undefined && booruId > 0) filter.booruId = booruId;
  return filter;
}

export function parseSort(query: QueryInput): QueueSort {
  const sort = one(query, 'sort');
  return sort === 'oldest' || sort === 'score' ? sort : 'newest';
}

export function parsePage(query: QueryInput): number {
  const page = intOf(one(query, 'page'));
  return page !== undefined && page >= 0 && page <= 100_000 ? page : 0;
}

/** The query-string form of a filter (plus extras), for links that keep the current filters. */
export function filterQuery(filter: QueueFilter, extra: Record<string, string | number | undefined> = {}): string {
  const params = new URLSearchParams();
  if (filter.status && filter.status !== 'pending') params.set('status', filter.status);
  if (filter.action) params.set('action', filter.action);
  if (filter.category !== undefined) params.set('category', String(filter.category));
  if (filter.minScore !== undefined) params.set('min', String(filter.minScore));
  if (filter.maxScore !== undefined) params.set('max', String(filter.maxScore));
  if (filter.tag) params.set('tag', filter.tag);
  if (filter.modelId !== undefined) params.set('model', String(filter.modelId));
  if (filter.booruId !== undefined) params.set('booru', String(filter.booruId));
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) params.set(k, String(v));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Ids from a form field or JSON body: positive integers, at most 1,000. */
export function idsOf(value: unknown): number[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0 && n < 2 ** 31)
    .slice(0, 1000);
}

function hasControlOrBackslash(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x5c) return true;
  }
  return false;
}

/** A made-up origin that `safeBack` resolves against: whatever leaves it would leave the real one too. */
const PROBE_ORIGIN = 'http://safe-back.invalid';

/**
 * Only same-site paths are followed after sign-in or a form post: `back` is parsed as a browser would (the WHATWG URL
 * parser, which drops tabs and newlines and reads `\` as `/`), resolved against a fixed origin, and kept only when it
 * stays there. Control characters and backslashes are refused outright. The answer is the parsed path, query and
 * fragment (ASCII, percent-encoded), so what the browser receives is exactly what was checked.
 */
export function safeBack(back: unknown, fallback = '/'): string {
  if (typeof back !== 'string' || !back.startsWith('/') || back.length > 2000) return fallback;
  if (hasControlOrBackslash(back)) return fallback;
  let url: URL;
  try {
    url = new URL(back, PROBE_ORIGIN);
  } catch {
    return fallback;
  }
  const path = `${url.pathname}${url.search}${url.hash}`;
  // `/.//evil.com` parses to the path `//evil.com`, which a browser would read as another host.
  if (url.origin !== PROBE_ORIGIN || !path.startsWith('/') || path.startsWith('//')) return fallback;
  return path;
}
