/**
 * The `report` command, the scheduled `build-report` and `learn-thresholds` jobs, and the report source the
 * dashboard's reports page uses: database rows → report model (src/core) → a format (src/reports).
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Config } from '../config/config.js';
import { recommendThresholds } from '../core/learned-thresholds.js';
import { parseSince as parseSinceSpec, type ReportModel } from '../core/report-stats.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { csvTableIds, renderCsvTable } from '../reports/csv.report.js';
import { EXTENSIONS, type ReportFormat, renderReport } from '../reports/render.js';
import { withRepositories } from './commands.js';
import type { Repositories } from './context.js';

/** `--since`: an ISO date or date-time (`2026-11-01`), or a duration back from now (`7d`, `24h`, `2w`). */
function parseSince(value: string, now: Date): Date {
  const since = parseSinceSpec(value, now);
  if (since === null) {
    throw new AppError(
      'USAGE',
      `--since ${JSON.stringify(value)}: expected a date (2026-11-01) or a duration (7d, 24h, 2w)`,
    );
  }
  return since;
}

/**
 * Which booru a report is about: the configured BOORU_URL's when it is in the database, else the only one; null (all
 * boorus together) when there are several and none is configured.
 */
async function reportBooruOf(config: Config, repos: Pick<Repositories, 'boorus'>): Promise<number | null> {
  const boorus = await repos.boorus.listBoorus();
  const configured = config.booruUrl ? boorus.find((b) => b.baseUrl === config.booruUrl) : undefined;
  if (configured) return configured.id;
  return boorus.length === 1 ? boorus[0]!.id : null;
}

async function buildReportModel(
  repos: Pick<Repositories, 'reports' | 'thresholds'>,
  query: { booruId: number | null; since: Date | null; until: Date },
): Promise<ReportModel> {
  return repos.reports.loadFullReport(query, repos.thresholds);
}

/** The numbers a ReportRun keeps, so old runs can be compared without their files. */
function summaryOf(model: ReportModel): Record<string, unknown> {
  return {
    totals: model.totals,
    tags: model.tags.length,
    learned: model.thresholds?.items.filter((i) => i.threshold !== null).length ?? 0,
  };
}

export interface ReportCommandOptions {
  since?: string;
  format: ReportFormat;
  out?: string;
  /** CSV only: this one table (`tags`, the tidy per-tag table, or `totals`, `skipped`, `ratings`…). */
  table?: string;
  now?: Date;
}

/** `--out` names a folder: it exists as one, or it ends with a slash. */
async function isFolder(path: string): Promise<boolean> {
  if (/[/\\]$/.test(path)) return true;
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

/** The `report` command: checks `--since` before opening the database, then prints the report or where it went. */
export async function reportCommand(
  config: Config,
  logger: Logger,
  options: Omit<ReportCommandOptions, 'now'>,
  print: (text: string) => void,
): Promise<void> {
  if (options.since !== undefined) parseSince(options.since, new Date());
  const result = await withRepositories(config, logger, (repos) => runReport(config, repos, options));
  if (result.text !== null) process.stdout.write(result.text);
  else print(`report written to ${result.path}`);
}

/** `booru-tagger report`: builds one report; returns its text when no `--out` is given (the CLI prints it). */
async function runReport(
  config: Config,
  repos: Pick<Repositories, 'boorus' | 'reports' | 'thresholds'>,
  options: ReportCommandOptions,
): Promise<{ text: string | null; path: string | null; runId: number }> {
  const until = options.now ?? new Date();
  const since = options.since === undefined ? null : parseSince(options.since, until);
  const booruId = await reportBooruOf(config, repos);
  const model = await buildReportModel(repos, { booruId, since, until });
  if (options.table !== undefined && options.format !== 'csv')
    throw new AppError('USAGE', '--table picks one table of the CSV report: use it with --format csv');
  const folder = options.format === 'csv' && options.out !== undefined && (await isFolder(options.out));
  let text: string;
  let path = options.out ? resolve(options.out) : null;
  if (options.table !== undefined) {
    const table = renderCsvTable(model, options.table);
    if (table === null)
      throw new AppError(
        'USAGE',
        `--table ${JSON.stringify(options.table)}: expected one of ${csvTableIds(model).join(', ')}`,
      );
    text = table;
  } else text = renderReport(model, options.format);
  if (path && folder && options.table === undefined) {
    // Every table of the report as its own CSV file: tags.csv (the tidy table), totals.csv, skipped.csv…
    await mkdir(path, { recursive: true });
    for (const id of csvTableIds(model)) await writeFile(join(path, `${id}.csv`), renderCsvTable(model, id) ?? '');
  } else if (path && folder) {
    await mkdir(path, { recursive: true });
    path = join(path, `${options.table}.csv`);
    await writeFile(path, text);
  } else if (path) await writeFile(path, text);
  const runId = await repos.reports.saveRun({
    booruId,
    since,
    until,
    format: options.format,
    path,
    summary: summaryOf(model),
  });
  return { text: path ? null : text, path, runId };
}

function reportDirOf(config: Config): string {
  if (config.reportDir) return resolve(config.reportDir);
  return isAbsolute(config.dataDir) ? join(config.dataDir, 'reports') : resolve(config.dataDir, 'reports');
}

/**
 * The weekly `build-report` job: the last 7 days of `booruId`, in each configured format, written to the report
 * folder and recorded as ReportRuns. Learned thresholds are refreshed first, so the report shows current ones.
 */
export async function buildScheduledReport(
  config: Config,
  repos: Pick<Repositories, 'reports' | 'thresholds'>,
  logger: Logger,
  booruId: number,
  now = new Date(),
): Promise<{ paths: string[] }> {
  await learnThresholds(repos, booruId);
  const since = new Date(now.getTime() - 7 * 86_400_000);
  const model = await buildReportModel(repos, { booruId, since, until: now });
  const dir = reportDirOf(config);
  await mkdir(dir, { recursive: true });
  const stamp = now.toISOString().slice(0, 10);
  const paths: string[] = [];
  for (const format of config.reportFormats) {
    const path = join(dir, `report-${booruId}-${stamp}.${EXTENSIONS[format]}`);
    await writeFile(path, renderReport(model, format));
    await repos.reports.saveRun({ booruId, since, until: now, format, path, summary: summaryOf(model) });
    paths.push(path);
  }
  logger.info({ paths }, 'report written');
  return { paths };
}

/** The `learn-thresholds` job: recommendations from every decision, stored with their evidence. */
export async function learnThresholds(
  repos: Pick<Repositories, 'reports' | 'thresholds'>,
  booruId: number,
): Promise<{ learned: number }> {
  const { target, minSamples } = repos.thresholds.settings;
  const recommendations = recommendThresholds(await repos.reports.loadDecisionEvidence(booruId), {
    target,
    minSamples,
  });
  return { learned: await repos.thresholds.saveLearned(booruId, recommendations) };
}
