/**
 * Real recorded Danbooru post JSON (`../shared/fixtures/booru-api/danbooru/*.json`, see fixtures/README.md), loaded
 * for the fake server with media URLs rewritten to its `/media/…` paths. Returns [] when the folder is absent: the
 * project must work on a clone without the shared fixtures.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FakePostInput } from '../../src/demo/fake-danbooru.store.js';

/** Where the recorded responses live, relative to the project root. */
const DANBOORU_FIXTURE_DIR = '../shared/fixtures/booru-api/danbooru';

const URL_FIELDS = ['file_url', 'large_file_url', 'preview_file_url'];

/** `https://cdn.donmai.us/original/dc/12/x.jpg` → `/media/original/dc/12/x.jpg` (host dropped, path kept). */
function toFakeMediaPath(url: string): string {
  try {
    return `/media${new URL(url).pathname}`;
  } catch {
    return url;
  }
}

function rewriteUrls(post: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...post };
  for (const field of URL_FIELDS) {
    if (typeof out[field] === 'string') out[field] = toFakeMediaPath(out[field] as string);
  }
  const asset = out['media_asset'] as { variants?: { url?: unknown }[] } | null | undefined;
  if (asset && Array.isArray(asset.variants)) {
    out['media_asset'] = {
      ...asset,
      variants: asset.variants.map((v) => (typeof v.url === 'string' ? { ...v, url: toFakeMediaPath(v.url) } : v)),
    };
  }
  return out;
}

/** Recorded post files: `posts_*.json` (arrays) and `post_*.json` (single objects). */
function listFixturePostFiles(dir = DANBOORU_FIXTURE_DIR): string[] {
  const root = resolve(dir);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => /^posts?_.*\.json$/.test(name))
    .sort()
    .map((name) => join(root, name));
}

/**
 * Every recorded post, first occurrence of each id kept, ascending by id, URLs pointing at the fake server's
 * `/media/…` (register bytes there with `FakeDanbooruServer.addMedia` to serve them).
 */
export function loadFixturePosts(dir = DANBOORU_FIXTURE_DIR): FakePostInput[] {
  const byId = new Map<number, FakePostInput>();
  for (const file of listFixturePostFiles(dir)) {
    const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const items = Array.isArray(json) ? json : [json];
    for (const item of items) {
      if (typeof item !== 'object' || item === null) continue;
      const id = (item as { id?: unknown }).id;
      if (typeof id !== 'number' || byId.has(id)) continue;
      byId.set(id, rewriteUrls(item as Record<string, unknown>) as FakePostInput);
    }
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** The `/media/…` paths a post's JSON refers to (to register bytes for them). */
export function mediaPathsOf(post: FakePostInput): string[] {
  const paths = new Set<string>();
  for (const field of URL_FIELDS) {
    const value = post[field];
    if (typeof value === 'string' && value.startsWith('/media/')) paths.add(value);
  }
  const asset = post['media_asset'] as { variants?: { url?: unknown }[] } | null | undefined;
  for (const v of asset?.variants ?? []) if (typeof v.url === 'string' && v.url.startsWith('/media/')) paths.add(v.url);
  return [...paths];
}
