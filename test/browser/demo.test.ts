/// <reference lib="dom" />
/**
 * What a newcomer sees first: `booru-tagger demo` serving its dashboard, opened in Chromium. The demo booru's tag list
 * is synced before tagging, so the queue groups every post's tags by category with Danbooru's colours (no "category
 * not synced" group). Every main view passes axe-core's colour-contrast rule (and its other WCAG 2 AA rules) with no
 * serious or critical violation.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, waitFor } from '../helpers/cli-process.js';
import { type LaunchedChromium, launchChromium } from '../helpers/browser.js';

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** axe-core's WCAG 2 A/AA rules on the page as it is now; only serious and critical findings. */
async function seriousViolations(page: Page, axeSource: string): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP (scripts from self only) does not apply to it.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<unknown> } }).axe;
    const result = (await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] },
    })) as { violations: AxeViolation[] };
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe('the demo in Chromium', () => {
  let dataDir = '';
  let demo: ReturnType<typeof spawnCli> | undefined;
  let chrome: LaunchedChromium | undefined;
  let base = '';
  let password = '';
  let axeSource = '';

  beforeAll(async () => {
    axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    dataDir = await mkdtemp(join(tmpdir(), 'booru-tagger-demo-ui-'));
    demo = spawnCli(['demo'], {
      PATH: process.env['PATH'],
      TAGGER_DATA_DIR: dataDir,
      DEVICE: 'cpu',
      PORT: String(await freePort()),
    });
    let stdout = '';
    demo.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    await waitFor(
      async () => {
        if (demo!.exitCode !== null) throw new Error(`demo exited: ${demo!.stderrText()}`);
        return /login\s+demo \/ \S+/.test(stdout);
      },
      { timeoutMs: 150_000, intervalMs: 200, what: 'the demo dashboard' },
    );
    base = /dashboard\s+(http:\S+?)\/?\n/.exec(stdout)![1]!;
    password = /login\s+demo \/ (\S+)/.exec(stdout)![1]!;
    chrome = await launchChromium({ viewport: { width: 1366, height: 900 } });
  }, 180_000);

  afterAll(async () => {
    await chrome?.close();
    demo?.kill('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('should show the queue with tag categories, and pass the contrast check on every main view', {
    timeout: 120_000,
  }, async () => {
    const page = chrome!.page;
    await page.goto(`${base}/`);
    await expect.poll(() => page.url()).toContain('/login');
    expect(await seriousViolations(page, axeSource), 'login page').toEqual([]);
    await page.getByLabel('User name').fill('demo');
    await page.getByLabel('Password').fill(password);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/`);

    const groups = await page.locator('.tag-group h3').allTextContents();
    expect(groups.length).toBeGreaterThan(0);
    expect(groups.map((g) => g.toLowerCase())).not.toContain('tags (category not synced)');
    expect(groups.map((g) => g.toLowerCase())).toEqual(expect.arrayContaining(['general', 'meta', 'character']));
    expect(await page.locator('.tag-group li.tag--1').count()).toBe(0);
    // Danbooru's colours: meta tags orange-ish, general blue-ish, as the site shows them.
    const colourOf = (name: string) =>
      page
        .locator('.tag-group li', { hasText: new RegExp(`^${name}$`) })
        .first()
        .evaluate((el) => getComputedStyle(el).color);
    expect(await colourOf('highres')).not.toBe(await colourOf('1girl'));

    for (const path of ['/', '/tags', '/status', '/audit', '/thresholds', '/reports', '/account', '/upload']) {
      await page.goto(`${base}${path}`);
      expect(await seriousViolations(page, axeSource), path).toEqual([]);
    }
    const postLink = page.locator('a[href^="/posts/"]').first();
    await page.goto(`${base}/`);
    await postLink.click();
    await page.waitForURL(/\/posts\/\d+/);
    expect(await seriousViolations(page, axeSource), 'post page').toEqual([]);
  });
});
