import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleReport } from '../../src/core/report-stats.js';
import { renderReport } from '../../src/reports/render.js';
import {
  buildSecurityDashboard,
  HOSTILE_PASSWORD,
  HOSTILE_USER,
  hostileReportRows,
  PASSWORDS,
  PAYLOADS,
  seedHostileData,
} from '../helpers/security-fixtures.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { type LaunchedChromium, launchChromium } from '../helpers/browser.js';

const HOSTILE_QUERY = new URLSearchParams(
  Object.fromEntries(['tag', 'q', 'next', 'back', 'done', 'error', 'status'].map((k) => [k, PAYLOADS.attribute])),
).toString();

/** Elements and attributes a payload would leave behind if it were parsed as markup. */
function injectedElements(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    for (const element of Array.from(document.querySelectorAll('*'))) {
      if (element.tagName === 'SCRIPT' && !element.getAttribute('src'))
        found.push(`inline script: ${element.outerHTML}`);
      if (element.tagName === 'IMG' && element.getAttribute('src') === 'x') found.push(element.outerHTML);
      if (element.tagName === 'svg' || element.tagName === 'SVG') {
        if (element.getAttribute('onload')) found.push(element.outerHTML);
      }
      for (const attribute of Array.from(element.attributes)) {
        if (/^on/i.test(attribute.name)) found.push(`${element.tagName} ${attribute.name}=${attribute.value}`);
        if (/^\s*javascript:/i.test(attribute.value) && element.tagName === 'A') found.push(element.outerHTML);
      }
    }
    return found;
  });
}

describe('XSS in Chromium', () => {
  const database = useTestDatabase();
  let app: FastifyInstance;
  let base: string;
  let browser: BrowserContext;
  let page: Page;
  let chrome: LaunchedChromium | undefined;
  let postId: number;
  const dialogs: string[] = [];

  beforeAll(async () => {
    ({ postId } = await seedHostileData(database().prisma));
    app = await buildSecurityDashboard(database().prisma, silentLogger);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    chrome = await launchChromium();
    browser = chrome.context;
    page = chrome.page;
    page.on('dialog', (dialog) => {
      dialogs.push(`${page.url()}: ${dialog.message()}`);
      void dialog.dismiss();
    });
  }, 120_000);

  afterAll(async () => {
    await chrome?.close();
    await app?.close();
  });

  const signIn = async (name: string, password: string) => {
    await browser.clearCookies();
    await page.goto(`${base}/login`);
    await page.getByLabel('User name').fill(name);
    await page.getByLabel('Password').fill(password);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/`);
  };

  it('should open no dialog and parse no payload on any page, for an admin and for the hostile user', async () => {
    let visited = 0;
    for (const [name, password] of [
      ['admin', PASSWORDS.admin],
      [HOSTILE_USER, HOSTILE_PASSWORD],
    ] as const) {
      await signIn(name, password);
      const pages = app.dashboardRoutes
        .filter((r) => r.method === 'GET' && !r.url.startsWith('/api/') && !r.url.startsWith('/assets/'))
        .map((r) => r.url.replace(/:(\w+)/g, String(postId)))
        .flatMap((url) => [url, `${url}?${HOSTILE_QUERY}`]);
      for (const url of pages) {
        // An attachment (a report download) is not rendered: the download is checked in its own test below.
        const response = await page.goto(`${base}${url}`).catch((thrown: Error) => {
          if (/Download is starting/.test(thrown.message)) return null;
          throw thrown;
        });
        if (!response) continue;
        if (!String(response.headers()['content-type'] ?? '').startsWith('text/html')) continue;
        visited++;
        expect(await injectedElements(page), `${name} ${url}`).toEqual([]);
      }
    }
    expect(visited).toBeGreaterThanOrEqual(10);
    expect(dialogs).toEqual([]);
  }, 120_000);

  it('should notice an unescaped payload (the checks above can fail)', async () => {
    await page.goto('about:blank'); // no CSP here: the dashboard's would stop the script on its own
    await page.setContent(`<p>${PAYLOADS.attribute}</p><p>${PAYLOADS.script}</p>`);
    expect((await injectedElements(page)).length).toBeGreaterThanOrEqual(2);
    await expect.poll(() => dialogs.length).toBeGreaterThanOrEqual(1);
    dialogs.length = 0;
  });

  it('should run no payload in the HTML report, even without the CSP', async () => {
    await page.goto('about:blank');
    await page.setContent(renderReport(assembleReport(hostileReportRows()), 'html'));
    expect(await injectedElements(page)).toEqual([]);
    expect(await page.content()).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(dialogs).toEqual([]);
  });

  it('should run no payload in the HTML report downloaded from the dashboard', async () => {
    await signIn('admin', PASSWORDS.admin);
    const download = await page.request.get(`${base}/reports/download?format=html`);
    if (download.status() === 404) return; // no reports page in this checkout: the rendered report is tested above
    expect(download.status()).toBe(200);
    const text = await download.text();
    await page.goto('about:blank');
    await page.setContent(text);
    expect(await injectedElements(page)).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
