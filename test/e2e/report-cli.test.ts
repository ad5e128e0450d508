/**
 * `booru-tagger report` as a child process against a seeded PostgreSQL database (DESIGN §5's flags: --since, --format,
 * --out), and the weekly `build-report` job writing its files and ReportRuns.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRepositories } from '../../src/bin/context.js';
import { buildScheduledReport } from '../../src/bin/report.command.js';
import { loadConfig } from '../../src/config/config.js';
import { SCHEDULE } from '../../src/worker/schedule.js';
import { seedReport } from '../helpers/report-seed.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

const run = promisify(execFile);

describe('report command', () => {
  const database = useTestDatabase();
  let dir = '';
  let booruId = 0;

  beforeAll(async () => {
    ({ booruId } = await seedReport(database().prisma));
    dir = await mkdtemp(join(tmpdir(), 'booru-tagger-report-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cli = (args: string[]) =>
    run(process.execPath, ['bin/booru-tagger.js', 'report', ...args], {
      env: { PATH: process.env['PATH'], DATABASE_URL: database().url, TAGGER_LOG_LEVEL: 'warn' },
      timeout: 60_000,
    });

  it('should print the JSON report of a period on stdout and record the run', async () => {
    const { stdout } = await cli(['--since', '2026-11-01', '--format', 'json']);
    const report = JSON.parse(stdout);
    expect(report.format).toBe('booru-tagger-report');
    expect(report.since).toBe('2026-11-01T00:00:00.000Z');
    expect(report.totals.suggestions).toMatchObject({ made: 17, approved: 6, rejected: 4, applied: 1, failed: 1 });
    expect(await database().prisma.reportRun.count({ where: { format: 'json', path: null } })).toBe(1);
  });

  it('should write --out in the asked format', async () => {
    const out = join(dir, 'report.dtext');
    const { stdout } = await cli(['--since', '7d', '--format', 'dtext', '--out', out]);
    expect(stdout).toContain(`report written to ${out}`);
    expect(await readFile(out, 'utf8')).toMatch(/^h3\. Tag-suggestion report for dan/);
  });

  it('should write CSV as one tidy table, or every table as its own file in a folder, or one with --table', {
    timeout: 90_000,
  }, async () => {
    const { stdout } = await cli(['--format', 'csv']);
    // Strict parse: a record wider or narrower than the header throws.
    const rows = parseCsv(stdout, { columns: true, record_delimiter: '\r\n' }) as Record<string, string>[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.find((r) => r['tag'] === 'cat_ears' && r['action'] === 'add')).toMatchObject({ category: '0' });
    const folder = join(dir, 'tables/');
    expect((await cli(['--format', 'csv', '--out', folder])).stdout).toContain('report written to');
    const files = (await readdir(folder)).sort();
    expect(files).toContain('tags.csv');
    expect(files).toContain('totals.csv');
    expect(await readFile(join(folder, 'tags.csv'), 'utf8')).toBe(stdout);
    const totals = parseCsv(await readFile(join(folder, 'totals.csv'), 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    expect(totals).toContainEqual({ measure: 'suggestions made', value: expect.stringMatching(/^[1-9]\d*$/) });
    expect((await cli(['--format', 'csv', '--table', 'totals'])).stdout).toBe(
      await readFile(join(folder, 'totals.csv'), 'utf8'),
    );
    const failure = await cli(['--format', 'csv', '--table', 'nope']).catch((error: { code: number }) => error);
    expect(failure).toMatchObject({ code: 2, stderr: expect.stringContaining('expected one of tags, totals') });
  });

  it('should exit 2 on a bad --since or --format', async () => {
    for (const args of [
      ['--since', 'last tuesday'],
      ['--format', 'pdf'],
    ]) {
      const failure = await cli(args).catch((error: { code: number; stderr: string }) => error);
      expect(failure, args.join(' ')).toMatchObject({ code: 2 });
    }
  });

  it('should run build-report weekly, writing each configured format and a ReportRun per file', async () => {
    expect(SCHEDULE['build-report']).toBe('0 0 6 * * 1');
    const config = loadConfig({
      DATABASE_URL: database().url,
      TAGGER_REPORT_DIR: join(dir, 'weekly'),
      TAGGER_REPORT_FORMATS: 'html,csv',
    });
    const { db, repos } = await openRepositories(config, silentLogger);
    try {
      const now = new Date('2026-11-08T00:00:00.000Z');
      const { paths } = await buildScheduledReport(config, repos, silentLogger, booruId, now);
      expect(paths).toEqual([
        join(dir, 'weekly', `report-${booruId}-2026-11-08.html`),
        join(dir, 'weekly', `report-${booruId}-2026-11-08.csv`),
      ]);
      expect(await readFile(paths[1]!, 'utf8')).toMatch(/^tag,action,category,suggested,/);
      const runs = await repos.reports.listRuns();
      expect(runs.slice(0, 2).map((r) => [r.format, r.path, r.since?.toISOString()])).toEqual([
        ['csv', paths[1], '2026-11-01T00:00:00.000Z'],
        ['html', paths[0], '2026-11-01T00:00:00.000Z'],
      ]);
    } finally {
      await db.close();
    }
  });
});
