/**
 * The pure half of the training-set export: DeepDanbooru's dataset layout (an SQLite `posts` table with every column
 * its `make-training-database` and `load_image_records` read, and `images/<md5[0:2]>/<md5>.<png|jpg|jpeg>`), the
 * row of one post, the project files (project.json, tags.txt, tags-general.txt, tags-character.txt), the
 * approved-suggestion correction and the filters. No I/O.
 */
import { buildSnapshotEdit } from '../core/tag-edit.js';
import { RATINGS, type Rating } from '../core/types.js';

/**
 * The SQLite schema. `posts` holds the columns DeepDanbooru's `make-training-database` selects (`id, md5, file_ext,
 * tag_string, tag_count_general, rating, score, is_deleted`; `load_image_records` reads the first five), plus
 * `source_ext`, the booru's own extension of a file converted to PNG. `score` is NULL: booru-tagger does not keep
 * post scores (DeepDanbooru's use of it is commented out). `is_deleted` is 0: deleted posts are not exported.
 */
export const DATASET_SCHEMA = `
CREATE TABLE IF NOT EXISTS posts (
  id INTEGER PRIMARY KEY,
  md5 TEXT NOT NULL,
  file_ext TEXT NOT NULL,
  tag_string TEXT NOT NULL,
  tag_count_general INTEGER NOT NULL,
  rating TEXT,
  score INTEGER,
  is_deleted INTEGER NOT NULL DEFAULT 0,
  source_ext TEXT
);
CREATE INDEX IF NOT EXISTS posts_tag_count_general ON posts (tag_count_general);
CREATE INDEX IF NOT EXISTS posts_md5 ON posts (md5);
CREATE TABLE IF NOT EXISTS export_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS export_tags (name TEXT PRIMARY KEY, category INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS export_kept (id INTEGER PRIMARY KEY);
`;

/** Extensions DeepDanbooru's loader reads (`load_image_records`): exported as they are. */
export const DEEPDANBOORU_EXTENSIONS: ReadonlySet<string> = new Set(['png', 'jpg', 'jpeg']);

/** Still-image formats converted to PNG on export (the first frame of an animation). */
const CONVERTED_EXTENSIONS: ReadonlySet<string> = new Set(['gif', 'webp', 'avif', 'bmp', 'tif', 'tiff']);

/** The extension a post's file gets in the dataset: its own for png/jpg/jpeg, png for a converted one, else null. */
export function datasetExtensionOf(sourceExt: string): string | null {
  const ext = sourceExt.toLowerCase();
  if (DEEPDANBOORU_EXTENSIONS.has(ext)) return ext;
  return CONVERTED_EXTENSIONS.has(ext) ? 'png' : null;
}

/**
 * DeepDanbooru's system tags for the ratings, appended to `tag_string` as its `make-training-database` does
 * (Danbooru's g/s/q/e); tags.txt lists them last, as its `download-tags` writes it.
 */
const RATING_SYSTEM_TAGS: Readonly<Record<Rating, string>> = {
  g: 'rating:general',
  s: 'rating:sensitive',
  q: 'rating:questionable',
  e: 'rating:explicit',
};

/** Danbooru's general and character tag categories. */
const GENERAL = 0;
const CHARACTER = 4;

