/**
 * `export-dataset --out DIR`: the crawled posts and their tags as a DeepDanbooru training set (see src/export). Picks
 * the booru (BOORU_URL, or the only one in the database), downloads through that booru's client, and shows a progress
 * bar on a terminal (structured progress logs otherwise).
 */
import type { Config } from '../config/config.js';
import { type ExportDatasetDeps, exportDataset, type ExportSummary } from '../export/export-dataset.js';
import { AppError, ConfigError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { createBooruClient, openRepositories, type Repositories } from './context.js';
import type { ExportFlags } from './cli-options.js';
import { type Progress, progressBar } from './progress.js';

interface ExportCommandOptions extends ExportFlags {
  signal: AbortSignal;
  progress: Progress;
}

/** The export's reads (src/export's source) from the post, tag and suggestion aggregates. */
export function datasetSourceOf(
  repos: Pick<Repositories, 'posts' | 'tags' | 'suggestions'>,
): ExportDatasetDeps['source'] {
  return {
    countPosts: (filter) => repos.posts.countExportable(filter),
    listPosts: (filter, afterId, limit) => repos.posts.listExportable(filter, afterId, limit),
    tagCategories: (booruId, names) => repos.tags.categoriesOf(booruId, names),
    approvedChanges: (postIds) => repos.suggestions.listApprovedForPosts(postIds),
  };
}

const sameUrl = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

async function runExportDataset(config: Config, logger: Logger, options: ExportCommandOptions): Promise<ExportSummary> {
  const { db, repos } = await openRepositories(config, logger);
  try {
    const source = datasetSourceOf(repos);
    const boorus = await repos.boorus.listBoorus();
    const booru = config.booruUrl
      ? boorus.find((b) => sameUrl(b.baseUrl, config.booruUrl!))
      : boorus.length === 1
        ? boorus[0]
        : undefined;
    if (!booru) {
      throw new ConfigError([
        config.booruUrl
          ? `BOORU_URL=${config.booruUrl}: no crawled booru with this URL (known: ${boorus.map((b) => b.baseUrl).join(', ') || 'none'})`
          : `BOORU_URL (or --booru-url): the database holds ${boorus.length === 0 ? 'no booru' : `${boorus.length} boorus (${boorus.map((b) => b.baseUrl).join(', ')})`}; name the one to export`,
      ]);
    }
    const { client, http } = createBooruClient(
      { ...config, booruKind: booru.kind as Config['booruKind'] },
      logger,
      booru.baseUrl,
    );
    try {
      return await exportDataset(
        {
          source,
          downloadMedia: (url) =>
            client.downloadMedia(url, { maxBytes: config.maxMediaBytes, timeoutMs: config.httpTimeoutMs }),
          logger,
        },
        {
          outDir: options.out,
          booruId: booru.id,
          minTags: options.minTags,
          tagMinPosts: options.tagMinPosts,
          ratings: options.ratings,
          ...(options.since ? { since: options.since } : {}),
          ...(options.until ? { until: options.until } : {}),
          withApproved: options.withApproved,
          concurrency: config.downloadConcurrency,
          signal: options.signal,
          onStart: (total) => options.progress.start(total),
          onProgress: (done) => options.progress.update(done),
        },
      );
    } finally {
      options.progress.stop();
      await http.close();
    }
  } finally {
    await db.close();
  }
}

function formatExport(summary: ExportSummary): string {
  const skipped = Object.entries(summary.skipped)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const converted = Object.entries(summary.converted)
    .map(([ext, n]) => `${ext} ${n}`)
    .join(', ');
  return [
    `${summary.interrupted ? 'interrupted (run again to resume)' : 'exported'} ${summary.out}: ${summary.rows} posts${summary.tags === null ? '' : `, ${summary.tags} tags in tags.txt`}`,
    `downloaded ${summary.downloaded} (converted to png: ${converted || 'none'}), already on disk ${summary.reused}, removed ${summary.removed}`,
    `skipped ${skipped || 'none'}; failed ${summary.failedCount}`,
    ...summary.failed.slice(0, 10).map((f) => `  #${f.id}: ${f.reason}`),
  ].join('\n');
}

/** `export-dataset --out DIR …` with checked flags: SIGINT/SIGTERM stop it resumably (exit 2, run again to resume). */
export async function exportDatasetCommand(
  config: Config,
  logger: Logger,
  flags: ExportFlags,
  options: { json: boolean; print: (text: string) => void },
): Promise<void> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const summary = await runExportDataset(config, logger, {
      ...flags,
      signal: abort.signal,
      progress: progressBar('exporting'),
    });
    options.print(options.json ? JSON.stringify(summary) : formatExport(summary));
    if (summary.interrupted) throw new AppError('USAGE', 'interrupted: run the same command again to resume');
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
