/**
 * The fake Danbooru's in-memory data: posts as Danbooru JSON objects, tags, aliases, implications, and the searches
 * and edits the server exposes. Kept apart from HTTP so the demo and tests can seed and inspect it directly.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import {
  applyDanbooruTagEdit,
  danbooruAutomaticTags,
  type TagEditApplied,
  type TagRules,
} from './danbooru-tag-edit.js';

/** A post as Danbooru JSON: `id` required, anything else optional (defaults are filled in). */
export type FakePostInput = { id: number } & Record<string, unknown>;
/** A stored post: Danbooru's JSON fields. */
export type FakePostRecord = { id: number; tag_string: string; updated_at: string } & Record<string, unknown>;

export interface FakeTag {
  name: string;
  /** 0 general, 1 artist, 3 copyright, 4 character, 5 meta. (Default: 0) */
  category?: number;
  isDeprecated?: boolean;
}

export interface FakeStoreOptions {
  clock: Clock;
  /** Recompute Danbooru's automatic tags (highres, lowres, video…) on every edit. (Default: false) */
  automaticTags?: boolean;
  /** Danbooru's timestamps carry the user's zone offset; minutes east of UTC. (Default: -240, i.e. -04:00) */
  utcOffsetMinutes?: number;
}

const CATEGORY_NAMES: Record<number, string> = { 0: 'general', 1: 'artist', 3: 'copyright', 4: 'character', 5: 'meta' };

export class FakeDanbooruStore {
  private readonly posts = new Map<number, FakePostRecord>();
  private readonly tags = new Map<
    string,
    { id: number; category: number; isDeprecated: boolean; createdAt: string; updatedAt: string }
  >();
  readonly aliases = new Map<string, string>();
  readonly implications = new Map<string, string[]>();
  /** Requested but not approved: listed by the relation endpoints (pending), never applied. */
  readonly pendingAliases = new Map<string, string>();
  readonly pendingImplications = new Map<string, string[]>();
  private lastStamp = 0;

  constructor(private readonly options: FakeStoreOptions) {}

  /** ISO-8601 with the configured offset, strictly increasing across calls (so every save bumps updated_at). */
  timestamp(): string {
    const now = Math.max(this.options.clock.now().getTime(), this.lastStamp + 1);
    this.lastStamp = now;
    const offset = this.options.utcOffsetMinutes ?? -240;
    const local = new Date(now + offset * 60_000).toISOString().slice(0, -1);
    const sign = offset < 0 ? '-' : '+';
    const abs = Math.abs(offset);
    return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  }

  addTags(tags: readonly FakeTag[]): void {
    for (const tag of tags) {
      const existing = this.tags.get(tag.name);
      this.tags.set(tag.name, {
        id: existing?.id ?? this.tags.size + 1,
        category: tag.category ?? existing?.category ?? 0,
        isDeprecated: tag.isDeprecated ?? existing?.isDeprecated ?? false,
        createdAt: existing?.createdAt ?? this.timestamp(),
        updatedAt: this.timestamp(),
      });
    }
  }

  /** The id of a tag, registering it (general) when the booru has not seen it yet (Tag.find_or_create_by_name). */
  tagIdOf(name: string): number {
    if (!this.tags.has(name)) this.addTags([{ name }]);
    return this.tags.get(name)!.id;
  }

  addPosts(inputs: readonly FakePostInput[]): void {
    for (const input of inputs) {
      const md5 = createHash('md5').update(`fake-post-${input.id}`).digest('hex');
      const stamp = this.timestamp();
      const record: FakePostRecord = {
        created_at: stamp,
        md5,
        rating: 'g',
        image_width: 1000,
        image_height: 800,
        file_ext: 'jpg',
        file_size: 100_000,
        is_pending: false,
        is_flagged: false,
        is_deleted: false,
        is_banned: false,
        ...input,
        tag_string: String(input['tag_string'] ?? ''),
        updated_at: String(input['updated_at'] ?? stamp),
      };
      this.posts.set(input.id, this.withDerivedFields(record));
    }
  }

  getPost(id: number): FakePostRecord | undefined {
    const post = this.posts.get(id);
    return post ? structuredClone(post) : undefined;
  }

  allPosts(): FakePostRecord[] {
    return [...this.posts.values()].map((post) => structuredClone(post));
  }

