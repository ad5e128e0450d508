/**
 * Tag metadata sync (DESIGN §2, BOORU-API §1.6): tags with category, post count and deprecation, and aliases and
 * implications with their status, copied from the booru so the diff maps labels through active aliases, drops
 * deprecated tags and never proposes an implied tag.
 *
 * Incremental: each stream (tags, aliases, implications) is read in ascending id pages; the first pass reads
 * everything, later passes only rows the booru changed since the previous pass began (where the dialect can filter
 * by change; Moebooru and Gelbooru re-read all). The page cursor is stored after each page, so an interrupted pass
 * resumes where it stopped; a pass's start time becomes the next pass's "since" only once it completes.
 *
 * Each run is recorded as a tag-sync generation (src/db TagSync): `ok` when every stream the booru offers was read
 * to its end, `failed` otherwise (an error, an interruption, a page limit). Diffs are made only against a recent
 * `ok` generation (src/core/vocabulary-freshness.ts). A complete full pass of a relation stream also retires the
 * relations the booru no longer lists (Moebooru deletes them outright).
 */
import type { BooruClient, BooruTag, BooruTagRelation, TagListQuery } from '../booru/booru-client.js';
import type { CursorRepository } from '../db/cursor.repository.js';
import type { TagRepository } from '../db/tag.repository.js';
import { type Clock, systemClock } from '../shared/clock.js';
import { AppError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

type TagStream = 'tags' | 'aliases' | 'implications';

export interface SyncTagsDeps {
  booru: BooruClient;
  tags: TagRepository;
  cursors: CursorRepository;
  logger: Logger;
  clock?: Clock;
}

export interface SyncTagsOptions {
  booruId: number;
  pageSize?: number;
  /** Stop a stream after this many pages in one run (it resumes next run). (Default: 100 000) */
  maxPages?: number;
  /** Re-read everything, ignoring the last pass's time. (Default: false) */
  full?: boolean;
}

interface StreamSummary {
  /** Rows read from the booru in this run. */
  read: number;
  /** Rows inserted or changed. */
  written: number;
  /** The pass reached the end (false: stopped by maxPages or a transient failure; it resumes next run). */
  complete: boolean;
  /** Incremental (since the last pass) or full. */
  mode: 'full' | 'incremental' | 'unsupported';
}

export interface SyncTagsSummary {
  /** The generation this run recorded. */
  generation: number;
  /** Every offered stream was read to its end: diffs may use this generation. */
  ok: boolean;
  tags: StreamSummary;
  aliases: StreamSummary;
  implications: StreamSummary;
  interrupted: { code: string; message: string } | null;
}

/** Changes can land while a pass runs; the next pass starts this much before the last one began. */
const OVERLAP_MS = 5 * 60_000;

export async function syncTags(deps: SyncTagsDeps, options: SyncTagsOptions): Promise<SyncTagsSummary> {
  const logger = deps.logger.child({ stage: 'sync-tags', booruId: options.booruId });
  const clock = deps.clock ?? systemClock;
  const generation = await deps.tags.startSync(options.booruId, clock.now());
  try {
    const summary = await syncAllStreams(deps, options, generation, logger);
    const incomplete = (['tags', 'aliases', 'implications'] as const).filter((name) => !summary[name].complete);
    const error = summary.interrupted
      ? `${summary.interrupted.code}: ${summary.interrupted.message}`
      : incomplete.length > 0
        ? `${incomplete.join(', ')} stopped after ${options.maxPages ?? 100_000} pages; the pass resumes next run`
        : null;
    await deps.tags.finishSync(generation, clock.now(), error);
    summary.ok = error === null;
    return summary;
  } catch (thrown) {
    const error = coerceError(thrown);
    const code = error instanceof AppError ? `${error.code}: ` : '';
    await deps.tags.finishSync(generation, clock.now(), `${code}${error.message}`).catch(() => {});
    throw error;
  }
}

async function syncAllStreams(
  deps: SyncTagsDeps,
  options: SyncTagsOptions,
  generation: number,
  logger: Logger,
): Promise<SyncTagsSummary> {
  const unsupported: StreamSummary = { read: 0, written: 0, complete: true, mode: 'unsupported' };
  const summary: SyncTagsSummary = {
    generation,
    ok: false,
    tags: { ...unsupported },
    aliases: { ...unsupported },
    implications: { ...unsupported },
    interrupted: null,
  };
  const streams: { name: TagStream; list: (q: TagListQuery) => Promise<(BooruTag | BooruTagRelation)[]> }[] = [
    { name: 'tags', list: (q) => deps.booru.listTags(q) },
  ];
  if (deps.booru.capabilities.canSyncRelations) {
    streams.push(
      { name: 'aliases', list: (q) => deps.booru.listTagRelations('alias', q) },
      { name: 'implications', list: (q) => deps.booru.listTagRelations('implication', q) },
    );
  }
  for (const stream of streams) {
    // Filled in as pages are stored, so an interrupted stream still reports what it did.
    const result: StreamSummary = { read: 0, written: 0, complete: false, mode: 'full' };
    summary[stream.name] = result;
    try {
      await syncStream(deps, options, stream.name, stream.list, result);
    } catch (thrown) {
      const error = coerceError(thrown);
      if (!(error instanceof AppError) || !error.retryable) throw error;
      summary.interrupted = { code: error.code, message: error.message };
      logger.warn({ stream: stream.name, err: error.message }, 'tag sync interrupted; it resumes next run');
      break;
    }
  }
  logger.info(summary, 'tag sync finished');
  return summary;
}

async function syncStream(
  deps: SyncTagsDeps,
  options: SyncTagsOptions,
  name: TagStream,
  list: (q: TagListQuery) => Promise<(BooruTag | BooruTagRelation)[]>,
  result: StreamSummary,
): Promise<void> {
  const clock = deps.clock ?? systemClock;
  const { booruId } = options;
  const key = (part: string) => `${name}:${part}`;
  const incremental = !options.full && deps.booru.capabilities.filtersTagsByChange !== false;
  const syncedAt = incremental ? await deps.cursors.get(booruId, key('synced-at')) : null;
  let afterId = Number((await deps.cursors.get(booruId, key('page'))) ?? '0');
  let started = await deps.cursors.get(booruId, key('pass-started'));
  if (afterId === 0 || !started) {
    started = clock.now().toISOString();
    await deps.cursors.set(booruId, key('pass-started'), started);
  }
  const updatedSince = syncedAt ? new Date(Date.parse(syncedAt) - OVERLAP_MS) : null;
  result.mode = updatedSince ? 'incremental' : 'full';
  // A full relation pass read from its first page lists every relation the booru has: the others were deleted.
  const listed: { antecedent: string; consequent: string }[] | null =
    name !== 'tags' && !updatedSince && afterId === 0 ? [] : null;
  const maxPages = options.maxPages ?? 100_000;
  for (let page = 0; page < maxPages; page++) {
    const rows = await list({ afterId, updatedSince, limit: options.pageSize });
    if (rows.length === 0) {
      result.complete = true;
      break;
    }
    result.read += rows.length;
    if (name === 'tags') {
      result.written += await deps.tags.upsertTags(
        booruId,
        (rows as BooruTag[]).map((t) => ({
          name: t.name,
          category: t.category,
          postCount: t.postCount,
          isDeprecated: t.isDeprecated,
          remoteUpdatedAt: t.updatedAt,
        })),
      );
    } else {
      listed?.push(...(rows as BooruTagRelation[]));
      result.written += await deps.tags.upsertRelations(
        booruId,
        name === 'aliases' ? 'alias' : 'implication',
        (rows as BooruTagRelation[]).map((r) => ({
          antecedent: r.antecedent,
          consequent: r.consequent,
          status: r.status,
        })),
      );
    }
    afterId = Math.max(afterId, ...rows.map((r) => r.remoteId));
    await deps.cursors.set(booruId, key('page'), String(afterId));
  }
  if (result.complete) {
    if (listed) {
      const retired = await deps.tags.retireUnlisted(booruId, name === 'aliases' ? 'alias' : 'implication', listed);
      result.written += retired;
    }
    await deps.cursors.set(booruId, key('synced-at'), started);
    await deps.cursors.set(booruId, key('page'), '0');
  }
}
