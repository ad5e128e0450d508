/**
 * `export-dataset`: the crawled posts as a training set in DeepDanbooru's layout. Pages through the database in id
 * order, corrects tags with approved suggestions when asked, downloads each original through the booru client (its
 * host allowlist and size limits), checks the bytes against the post's md5, and records the row only once its image
 * is on disk. Resumable: rows live in the SQLite file, which is saved at checkpoints and on interruption, and images
 * already on disk with the right md5 are kept, not downloaded again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Rating } from '../core/types.js';
import type { ApprovedChange, DatasetPost, DatasetPostFilter } from '../db/dataset.repository.js';
import { coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { DatasetFile } from './dataset-file.js';
import {
  applyApprovedChanges,
  type DatasetRow,
  datasetRowOf,
  IMAGE_EXTENSIONS,
  imagePathOf,
} from './dataset-layout.js';

/** The dataset's SQLite file name inside the output folder. */
export const DATASET_FILE = 'dataset.sqlite';

/** The reads the export needs (DatasetRepository implements them). */
export interface DatasetSource {
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
  const file = await DatasetFile.open(join(options.outDir, DATASET_FILE));
  const summary: ExportSummary = {
    out: options.outDir,
    rows: 0,
    processed: 0,
    downloaded: 0,
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
    const total = await source.countPosts(filter);
    options.onStart?.(total);
    log.info({ total, resumedRows: file.ids().length }, 'export started');

    const before = new Set(file.ids());
    const kept = new Set<number>();
    const md5sKept = new Set<string>();
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

    /** Makes sure the post's image is on disk with the right md5; returns how, or a failure reason. */
    const fetchImage = async (post: DatasetPost, row: DatasetRow, path: string): Promise<string> => {
      if ((await md5OfFile(path)) === row.md5) return 'reused';
      if (!post.fileUrl) return 'no_file_url';
      let bytes: Buffer;
      try {
        bytes = await deps.downloadMedia(post.fileUrl);
      } catch (error) {
        return `download: ${coerceError(error).message}`;
      }
      const got = md5Of(bytes);
      if (got !== row.md5) return `md5_mismatch: got ${got}`;
      await mkdir(dirname(path), { recursive: true });
      const partial = `${path}.${process.pid}.part`;
      await writeFile(partial, bytes);
      await rename(partial, path);
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
      const changes = options.withApproved ? await source.approvedChanges(page.map((p) => p.id)) : [];
      const changesOf = new Map<number, ApprovedChange[]>();
      for (const change of changes) changesOf.set(change.postId, [...(changesOf.get(change.postId) ?? []), change]);
      const work: { post: DatasetPost; row: DatasetRow }[] = [];
      for (const post of page) {
        const corrected = applyApprovedChanges(post.tags, post.rating, changesOf.get(post.id) ?? []);
        const row = datasetRowOf({ ...post, tags: corrected.tags, rating: corrected.rating }, categories);
        if (!IMAGE_EXTENSIONS.has(row.file_ext)) {
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
          file.upsert(row);
          kept.add(row.id);
          md5sKept.add(row.md5);
        } else {
          fail(row.id, outcome);
        }
        summary.processed++;
        options.onProgress?.(summary.processed);
      });
      if (Date.now() - lastSave >= (options.checkpointMs ?? 30_000)) {
        await file.save();
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
      // their images unless another kept post shares the file.
      const stale = [...before].filter((id) => !kept.has(id));
      for (const id of stale) {
        const row = file.row(id);
        if (row && !md5sKept.has(row.md5)) {
          await rm(join(options.outDir, imagePathOf(row.md5, row.file_ext)), { force: true });
        }
      }
      file.delete(stale);
      summary.removed = stale.length;
      file.setMeta('completed_at', new Date().toISOString());
    }
    summary.rows = file.ids().length;
    await file.save();
    log.info({ ...summary, failed: undefined }, summary.interrupted ? 'export saved' : 'export finished');
    return summary;
  } finally {
    file.close();
  }
}
