/**
 * Cross-site scripting through booru-supplied strings (tag names, media URLs, skip and error reasons, suggestion
 * reasons, apply errors, user names), on a real database: every GET route the dashboard registers (enumerated, so a
 * new page is covered), plain and with hostile query parameters, and the HTML report (as downloaded and as rendered
 * from hostile rows), must carry the payloads escaped and never as markup. The browser test (test/browser/xss.test.ts)
 * renders the same pages in Chromium and watches for a dialog.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleReport } from '../../src/core/report-stats.js';
import { renderReport } from '../../src/reports/render.js';
import {
  buildSecurityDashboard,
  Client,
  HOSTILE_PASSWORD,
  HOSTILE_USER,
  hostileReportRows,
  PASSWORDS,
  PAYLOADS,
  RAW_MARKERS,
  seedHostileData,
} from '../helpers/security-fixtures.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

const HOSTILE_QUERY = new URLSearchParams(
  Object.fromEntries(
    ['tag', 'q', 'next', 'back', 'done', 'error', 'booru', 'action', 'status', 'model', 'since', 'sort'].map((k) => [
      k,
      PAYLOADS.attribute + PAYLOADS.script,
    ]),
  ),
).toString();

function expectNoRawMarkup(body: string, where: string): void {
  for (const marker of RAW_MARKERS) expect(body, `${where} contains ${marker}`).not.toContain(marker);
}

describe('XSS through booru-supplied strings', () => {
  const database = useTestDatabase();
  let app: FastifyInstance;
  let postId: number;
  let suggestionIds: number[];

  beforeAll(async () => {
    ({ postId, suggestionIds } = await seedHostileData(database().prisma));
    app = await buildSecurityDashboard(database().prisma, silentLogger);
    // The hostile moderator decides, so their name shows in statuses and the audit log.
    const moderator = new Client(app);
    await moderator.signIn(HOSTILE_USER, HOSTILE_PASSWORD);
    const decided = await moderator.request('POST', '/suggestions/decide', {
      _csrf: moderator.csrf,
      decision: `reject:${suggestionIds[1]}`,
    });
    expect(decided.statusCode).toBe(303);
  });

  afterAll(async () => {
    await app?.close();
  });

  const pagesOf = () =>
    app.dashboardRoutes
      .filter((r) => r.method === 'GET')
      .map((r) => r.url.replace(/:(\w+)/g, String(postId)))
      .flatMap((url) => [url, `${url}?${HOSTILE_QUERY}`, `${url}?${HOSTILE_QUERY}&format=html`]);

  it('should escape every payload on every page, for an admin and for the hostile user', async () => {
    let htmlPages = 0;
    for (const [name, password] of [
      ['admin', PASSWORDS.admin],
      [HOSTILE_USER, HOSTILE_PASSWORD],
    ] as const) {
      const sut = new Client(app);
      await sut.signIn(name, password);
      for (const url of pagesOf()) {
        const response = await sut.request('GET', url);
        // /readyz answers 503 by design while a precondition is missing (this fixture never synced tags).
        if (url.startsWith('/readyz') && response.statusCode === 503) {
          expect(JSON.parse(response.body).ready, url).toBe(false);
        } else {
          expect(response.statusCode, url).toBeLessThan(500);
        }
        const type = String(response.headers['content-type'] ?? '');
        if (type.startsWith('text/html')) htmlPages++;
        // JSON carries the raw strings as data (served as JSON with nosniff: checked below); anything else that a
        // browser could render must carry no live markup.
        if (type.startsWith('application/json')) continue;
        expectNoRawMarkup(response.body, `${name} GET ${url} (${type})`);
      }
    }
    expect(htmlPages).toBeGreaterThanOrEqual(10);
  });

  it('should show the payloads as text where they belong (the test is not vacuous)', async () => {
    const sut = new Client(app);
    await sut.signIn('admin', PASSWORDS.admin);
    const post = (await sut.request('GET', `/posts/${postId}`)).body;
    expect(post).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(post).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(post).toContain('&#39;&gt;&lt;svg onload=alert(3)&gt;');
    const queue = (await sut.request('GET', '/?status=all')).body;
    expect(queue).toContain('&lt;/textarea&gt;&lt;/title&gt;&lt;script&gt;alert(5)&lt;/script&gt;');
    const audit = (await sut.request('GET', '/audit')).body;
    expect(audit).toContain('mod&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
  });

  it('should serve booru strings in the JSON API as JSON, never as HTML', async () => {
    const sut = new Client(app);
    await sut.signIn('admin', PASSWORDS.admin);
    for (const url of app.dashboardRoutes.filter((r) => r.method === 'GET' && r.url.startsWith('/api/'))) {
      const response = await sut.request('GET', url.url.replace(/:(\w+)/g, String(postId)));
      expect(String(response.headers['content-type']), url.url).toMatch(/^application\/json/);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('should send a Content-Security-Policy that allows scripts from the dashboard itself only', async () => {
    const sut = new Client(app);
    await sut.signIn('admin', PASSWORDS.admin);
    const csp = String((await sut.request('GET', '/')).headers['content-security-policy']);
    const directives = new Map(
      csp.split(';').map((d): [string, string] => {
        const [name = '', ...values] = d.trim().split(/\s+/);
        return [name, values.join(' ')];
      }),
    );
    expect(directives.get('script-src')).toBe("'self'");
    expect(directives.get('script-src-attr')).toBe("'none'");
    expect(directives.get('object-src')).toBe("'none'");
    expect(directives.get('base-uri')).toBe("'self'");
  });

  it('should escape every payload in the HTML report downloaded from the dashboard', async () => {
    const sut = new Client(app);
    await sut.signIn('admin', PASSWORDS.admin);
    const response = await sut.request('GET', '/reports/download?format=html');
    if (response.statusCode === 404) return; // this checkout has no reports page; the rendered report is tested below
    expect(response.statusCode).toBe(200);
    expectNoRawMarkup(response.body, 'downloaded HTML report');
    expect(response.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('XSS in the HTML report (rendered from hostile rows)', () => {
  it('should escape tag names, reasons, booru and model names, and refuse javascript: links', () => {
    const model = assembleReport(hostileReportRows());
    const page = renderReport(model, 'html');
    expectNoRawMarkup(page, 'HTML report');
    expect(page).not.toMatch(/<a [^>]*href="(?!https?:|#)/i);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});