export interface DatasetRow {
  id: number;
  md5: string;
  /** The extension of the file in the dataset (png for a converted one). */
  file_ext: string;
  /** The booru's tags, sorted, then the rating's system tag (`rating:general`…). */
  tag_string: string;
  tag_count_general: number;
  rating: Rating | null;
  score: number | null;
  is_deleted: 0 | 1;
  /** The booru's extension of the file (differs from `file_ext` when converted). */
  source_ext: string;
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

/**
 * The dataset row of a post: tags sorted and space-joined as Danbooru's `tag_string`, then the rating's system tag;
 * `file_ext` is the dataset's extension ({@link datasetExtensionOf}; the source's own when it has none).
 */
export function datasetRowOf(post: ExportPost, categories: ReadonlyMap<string, number>): DatasetRow {
  const tags = [...new Set(post.tags)].filter((t) => t !== '' && !t.startsWith('rating:')).sort();
  const sourceExt = post.fileExt.toLowerCase();
  return {
    id: post.remoteId,
    md5: post.md5.toLowerCase(),
    file_ext: datasetExtensionOf(sourceExt) ?? sourceExt,
    tag_string: [...tags, ...(post.rating ? [RATING_SYSTEM_TAGS[post.rating]] : [])].join(' '),
    tag_count_general: tagCountGeneral(tags, categories),
    rating: post.rating,
    score: null,
    is_deleted: 0,
    source_ext: sourceExt,
  };
}

/** DeepDanbooru's `natural_sorted` (deepdanbooru/extra): digit runs compare as numbers, the rest by code point. */
export function naturalSort(names: Iterable<string>): string[] {
  const key = (s: string) => s.split(/(\d+)/).map((part, i) => (i % 2 === 1 ? Number(part) : part));
  return [...names].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const p = x[i]!;
      const q = y[i]!;
      if (p === q) continue;
      if (typeof p === 'number' && typeof q === 'number') return p - q;
      return String(p) < String(q) ? -1 : 1;
    }
    return x.length - y.length;
  });
}

/** The tag files of a DeepDanbooru project, as its `download-tags` lays them out. */
export interface ProjectTagFiles {
  general: string[];
  character: string[];
  /** general, then character, then the rating system tags. */
  all: string[];
  /** DeepDanbooru's categories.json: where each group starts in tags.txt. */
  categories: { name: string; start_index: number }[];
}

/**
 * The project's tags from the exported rows' tag counts: general (category 0) and character (category 4) tags on at
 * least `minPosts` exported posts, natural-sorted; then the four rating system tags. A tag the tag sync has not seen
 * counts as general (as in `tag_count_general`).
 */
export function projectTagsOf(
  counts: ReadonlyMap<string, number>,
  categories: ReadonlyMap<string, number>,
  minPosts: number,
): ProjectTagFiles {
  const general: string[] = [];
  const character: string[] = [];
  for (const [tag, count] of counts) {
    if (count < minPosts || tag.startsWith('rating:')) continue;
    const category = categories.get(tag) ?? GENERAL;
    if (category === GENERAL) general.push(tag);
    else if (category === CHARACTER) character.push(tag);
  }
  const sortedGeneral = naturalSort(general);
  const sortedCharacter = naturalSort(character);
  const groups = [
    { name: 'General', tags: sortedGeneral },
    { name: 'Character', tags: sortedCharacter },
  ].filter((g) => g.tags.length > 0);
  const categoriesJson: { name: string; start_index: number }[] = [];
  let start = 0;
  for (const group of groups) {
    categoriesJson.push({ name: group.name, start_index: start });
    start += group.tags.length;
  }
  categoriesJson.push({ name: 'System', start_index: start });
  return {
    general: sortedGeneral,
    character: sortedCharacter,
    all: [...sortedGeneral, ...sortedCharacter, ...Object.values(RATING_SYSTEM_TAGS)],
    categories: categoriesJson,
  };
}

/**
 * DeepDanbooru's `project.json` (`DEFAULT_PROJECT_CONTEXT` of deepdanbooru/project/project.py) for this export: the
 * released models' input size (512) and network (resnet_custom_v3), the dataset file as `database_path` and the
 * export's minimum general tag count. Keys already in `existing` (an operator's edits) are kept, except
 * `database_path`, which always names this export's file.
 */
export function projectContextOf(
  databasePath: string,
  minimumTagCount: number,
  existing: Record<string, unknown> | null,
): Record<string, unknown> {
  const defaults = {
    image_width: 512,
    image_height: 512,
    database_path: databasePath,
    minimum_tag_count: minimumTagCount,
    model: 'resnet_custom_v3',
    minibatch_size: 32,
    epoch_count: 10,
    export_model_per_epoch: 10,
    checkpoint_frequency_mb: 200,
    console_logging_frequency_mb: 10,
    loss: 'binary_crossentropy',
    optimizer: 'adam',
    learning_rate: 0.001,
    rotation_range: [0.0, 360.0],
    scale_range: [0.9, 1.1],
    shift_range: [-0.1, 0.1],
    mixed_precision: false,
  };
  return { ...defaults, ...(existing ?? {}), database_path: databasePath };
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
