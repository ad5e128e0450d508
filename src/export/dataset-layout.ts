/**
 * The pure half of the training-set export: DeepDanbooru's dataset layout (an SQLite `posts` table of
 * `id, md5, file_ext, tag_string, tag_count_general` and `images/<md5[0:2]>/<md5>.<ext>`), the row of one post, the
 * approved-suggestion correction and the filters. No I/O.
 */
import { buildSnapshotEdit } from '../core/tag-edit.js';
import { RATINGS, type Rating } from '../core/types.js';

/** The SQLite schema: DeepDanbooru's five columns, plus the rating (its tag strings carry none). */
export const DATASET_SCHEMA = `
CREATE TABLE IF NOT EXISTS posts (
  id INTEGER PRIMARY KEY,
  md5 TEXT NOT NULL,
  file_ext TEXT NOT NULL,
  tag_string TEXT NOT NULL,
  tag_count_general INTEGER NOT NULL,
  rating TEXT
);
CREATE INDEX IF NOT EXISTS posts_tag_count_general ON posts (tag_count_general);
CREATE TABLE IF NOT EXISTS export_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** The file extensions exported: still images a tagger trains on (videos, Flash and archives are skipped). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['jpg', 'jpeg', 'png', 'gif', 'webp', 'avif', 'bmp']);

/** Danbooru's general tag category. */
const GENERAL = 0;

export interface DatasetRow {
  id: number;
  md5: string;
  file_ext: string;
  tag_string: string;
  tag_count_general: number;
  rating: Rating | null;
}

/** One post as the export reads it. */
export interface ExportPost {
  remoteId: number;
  md5: string;
  fileExt: string;
  rating: Rating | null;
  tags: readonly string[];
}

/** An approved change, in decision order: `add`/`remove` a tag, or `rating` to `rating:x`. */
export interface ApprovedTagChange {
  tag: string;
  action: 'add' | 'remove' | 'rating';
}

/** `images/ab/ab…ef.png`, relative to the dataset folder (md5 lowercased; it must be 32 hex digits). */
export function imagePathOf(md5: string, ext: string): string {
  const hash = md5.toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hash)) throw new Error(`not an md5: ${JSON.stringify(md5)}`);
  if (!/^[0-9a-z]{1,8}$/i.test(ext)) throw new Error(`not a file extension: ${JSON.stringify(ext)}`);
  return `images/${hash.slice(0, 2)}/${hash}.${ext.toLowerCase()}`;
}

/**
 * The post's tags and rating with approved suggestions applied, later decisions winning over earlier ones for the
 * same tag (applied through the same snapshot rule as a write-back, so the result is what the booru would hold).
 */
export function applyApprovedChanges(
  tags: readonly string[],
  rating: Rating | null,
  changes: readonly ApprovedTagChange[],
): { tags: string[]; rating: Rating | null } {
  const add = new Set<string>();
  const remove = new Set<string>();
  let nextRating = rating;
  for (const change of changes) {
    if (change.action === 'rating') {
      const value = change.tag.replace(/^rating:/, '') as Rating;
      if (RATINGS.includes(value)) nextRating = value;
    } else if (change.action === 'add') {
      remove.delete(change.tag);
      add.add(change.tag);
    } else {
      add.delete(change.tag);
      remove.add(change.tag);
    }
  }
  const edit = buildSnapshotEdit({ snapshot: [...tags], add: [...add], remove: [...remove] });
  return { tags: edit.newTagString === '' ? [] : edit.newTagString.split(' '), rating: nextRating };
}

/**
 * How many of the tags are general ones. A tag the booru's tag sync has not seen counts as general, Danbooru's
 * default category for a new tag (run `sync-tags` first for exact counts).
 */
export function tagCountGeneral(tags: readonly string[], categories: ReadonlyMap<string, number>): number {
  return tags.filter((tag) => (categories.get(tag) ?? GENERAL) === GENERAL).length;
}

/** The dataset row of a post: tags sorted and space-joined as Danbooru's `tag_string`. */
export function datasetRowOf(post: ExportPost, categories: ReadonlyMap<string, number>): DatasetRow {
  const tags = [...new Set(post.tags)].filter((t) => t !== '').sort();
  return {
    id: post.remoteId,
    md5: post.md5.toLowerCase(),
    file_ext: post.fileExt.toLowerCase(),
    tag_string: tags.join(' '),
    tag_count_general: tagCountGeneral(tags, categories),
    rating: post.rating,
  };
}

/** Parses `--rating g,s`: a comma list of g, s, q, e (also the full names). */
export function parseRatings(text: string): Rating[] {
  const names: Record<string, Rating> = { general: 'g', sensitive: 's', questionable: 'q', explicit: 'e' };
  const out = new Set<Rating>();
  for (const raw of text.split(',')) {
    const word = raw.trim().toLowerCase();
    if (word === '') continue;
    const rating = (RATINGS as readonly string[]).includes(word) ? (word as Rating) : names[word];
    if (!rating) throw new Error(`rating ${JSON.stringify(raw.trim())}: expected g, s, q or e`);
    out.add(rating);
  }
  return [...out];
}
