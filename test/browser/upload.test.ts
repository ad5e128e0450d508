/// <reference lib="dom" />
/**
 * The upload page in a real browser (playwright-core driving Debian's Chromium): choose, drop or paste an image, or
 * give a URL on the booru's host, and read the tags by category with score bars, the rating, and the diff against a
 * known post. The model is the real test model behind the inference batcher; URLs go through the real booru client.
 * Screenshots go to test-artifacts/upload/ (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBooruClientFor } from '../../src/booru/booru-factory.js';
import { BooruHttp } from '../../src/booru/http.js';
import { policyOf } from '../../src/bin/context.js';
import { knownPostDiffer } from '../../src/bin/evaluate-deps.js';
import { loadConfig } from '../../src/config/config.js';
import { buildDashboard } from '../../src/dashboard/app.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import { ApiTokenRepository } from '../../src/db/api-token.repository.js';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { InferenceBatcher } from '../../src/tagger/inference-batcher.js';
import { OnnxTagger } from '../../src/tagger/onnx-tagger.js';
import { aPostUpsert } from '../helpers/factories.js';
import { makeSolidPng } from '../helpers/images.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { type LaunchedChromium, launchChromium } from '../helpers/browser.js';
import { dashboardRepos } from '../helpers/seed.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'upload');

describe('Upload page in Chromium', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;
  let app: FastifyInstance;
  let base: string;
  let _browser: BrowserContext;
  let page: Page;
  let chrome: LaunchedChromium | undefined;
  let batcher: InferenceBatcher;
  let http: BooruHttp;
  let aqua: Buffer;
  let red: Buffer;
  let knownPostId: number;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    aqua = await makeSolidPng(256, 256, [10, 230, 240]);
    red = await makeSolidPng(256, 256, [230, 20, 20]);
    booru.addMedia('/media/red.png', red, 'image/png');
    started = await booru.start();
    const { prisma } = database();
    const booruRow = await new BooruRepository(prisma).ensure({
      name: 'danbooru.test',
      kind: 'danbooru',
      baseUrl: started.url,
    });
    const posts = new PostRepository(prisma);
    // The aqua image is a known post whose tags miss the character and carry a wrong colour.
    await posts.upsertMany(booruRow.id, [
      aPostUpsert({
        remoteId: 777,
        md5: createHash('md5').update(aqua).digest('hex'),
        rating: 's',
        tags: ['1girl', 'aqua_theme', 'red_theme', 'solo'],
      }),
    ]);
    knownPostId = (await posts.findByRemoteId(booruRow.id, 777))!.id;
    const users = new UserRepository(prisma);
    await users.create({ name: 'viewer', role: 'viewer', passwordHash: await hashPassword('viewer-password') });
    batcher = new InferenceBatcher(
      await OnnxTagger.load(join(process.cwd(), 'models', 'test-colors'), { device: 'cpu', logger: silentLogger }),
      { windowMs: 5 },
    );
    http = new BooruHttp({ baseUrl: started.url, userAgent: 'booru-tagger-test/1.0', logger: silentLogger });
    const client = createBooruClientFor('danbooru', http, silentLogger);
    app = await buildDashboard({
      users,
      suggestions: new SuggestionRepository(prisma),
      ...dashboardRepos(prisma),
      apiTokens: new ApiTokenRepository(prisma),
      audit: new AuditRepository(prisma),
      logger: silentLogger,
      evaluate: {
        model: async () => batcher,
        open: false,
        maxFileBytes: 1024 * 1024,
        maxFiles: 4,
        ratePerMinute: 0,
        fetchImage: (url) => client.downloadMedia(url, { maxBytes: 1024 * 1024, timeoutMs: 10_000 }),
        findPostByMd5: (hash) => posts.findByMd5(hash),
        // The queue's own diff, wired as the service wires it.
        diffKnownPost: knownPostDiffer(
          { tags: new TagRepository(prisma) },
          {
            labels: async () => batcher.labels,
            policy: async () => policyOf(loadConfig({}), batcher.model),
            syncMaxAgeMs: 0,
            ratingByModel: false,
          },
        ),
      },
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    chrome = await launchChromium({ viewport: { width: 1280, height: 900 } });
    _browser = chrome.context;
    page = chrome.page;
    page.on('dialog', () => {
      throw new Error('a script ran: something was not escaped');
    });
  }, 120_000);

  afterAll(async () => {
    await chrome?.close();
    await app?.close();
    await batcher?.close();
    await http?.close();
    await started?.close();
  });

  const result = () => page.locator('#upload-result');
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  /** Names listed under the heading that starts with `heading` inside the result. */
  const tagsUnder = (heading: string) =>
    result().locator(`h3:has-text("${heading}") + ul li span[class^="tag-"]`).allTextContents();

  it('should sign in and reach the upload page from the navigation', async () => {
    await page.goto(`${base}/upload`);
    await expect.poll(() => page.url()).toContain('/login');
    await page.getByLabel('User name').fill('viewer');
    await page.getByLabel('Password').fill('viewer-password');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/upload`);
    expect(await page.getByRole('link', { name: 'Tag an image' }).getAttribute('aria-current')).toBe('page');
    expect(await page.title()).toMatch(/^Tag an image/);
  });

  it('should tag a chosen file: tags by category with score bars, the rating, and the known post’s diff', async () => {
    await page.locator('#upload-file').setInputFiles({ name: 'aqua.png', mimeType: 'image/png', buffer: aqua });
    await expect.poll(() => result().locator('.upload-result').count()).toBe(1);
    expect(await result().locator('h2').first().textContent()).toContain('aqua.png');
    expect(await result().locator('[data-rating]').getAttribute('data-rating')).toBe('rating:g');
    expect(await tagsUnder('character')).toEqual(['hatsune_miku']);
    expect(await tagsUnder('general')).toContain('aqua_theme');
    expect(await result().locator('.score .bar').count()).toBeGreaterThan(4);
    const known = result().locator('.known-post');
    expect(await known.locator('a').getAttribute('href')).toBe(`/posts/${knownPostId}`);
    expect(await tagsUnder('The model would add')).toEqual(['hatsune_miku']);
    expect(await tagsUnder('The model would remove')).toEqual(['red_theme']);
    expect(await tagsUnder('Agrees with')).toEqual(['aqua_theme']);
    expect(await known.textContent()).toContain('the post says sensitive, the model general');
    expect(await page.locator('#upload-preview').isVisible()).toBe(true);
    await shot('chosen-known-post');
  });

  it('should tag a dropped image', async () => {
    await page.evaluate(
      (bytes) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' }));
        const drop = document.getElementById('drop')!;
        drop.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
        drop.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      },
      [...red],
    );
    await expect.poll(() => result().locator('h2').first().textContent()).toContain('dropped.png');
    expect(await tagsUnder('general')).toContain('red_theme');
    expect(await result().textContent()).toContain('No post in the database has this image’s md5.');
  });

  it('should tag a pasted image', async () => {
    await page.evaluate(
      (bytes) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], 'pasted.png', { type: 'image/png' }));
        document.body.dispatchEvent(
          new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }),
        );
      },
      [...aqua],
    );
    await expect.poll(() => result().locator('h2').first().textContent()).toContain('pasted.png');
    expect(await tagsUnder('character')).toEqual(['hatsune_miku']);
  });

  it('should tag an image URL on the booru’s host, and refuse one elsewhere', async () => {
    await page.locator('#upload-url').fill(`${started.url}/media/red.png`);
    await page.getByRole('button', { name: 'Tag', exact: true }).click();
    await expect.poll(() => result().locator('h2').first().textContent()).toContain('red.png');
    expect(await tagsUnder('general')).toContain('red_theme');
    expect(await page.locator('#upload-preview').getAttribute('src')).toBe(`${started.url}/media/red.png`);
    await shot('url');
    await page.locator('#upload-url').fill('http://images.example.invalid/cat.png');
    await page.getByRole('button', { name: 'Tag', exact: true }).click();
    await expect.poll(() => result().locator('.error').count()).toBe(1);
    expect(await result().locator('.error').textContent()).toMatch(/not allowed/);
    await shot('url-refused');
  });

  it('should refuse a file that is not an image, with a message', async () => {
    await page.locator('#upload-url').fill('');
    await page
      .locator('#upload-file')
      .setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not an image at all') });
    await expect.poll(() => result().locator('.error').count()).toBe(1);
    expect(await result().locator('.error').textContent()).toMatch(/not an image/);
    await shot('not-an-image');
  });
});