  /** Names of all tags on all posts, and the registered ones, with their categories. */
  listTags(): {
    id: number;
    name: string;
    category: number;
    is_deprecated: boolean;
    post_count: number;
    created_at: string;
    updated_at: string;
  }[] {
    const counts = new Map<string, number>();
    for (const post of this.posts.values()) {
      for (const name of post.tag_string.split(' ').filter(Boolean)) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    for (const name of counts.keys()) if (!this.tags.has(name)) this.addTags([{ name }]);
    return [...this.tags.entries()]
      .map(([name, tag]) => ({
        id: tag.id,
        name,
        category: tag.category,
        is_deprecated: tag.isDeprecated,
        post_count: counts.get(name) ?? 0,
        created_at: tag.createdAt,
        updated_at: tag.updatedAt,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Danbooru's PUT /posts/<id>.json for tags and rating: the PostEdit merge, rating merge (`old_rating` equal to the
   * new rating keeps the stored one), updated_at bumped only when something changed.
   */
  editPost(
    id: number,
    params: {
      tagString?: string | null;
      oldTagString?: string | null;
      rating?: string | null;
      oldRating?: string | null;
    },
  ): { post: FakePostRecord; applied: TagEditApplied | null } | undefined {
    const post = this.posts.get(id);
    if (!post) return undefined;
    let applied: TagEditApplied | null = null;
    let tags = post.tag_string;
    let rating = post['rating'];
    if (params.tagString !== undefined && params.tagString !== null) {
      applied = applyDanbooruTagEdit(
        { current: tags.split(' ').filter(Boolean), oldTagString: params.oldTagString, newTagString: params.tagString },
        this.rules(post),
      );
      tags = applied.tags.join(' ');
      if (applied.rating) rating = applied.rating;
    }
    if (params.rating && params.rating !== params.oldRating && /^[gsqe]$/.test(params.rating)) rating = params.rating;
    if (tags !== post.tag_string || rating !== post['rating']) {
      const updated = this.withDerivedFields({ ...post, tag_string: tags, rating, updated_at: this.timestamp() });
      this.posts.set(id, updated);
    }
    return { post: structuredClone(this.posts.get(id)!), applied };
  }

  /**
   * Stores `tags` (and `rating`) as they are, bumping updated_at when anything changed: for dialects whose merge
   * rule is not Danbooru's (Moebooru), computed by their fake server.
   */
  setTags(id: number, tags: readonly string[], rating?: string | null): FakePostRecord | undefined {
    const post = this.posts.get(id);
    if (!post) return undefined;
    const tagString = [...new Set(tags)].sort().join(' ');
    const nextRating = rating && /^[gsqe]$/.test(rating) ? rating : post['rating'];
    if (tagString !== post.tag_string || nextRating !== post['rating']) {
      this.posts.set(
        id,
        this.withDerivedFields({ ...post, tag_string: tagString, rating: nextRating, updated_at: this.timestamp() }),
      );
    }
    return structuredClone(this.posts.get(id)!);
  }

  /** Category of a tag (0 when unknown), as the category cache would say. */
  categoryOf(name: string): number {
    return this.tags.get(name)?.category ?? 0;
  }

  /** A human's edit between our crawl and our apply, as the Danbooru UI would send it (snapshot = current). */
  editAsHuman(id: number, change: { add?: readonly string[]; remove?: readonly string[] }): FakePostRecord {
    const post = this.posts.get(id);
    if (!post) throw new Error(`fake danbooru: no post ${id}`);
    const current = post.tag_string.split(' ').filter(Boolean);
    const drop = new Set(change.remove ?? []);
    const next = [...current, ...(change.add ?? [])].filter((name) => !drop.has(name));
    return this.editPost(id, { oldTagString: post.tag_string, tagString: next.join(' ') })!.post;
  }

  private rules(post: FakePostRecord): TagRules {
    const deprecated = new Set([...this.tags.entries()].filter(([, tag]) => tag.isDeprecated).map(([name]) => name));
    const dims = {
      width: typeof post['image_width'] === 'number' ? post['image_width'] : null,
      height: typeof post['image_height'] === 'number' ? post['image_height'] : null,
      fileExt: typeof post['file_ext'] === 'string' ? post['file_ext'] : null,
    };
    return {
      aliases: this.aliases,
      implications: this.implications,
      deprecated,
      automaticTags: this.options.automaticTags ? (tags) => danbooruAutomaticTags(tags, dims) : undefined,
    };
  }

  /** tag_string_<category> and tag_count_<category>, as Danbooru's category cache derives them. */
  private withDerivedFields(post: FakePostRecord): FakePostRecord {
    const names = [...new Set(post.tag_string.split(/\s+/).filter(Boolean))].sort();
    const result: FakePostRecord = { ...post, tag_string: names.join(' '), tag_count: names.length };
    for (const [category, label] of Object.entries(CATEGORY_NAMES)) {
      const inCategory = names.filter((name) => (this.tags.get(name)?.category ?? 0) === Number(category));
      result[`tag_string_${label}`] = inCategory.join(' ');
      result[`tag_count_${label}`] = inCategory.length;
    }
    return result;
  }
}
