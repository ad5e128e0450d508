/// <reference lib="dom" />
/**
 * The review dashboard in a real browser (playwright-core driving Debian's Chromium): sign in, review a post with
 * the keyboard alone, undo, bulk-approve in the tag grid, see the write-back outcome on the post page. Screenshots of
 * the main views go to test-artifacts/ (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../src/dashboard/app.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import { ApiTokenRepository } from '../../src/db/api-token.repository.js';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { aDraft, aPostUpsert } from '../helpers/factories.js';
import { makeSolidPng, type Rgb } from '../helpers/images.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { type LaunchedChromium, launchChromium } from '../helpers/browser.js';
import { dashboardRepos, storeDiff } from '../helpers/seed.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'dashboard');
const COLOURS: Rgb[] = [
  [230, 40, 40],
  [40, 160, 230],
  [240, 200, 40],
  [60, 200, 90],
  [150, 80, 220],
  [240, 240, 240],
];

describe('Dashboard in Chromium', () => {
  const database = useTestDatabase();
  let app: FastifyInstance;
  let base: string;
  let _browser: BrowserContext;
  let page: Page;
  let chrome: LaunchedChromium | undefined;
  let suggestions: SuggestionRepository;
  const postIds: number[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const { prisma } = database();
    suggestions = new SuggestionRepository(prisma);
    const booru = await new BooruRepository(prisma).ensure({
      name: 'danbooru.test',
      kind: 'danbooru',
      baseUrl: 'http://danbooru.test',
    });
    await new TagRepository(prisma).upsertTags(booru.id, [
      { name: '1girl', category: 0, postCount: 9, isDeprecated: false },
      { name: 'solo', category: 0, postCount: 9, isDeprecated: false },
      { name: 'hatsune_miku', category: 4, postCount: 9, isDeprecated: false },
      { name: 'vocaloid', category: 3, postCount: 9, isDeprecated: false },
      { name: 'some_artist', category: 1, postCount: 9, isDeprecated: false },
      { name: 'highres', category: 5, postCount: 9, isDeprecated: false },
    ]);
    const modelId = await new ModelRepository(prisma).ensure({
      name: 'wd-vit-tagger',
      version: 'v3',
      sha256: 'd'.repeat(64),
      family: 'wd',
      purpose: 'tags',
      labels: [],
      manifest: {},
    });
    const posts = new PostRepository(prisma);
    for (const [i, colour] of COLOURS.entries()) {
      const png = await makeSolidPng(240, 320, colour);
      const dataUrl = `data:image/png;base64,${png.toString('base64')}`;
      await posts.upsertMany(booru.id, [
        aPostUpsert({
          remoteId: 5001 + i,
          previewUrl: dataUrl,
          variants: [{ type: '720x720', url: dataUrl, width: 540, height: 720, ext: 'png' }],
          tags: ['1girl', 'solo', 'vocaloid', 'some_artist', 'highres', ...(i % 2 ? ['hatsune_miku'] : [])],
        }),
      ]);
      const post = (await posts.findByRemoteId(booru.id, 5001 + i))!;
      postIds.push(post.id);
      await storeDiff(database().prisma, {
        postId: post.id,
        modelId,
        tagsVersion: post.tagsVersion,
        drafts: [
          aDraft({
            tag: 'cat_ears',
            score: 0.95 - i * 0.08,
            reason: `score ${(0.95 - i * 0.08).toFixed(2)} ≥ 0.35 (general)`,
          }),
          aDraft({ tag: 'smile', score: 0.6 - i * 0.03 }),
          aDraft({ tag: 'solo', action: 'remove', score: 0.01, reason: 'score 0.010 ≤ 0.02; implied by nothing' }),
          ...(i === 0 ? [aDraft({ tag: '<script>alert(1)</script>', score: 0.4 })] : []),
        ],
      });
    }
    const users = new UserRepository(prisma);
    await users.create({ name: 'mod', role: 'moderator', passwordHash: await hashPassword('mod-password') });
    app = await buildDashboard({
      users,
      suggestions,
      ...dashboardRepos(prisma),
      apiTokens: new ApiTokenRepository(prisma),
      audit: new AuditRepository(prisma),
      logger: silentLogger,
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    chrome = await launchChromium({ viewport: { width: 1366, height: 900 } });
    _browser = chrome.context;
    page = chrome.page;
    page.on('dialog', () => {
      throw new Error('a script ran: something was not escaped');
    });
  }, 120_000);

  afterAll(async () => {
    await chrome?.close();
    await app?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
  const statusOf = (id: number) => page.locator(`li[data-id="${id}"]`).getAttribute('data-status');

  it('should sign in and land on the queue', async () => {
    await page.goto(`${base}/`);
    await expect.poll(() => page.url()).toContain('/login');
    await page.getByLabel('User name').fill('mod');
    await page.getByLabel('Password').fill('mod-password');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/`);
    expect(await page.title()).toMatch(/^Queue \(\d+ pending\)/);
    await shot('queue-1366');
  });

  it('should review a post with the keyboard alone, and undo', async () => {
    const rows = await suggestions.list({ status: 'pending', limit: 100, offset: 0 });
    const newest = postIds[postIds.length - 1]!;
    const ofPost = await page
      .locator(`#post-${newest} li[data-id]`)
      .evaluateAll((els) => els.map((el) => Number((el as HTMLElement).dataset['id'])));
    expect(ofPost.length).toBe(3);
    expect(rows.length).toBeGreaterThan(0);
    await page.keyboard.press('j');
    await expect.poll(() => page.locator('article.post.current').getAttribute('id')).toBe(`post-${newest}`);
    await page.keyboard.press('3'); // keep the removal pending
    await page.keyboard.press('a');
    await expect.poll(() => statusOf(ofPost[0]!)).toBe('approved');
    expect(await statusOf(ofPost[1]!)).toBe('approved');
    expect(await statusOf(ofPost[2]!)).toBe('pending');
    await page.keyboard.press('u');
    await expect.poll(() => statusOf(ofPost[0]!)).toBe('pending');
    const stored = await database().prisma.suggestion.findMany({ where: { id: { in: ofPost } } });
    expect(stored.every((s) => s.status === 'pending')).toBe(true);
    // Again, for real this time: focus is on the next post now; go back and approve.
    await page.keyboard.press('k');
    await page.keyboard.press('3');
    await page.keyboard.press('a');
    await expect.poll(() => statusOf(ofPost[0]!)).toBe('approved');
    await page.keyboard.press('?');
    await expect.poll(() => page.locator('dialog#help').evaluate((d) => (d as HTMLDialogElement).open)).toBe(true);
    await shot('keyboard-help');
    await page.keyboard.press('Escape');
    const audit = await database().prisma.decision.findMany({
      where: { suggestionId: ofPost[0]! },
      orderBy: { id: 'asc' },
    });
    expect(audit.map((a) => a.action)).toEqual(['approve', 'undo', 'approve']);
  });

  it('should bulk-approve a tag across posts in the grid', async () => {
    await page.goto(`${base}/tags`);
    await page.getByRole('link', { name: 'cat_ears' }).click();
    await page.waitForURL(/\/tags\/grid/);
    const pendingFigures = page.locator('figure[data-status="pending"]');
    const before = await pendingFigures.count();
    expect(before).toBe(COLOURS.length - 1); // the newest post's cat_ears was approved above
    await page.keyboard.press('*');
    await expect.poll(() => page.locator('[data-selected-count]').textContent()).toBe(`${before} selected`);
    await shot('tag-grid-selected');
    await page.keyboard.press('a');
    await expect.poll(() => pendingFigures.count()).toBe(0);
    expect(await database().prisma.suggestion.count({ where: { tag: 'cat_ears', status: 'approved' } })).toBe(
      COLOURS.length,
    );
  });

  it('should show the write-back outcome of each suggestion on the post page', async () => {
    const postId = postIds[0]!;
    const approved = await database().prisma.suggestion.findMany({ where: { postId, status: 'approved' } });
    // What the apply job records after writing back (the write itself is covered by test/e2e).
    await suggestions.recordApplyOutcomes({
      postId,
      edit: {
        oldTagString: '1girl solo',
        newTagString: '1girl solo cat_ears',
        resultTags: ['1girl', 'cat_ears', 'solo'],
        outcome: 'applied',
      },
      outcomes: approved.map((s) => ({ suggestionId: s.id, status: 'applied' as const, outcome: 'applied' })),
    });
    await page.goto(`${base}/posts/${postId}`);
    await expect.poll(() => page.locator('tr[data-status="applied"]').count()).toBe(approved.length);
    expect(await page.title()).toBe('Post #5001 (danbooru.test) · booru-tagger');
    expect(await page.content()).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    await shot('post-page');
  });

  it('should render the other views at 1366 px and at phone width', async () => {
    for (const [name, path] of [
      ['audit-log', '/audit'],
      ['status', '/status'],
      ['thresholds', '/thresholds'],
      ['tags-list', '/tags'],
    ] as const) {
      await page.goto(`${base}${path}`);
      await shot(name);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/?status=pending`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('queue-phone');
  });
});
