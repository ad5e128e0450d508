import type { BooruPost, SuggestionDraft } from '../../src/core/types.js';
import type { PostUpsert } from '../../src/db/post.repository.js';

/** A crawled post with sensible defaults; override what the test is about. */
export function aBooruPost(overrides: Partial<BooruPost> & { remoteId: number }): BooruPost {
  return {
    md5: `md5-${overrides.remoteId}`,
    rating: 'g',
    tags: ['1girl', 'solo'],
    fileUrl: `https://cdn.example.test/original/${overrides.remoteId}.jpg`,
    previewUrl: `https://cdn.example.test/preview/${overrides.remoteId}.jpg`,
    variants: [
      {
        type: '720x720',
        url: `https://cdn.example.test/720/${overrides.remoteId}.webp`,
        width: 720,
        height: 540,
        ext: 'webp',
      },
    ],
    width: 1600,
    height: 1200,
    fileExt: 'jpg',
    fileSize: 123_456,
    isDeleted: false,
    isBanned: false,
    isPending: false,
    updatedAt: new Date('2026-01-02T03:04:05.000Z'),
    ...overrides,
  };
}

/** {@link aBooruPost} plus the crawler's verdict: taggable with a media URL unless `skipReason` is given. */
export function aPostUpsert(overrides: Partial<PostUpsert> & { remoteId: number }): PostUpsert {
  const post = aBooruPost(overrides);
  return {
    ...post,
    mediaUrl:
      overrides.mediaUrl !== undefined ? overrides.mediaUrl : `https://cdn.example.test/720/${post.remoteId}.webp`,
    skipReason: overrides.skipReason ?? null,
  };
}

/** A suggestion draft as the diff would produce it. */
export function aDraft(overrides: Partial<SuggestionDraft> & { tag: string }): SuggestionDraft {
  return { action: 'add', category: 0, score: 0.9, reason: 'score 0.90 ≥ 0.35 (general)', ...overrides };
}

let bases = 0;
/**
 * A booru base URL to store for a fake server at `url`, unique per call: the OS may give a later fake the port of an
 * earlier one, and the stored URL identifies the booru row (its cursors, posts and tags).
 */
export function uniqueBaseUrl(url: string): string {
  bases++;
  return `${url}/?test=${process.pid}-${bases}`;
}
