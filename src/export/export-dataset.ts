/**
 * `export-dataset`: the crawled posts as a DeepDanbooru training project. Pages through the database in id order,
 * corrects tags with approved suggestions when asked, downloads each original through the booru client (its host
 * allowlist and size limits), checks the bytes against the post's md5, converts formats DeepDanbooru cannot read to
 * PNG, and records the row only once its image is on disk. A complete run then writes project.json, tags.txt,
 * tags-general.txt, tags-character.txt and categories.json. Resumable: rows live in the SQLite file, committed at
 * checkpoints and on interruption, and images already on disk (right md5, or converted from a post with that md5)
 * are kept, not downloaded again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import type { Rating } from '../core/types.js';
import type { DatasetPost, DatasetPostFilter } from '../db/post-reads.js';
import type { ApprovedChange } from '../db/suggestion.types.js';
import { coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { DatasetFile } from './dataset-file.js';
import {
  applyApprovedChanges,
  type DatasetRow,
  DEEPDANBOORU_EXTENSIONS,
  datasetExtensionOf,
  datasetRowOf,
  imagePathOf,
  projectContextOf,
  projectTagsOf,
} from './dataset-layout.js';

/** The dataset's SQLite file name inside the output folder. */
export const DATASET_FILE = 'dataset.sqlite';

/** The reads the export needs (the post, tag and suggestion repositories, joined in src/bin). */
interface DatasetSource {
  countPosts(filter: DatasetPostFilter): Promise<number>;
  listPosts(filter: DatasetPostFilter, afterId: number, limit: number): Promise<DatasetPost[]>;
  tagCategories(booruId: number, names: readonly string[]): Promise<Map<string, number>>;
  approvedChanges(postIds: readonly number[]): Promise<ApprovedChange[]>;
}

export interface ExportDatasetDeps {
  source: DatasetSource;
  /** Downloads a post's original (the booru client's media path: allowed hosts, size and time limits). */
  downloadMedia(url: string): Promise<Buffer>;
  logger: Logger;
}

export interface ExportDatasetOptions {
  /** The dataset folder: `dataset.sqlite` and `images/`. */
  outDir: string;
  booruId: number;
  /** Only posts with at least this many general tags. (Default: 0.) */
  minTags?: number;
  /** tags.txt lists general and character tags on at least this many exported posts. (Default: 1.) */
  tagMinPosts?: number;
  ratings?: readonly Rating[];
  since?: Date;
  until?: Date;
  /** Apply approved, not yet applied suggestions to the tags and rating. (Default: false.) */
  withApproved?: boolean;
  /** Parallel downloads. (Default: 4.) */
  concurrency?: number;
  /** Posts read per database page. (Default: 500.) */
  pageSize?: number;
  /** Save the SQLite file at least this often while running, ms. (Default: 30000.) */
  checkpointMs?: number;
  /** Stop taking posts, finish the ones in flight, save and return (`interrupted: true`). */
  signal?: AbortSignal;
  onStart?: (total: number) => void;
  onProgress?: (processed: number) => void;
}

export interface ExportSummary {
  out: string;
  /** Rows in the file at the end. */
  rows: number;
  /** Posts considered this run. */
  processed: number;
  downloaded: number;
  /** Images this run converted to PNG (gif, webp, avif…: DeepDanbooru reads png and jpg only), by source extension. */
  converted: Record<string, number>;
  /** Tags in tags.txt (general + character + the four rating tags); null when the run did not finish. */
  tags: number | null;
  /** Images already on disk with the right md5 (a resumed export, or a post sharing another's file). */
  reused: number;
  /** Posts left out on purpose, by reason (`too_few_tags`, `not_an_image`). */
  skipped: Record<string, number>;
  /** Posts that could not be exported (no file URL, download failed, md5 mismatch), first 100. */
  failed: { id: number; reason: string }[];
  failedCount: number;
  /** Rows of an earlier run whose post is no longer selected, removed. */
  removed: number;
  interrupted: boolean;
}

const md5Of = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

