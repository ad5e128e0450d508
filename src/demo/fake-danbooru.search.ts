/**
 * `GET /posts.json` of the fake Danbooru: the subset of Danbooru's post search the project uses (BOORU-API §1.3):
 * plain and negated tags, `id:` ranges, `status:`, `rating:`, `order:id|id_asc|id_desc|change`, `limit` (max 200),
 * numbered pages and the `a<ID>`/`b<ID>` cursors, which ignore `order:` and return the page sorted DESC.
 */
import type { FakePostRecord } from './fake-danbooru.store.js';

/** Metatags that do not count against the tag limit (post_query.rb); `order:` does count. */
const FREE_METATAGS = new Set([
  'status',
  'rating',
  'limit',
  'id',
  'md5',
  'width',
  'height',
  'score',
  'filetype',
  'date',
  'age',
  'tagcount',
]);

export interface SearchRequest {
  tags: string;
  limit: string | null;
  page: string | null;
}

export type SearchResult =
  | { ok: true; posts: FakePostRecord[] }
  | { ok: false; status: number; error: string; message: string };

type Predicate = (post: FakePostRecord) => boolean;

function numberPredicate(field: (post: FakePostRecord) => number, expression: string): Predicate | null {
  const range = /^(\d+)\.\.(\d+)$/.exec(expression);
  if (range) return (post) => field(post) >= Number(range[1]) && field(post) <= Number(range[2]);
  const comparison = /^(>=|<=|>|<)?(\d+)$/.exec(expression);
  if (!comparison) return null;
  const value = Number(comparison[2]);
  switch (comparison[1]) {
    case '>':
      return (post) => field(post) > value;
    case '>=':
      return (post) => field(post) >= value;
    case '<':
      return (post) => field(post) < value;
    case '<=':
      return (post) => field(post) <= value;
    default:
      return (post) => field(post) === value;
  }
}

function statusPredicate(value: string): Predicate {
  const is = (post: FakePostRecord, key: string) => post[key] === true;
  switch (value) {
    case 'deleted':
      return (post) => is(post, 'is_deleted');
    case 'pending':
      return (post) => is(post, 'is_pending');
    case 'flagged':
      return (post) => is(post, 'is_flagged');
    case 'banned':
      return (post) => is(post, 'is_banned');
    case 'active':
      return (post) => !is(post, 'is_deleted') && !is(post, 'is_pending') && !is(post, 'is_flagged');
    default:
      return () => true;
  }
}

/** Runs a search the way Danbooru would, or says which error Danbooru would answer. */
export function searchPosts(all: FakePostRecord[], request: SearchRequest, tagLimit: number): SearchResult {
  const predicates: Predicate[] = [];
  let order = 'id_desc';
  let counted = 0;
  for (const term of request.tags.toLowerCase().split(/\s+/).filter(Boolean)) {
    const negated = term.startsWith('-');
    const body = negated ? term.slice(1) : term;
    const meta = /^([a-z_]+):(.+)$/.exec(body);
    let predicate: Predicate | null;
    if (meta && meta[1] === 'order') {
      order = meta[2]!;
      counted += 1;
      continue;
    }
    if (meta && meta[1] === 'id') {
      predicate = numberPredicate((post) => post.id, meta[2]!);
      if (!predicate) return { ok: false, status: 422, error: 'PostQuery::Error', message: `Invalid id: ${meta[2]}` };
    } else if (meta && meta[1] === 'status') {
      predicate = statusPredicate(meta[2]!);
    } else if (meta && meta[1] === 'rating') {
      const ratings = meta[2]!.split(',').map((r) => r.charAt(0));
      predicate = (post) => ratings.includes(String(post['rating']));
    } else {
      predicate = (post) => post.tag_string.split(' ').includes(body);
    }
    if (!meta || !FREE_METATAGS.has(meta[1]!)) counted += 1;
    predicates.push(negated ? (post) => !predicate!(post) : predicate);
  }
  if (counted > tagLimit) {
    return {
      ok: false,
      status: 422,
      error: 'PostQuery::TagLimitError',
      message: `You cannot search for more than ${tagLimit} tags at a time.`,
    };
  }

  const limit = Math.min(200, Math.max(1, Number(request.limit ?? 20) || 20));
  const matching = all.filter((post) => predicates.every((p) => p(post)));
  const page = request.page ?? '1';

  const cursor = /^([ab])(\d+)$/.exec(page);
  if (cursor) {
    // pagination_extension.rb: a/b modes reorder by id, take `limit` next to the cursor, and the JSON stays DESC.
    const id = Number(cursor[2]);
    const slice =
      cursor[1] === 'a'
        ? matching
            .filter((p) => p.id > id)
            .sort((x, y) => x.id - y.id)
            .slice(0, limit)
        : matching
            .filter((p) => p.id < id)
            .sort((x, y) => y.id - x.id)
            .slice(0, limit);
    return { ok: true, posts: slice.sort((x, y) => y.id - x.id) };
  }

  const pageNumber = Number(page);
  if (!Number.isInteger(pageNumber) || pageNumber < 1) {
    return { ok: false, status: 400, error: 'ArgumentError', message: `Invalid page: ${page}` };
  }
  if (pageNumber > 1000) {
    return {
      ok: false,
      status: 410,
      error: 'PaginationExtension::PaginationError',
      message: 'You cannot go beyond page 1000.',
    };
  }
  const sorted = [...matching];
  if (order === 'id' || order === 'id_asc') sorted.sort((x, y) => x.id - y.id);
  else if (order === 'change')
    sorted.sort((x, y) => Date.parse(y.updated_at) - Date.parse(x.updated_at) || y.id - x.id);
  else sorted.sort((x, y) => y.id - x.id);
  return { ok: true, posts: sorted.slice((pageNumber - 1) * limit, pageNumber * limit) };
}
