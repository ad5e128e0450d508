/// <reference lib="dom" />
/**
 * The HTML report in a real browser (playwright-core driving Debian's Chromium): opened as a file with no network,
 * its three SVG charts drawn, no script run (a hostile tag name stays text), screenshotted; then the dashboard's
 * reports and thresholds pages over the same seeded database. Screenshots go to test-artifacts/reports/.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../src/dashboard/app.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import { ApiTokenRepository } from '../../src/db/api-token.repository.js';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { ReportRepository } from '../../src/db/report.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { ThresholdRepository } from '../../src/db/threshold.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { renderReport } from '../../src/reports/render.js';
import { EVIL_TAG, SEED_SINCE, SEED_UNTIL, seedReport } from '../helpers/report-seed.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { CHROMIUM, type LaunchedChromium, launchChromium } from '../helpers/browser.js';
import { dashboardRepos } from '../helpers/seed.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'reports');

describe.skipIf(!existsSync(CHROMIUM))('HTML report in Chromium', () => {
  const database = useTestDatabase();
  let app: FastifyInstance;
  let base: string;
  let _browser: BrowserContext;
  let page: Page;
  let chrome: LaunchedChromium | undefined;
  let reportFile: string;
  const dialogs: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const { prisma } = database();
    const { booruId } = await seedReport(prisma);
    const reports = new ReportRepository(prisma);
    const thresholds = new ThresholdRepository(prisma, { enabledByDefault: false, target: 0.5, minSamples: 3 });
    const model = await reports.loadFullReport({ booruId, since: SEED_SINCE, until: SEED_UNTIL }, thresholds);
    reportFile = join(ARTIFACTS, 'seeded-report.html');
    writeFileSync(reportFile, renderReport(model, 'html'));
    const users = new UserRepository(prisma);
    await users.create({ name: 'admin', role: 'admin', passwordHash: await hashPassword('admin-password') });
    app = await buildDashboard({
      users,
      suggestions: new SuggestionRepository(prisma),
      ...dashboardRepos(prisma),
      apiTokens: new ApiTokenRepository(prisma),
      audit: new AuditRepository(prisma),
      reports,
      thresholds,
      logger: silentLogger,
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    chrome = await launchChromium({ viewport: { width: 1280, height: 900 } });
    _browser = chrome.context;
    page = chrome.page;
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('request', (request) => requests.push(request.url()));
  }, 120_000);

  afterAll(async () => {
    await chrome?.close();
    await app?.close();
  });

  it('should draw the charts from one self-contained file, run no script, and show hostile names as text', async () => {
    await page.goto(`file://${reportFile}`);
    for (const id of ['chart-reliability', 'chart-daily', 'chart-top-tags']) {
      const box = await page.locator(`#${id}`).boundingBox();
      expect(box, id).not.toBeNull();
      expect(box!.width, id).toBeGreaterThan(300);
      expect(box!.height, id).toBeGreaterThan(100);
    }
    expect(await page.locator('#chart-reliability rect.bar').count()).toBe(7);
    expect(await page.locator('#chart-top-tags rect').count()).toBeGreaterThan(4);
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.getByText(EVIL_TAG, { exact: true }).first().isVisible()).toBe(true);
    expect(await page.locator('td.tag', { hasText: 'cat_ears' }).first().isVisible()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
    expect(dialogs).toEqual([]);
    expect(requests.filter((url) => !url.startsWith('file://'))).toEqual([]);
  });

  it('should show the report and the learned thresholds with their evidence on the dashboard', async () => {
    await page.goto(`${base}/login`);
    await page.fill('input[name="name"]', 'admin');
    await page.fill('input[name="password"]', 'admin-password');
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type="submit"]')]);
    await page.goto(`${base}/reports`);
    expect(await page.locator('#chart-reliability').isVisible()).toBe(true);
    expect(await page.locator('a[href^="/reports/download?"]').count()).toBe(5);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-reports.png'), fullPage: true });
    await page.goto(`${base}/thresholds`);
    await page.locator('details summary').first().click();
    expect(await page.locator('table.evidence').first().isVisible()).toBe(true);
    await Promise.all([page.waitForURL(/\/thresholds\?done=/), page.click('text=Switch learned thresholds on')]);
    expect(await page.locator('[data-learned="on"]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-thresholds.png'), fullPage: true });
    expect(dialogs).toEqual([]);
  });
});