/** The md5 of the file at `path`, or null when there is none. */
async function md5OfFile(path: string): Promise<string | null> {
  try {
    return md5Of(await readFile(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function isNonEmptyFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size > 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Writes `bytes` to `path` whole or not at all (a temporary file, then a rename). */
async function writeAtomically(path: string, bytes: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.part`;
  try {
    await writeFile(partial, bytes);
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

/** A still PNG of the image's first frame, EXIF rotation applied (lossless, so nothing a tagger sees is lost). */
async function convertToPng(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes, { animated: false }).rotate().png().toBuffer();
}

/** Runs `work` over `items` with at most `limit` at once. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

export async function exportDataset(deps: ExportDatasetDeps, options: ExportDatasetOptions): Promise<ExportSummary> {
  const { source, logger } = deps;
  const log = logger.child({ stage: 'export-dataset', out: options.outDir });
  const minTags = options.minTags ?? 0;
  const filter: DatasetPostFilter = {
    booruId: options.booruId,
    ...(options.ratings?.length ? { ratings: options.ratings } : {}),
    ...(options.since ? { since: options.since } : {}),
    ...(options.until ? { until: options.until } : {}),
  };
  await mkdir(join(options.outDir, 'images'), { recursive: true });
  const file = DatasetFile.open(join(options.outDir, DATASET_FILE));
  const summary: ExportSummary = {
    out: options.outDir,
    rows: 0,
    processed: 0,
    downloaded: 0,
    converted: {},
    tags: null,
    reused: 0,
    skipped: {},
    failed: [],
    failedCount: 0,
    removed: 0,
    interrupted: false,
  };
  try {
    const parameters = JSON.stringify({ ...filter, minTags, withApproved: Boolean(options.withApproved) });
    const previous = file.meta('parameters');
    if (previous !== null && previous !== parameters) {
      log.warn(
        { previous, parameters },
        'the folder holds an export made with other settings: rows are brought in line',
      );
    }
    file.setMeta('format', 'deepdanbooru');
    file.setMeta('parameters', parameters);
    file.setMeta('completed_at', '');
    file.resetKept();
    file.checkpoint();
    const total = await source.countPosts(filter);
    options.onStart?.(total);
    log.info({ total, resumedRows: file.count() }, 'export started');

    const skip = (reason: string) => {
      summary.skipped[reason] = (summary.skipped[reason] ?? 0) + 1;
    };
    const fail = (id: number, reason: string) => {
      summary.failedCount++;
      if (summary.failed.length < 100) summary.failed.push({ id, reason });
      log.warn({ post: id, reason }, 'post not exported');
    };
    let lastSave = Date.now();

    // Posts can share a file (reposts with one md5): the first fetch of a path serves every post that needs it.
    const inFlight = new Map<string, Promise<string>>();
    const ensureImage = (post: DatasetPost, row: DatasetRow): Promise<'reused' | 'downloaded' | string> => {
      const path = join(options.outDir, imagePathOf(row.md5, row.file_ext));
      const running = inFlight.get(path);
      if (running) return running.then((outcome) => (outcome === 'downloaded' ? 'reused' : outcome));
      const fetching = fetchImage(post, row, path).finally(() => inFlight.delete(path));
      inFlight.set(path, fetching);
      return fetching;
    };

    /**
     * Makes sure the post's image is on disk; returns how, or a failure reason. A file kept as it is must hash to the
     * post's md5. A converted file cannot: it is reused when a row of a post with the same md5 and source extension
     * names it (files are renamed into place whole, and rows are committed only after their file).
     */
    const fetchImage = async (post: DatasetPost, row: DatasetRow, path: string): Promise<string> => {
      const converting = row.file_ext !== row.source_ext;
      if (converting) {
        const stored = file.row(row.id);
        const sameFile = stored?.md5 === row.md5 && stored.file_ext === row.file_ext;
        if (sameFile && stored.source_ext === row.source_ext && (await isNonEmptyFile(path))) return 'reused';
      } else if ((await md5OfFile(path)) === row.md5) {
        return 'reused';
      }
      if (!post.fileUrl) return 'no_file_url';
      let bytes: Buffer;
      try {
        bytes = await deps.downloadMedia(post.fileUrl);
      } catch (error) {
        return `download: ${coerceError(error).message}`;
      }
      const got = md5Of(bytes);
      if (got !== row.md5) return `md5_mismatch: got ${got}`;
      if (converting) {
        try {
          bytes = await convertToPng(bytes);
        } catch (error) {
          return `convert ${row.source_ext} to png: ${coerceError(error).message}`;
        }
        summary.converted[row.source_ext] = (summary.converted[row.source_ext] ?? 0) + 1;
      }
      await writeAtomically(path, bytes);
      return 'downloaded';
    };

    let afterId = 0;
    while (true) {
      if (options.signal?.aborted) break;
      const page = await source.listPosts(filter, afterId, options.pageSize ?? 500);
      if (page.length === 0) break;
      afterId = page[page.length - 1]!.id;
      const tagNames = [...new Set(page.flatMap((p) => p.tags))];
      const categories = await source.tagCategories(options.booruId, tagNames);
      file.recordTagCategories(categories);
      const changes = options.withApproved ? await source.approvedChanges(page.map((p) => p.id)) : [];
      const changesOf = new Map<number, ApprovedChange[]>();
      for (const change of changes) changesOf.set(change.postId, [...(changesOf.get(change.postId) ?? []), change]);
      const work: { post: DatasetPost; row: DatasetRow }[] = [];
      for (const post of page) {
        const corrected = applyApprovedChanges(post.tags, post.rating, changesOf.get(post.id) ?? []);
        const row = datasetRowOf({ ...post, tags: corrected.tags, rating: corrected.rating }, categories);
        if (datasetExtensionOf(row.source_ext) === null || !DEEPDANBOORU_EXTENSIONS.has(row.file_ext)) {
          skip('not_an_image');
          summary.processed++;
        } else if (row.tag_count_general < minTags) {
          skip('too_few_tags');
          summary.processed++;
        } else {
          work.push({ post, row });
        }
      }
      options.onProgress?.(summary.processed);
      await forEachLimited(work, options.concurrency ?? 4, async ({ post, row }) => {
        if (options.signal?.aborted) return;
        const outcome = await ensureImage(post, row);
        if (outcome === 'reused' || outcome === 'downloaded') {
          summary[outcome]++;
          const earlier = file.row(row.id);
          file.upsert(row);
          if (earlier && earlier.file_ext !== row.file_ext && !DEEPDANBOORU_EXTENSIONS.has(earlier.file_ext)) {
            // An earlier version exported this file as it was (webp, gif…); its PNG replaces it.
            await rm(join(options.outDir, imagePathOf(earlier.md5, earlier.file_ext)), { force: true });
          }
        } else {
          fail(row.id, outcome);
        }
        summary.processed++;
        options.onProgress?.(summary.processed);
      });
      if (Date.now() - lastSave >= (options.checkpointMs ?? 30_000)) {
        file.checkpoint();
        lastSave = Date.now();
      }
      log.info(
        { processed: summary.processed, total, downloaded: summary.downloaded, reused: summary.reused },
        'export progress',
      );
      if (options.signal?.aborted) break;
    }

    if (options.signal?.aborted) {
      summary.interrupted = true;
      log.warn(
        { processed: summary.processed, total },
        'export interrupted: what is done is saved; run it again to resume',
      );
    } else {
      // Rows of posts this run did not keep (no longer selected, or their image is gone) leave the dataset, with
      // their images unless a kept post shares the file.
      for (let page = file.staleRows(-1, 500); page.length > 0; page = file.staleRows(page.at(-1)!.id, 500)) {
        for (const row of page) {
          if (!file.isFileKept(row.md5, row.file_ext)) {
            await rm(join(options.outDir, imagePathOf(row.md5, row.file_ext)), { force: true });
          }
        }
        file.delete(page.map((row) => row.id));
        summary.removed += page.length;
      }
      summary.tags = await writeProjectFiles(file, options);
      file.setMeta('completed_at', new Date().toISOString());
    }
    summary.rows = file.count();
    file.checkpoint();
    log.info({ ...summary, failed: undefined }, summary.interrupted ? 'export saved' : 'export finished');
    return summary;
  } finally {
    file.close();
  }
}

/**
 * project.json (kept as edited, `database_path` set to this export's file), tags.txt, tags-general.txt,
 * tags-character.txt and categories.json, from the exported rows. Returns the number of tags in tags.txt.
 */
async function writeProjectFiles(file: DatasetFile, options: ExportDatasetOptions): Promise<number> {
  const counts = new Map<string, number>();
  file.forEachTagString((tagString) => {
    for (const tag of tagString.split(' ')) if (tag !== '') counts.set(tag, (counts.get(tag) ?? 0) + 1);
  });
  const tags = projectTagsOf(counts, file.tagCategories(), Math.max(1, options.tagMinPosts ?? 1));
  const lines = (list: readonly string[]) => Buffer.from(list.map((tag) => `${tag}\n`).join(''));
  const projectPath = join(options.outDir, 'project.json');
  let existing: Record<string, unknown> | null = null;
  try {
    existing = JSON.parse(await readFile(projectPath, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`${projectPath}: cannot be read as JSON (${coerceError(error).message}); fix or remove it`, {
        cause: error,
      });
    }
  }
  const context = projectContextOf(resolve(file.path), options.minTags ?? 0, existing);
  await writeAtomically(projectPath, Buffer.from(`${JSON.stringify(context, null, 4)}\n`));
  await writeAtomically(join(options.outDir, 'tags.txt'), lines(tags.all));
  await writeAtomically(join(options.outDir, 'tags-general.txt'), lines(tags.general));
  await writeAtomically(join(options.outDir, 'tags-character.txt'), lines(tags.character));
  await writeAtomically(join(options.outDir, 'categories.json'), Buffer.from(`${JSON.stringify(tags.categories)}\n`));
  return tags.all.length;
}
