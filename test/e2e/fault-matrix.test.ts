/**
 * The fault matrix of issue 9 that the older fault tests (crawl-faults, danbooru-client, write-back-client,
 * media-corpus) did not cover, each fault a named test on real parts: the fake Danbooru on loopback, a real
 * PostgreSQL database, the real test model in onnxruntime-node, the real crawl, tag, re-scan and apply jobs.
 * docs/RELIABILITY.md lists every row with the test that backs it.
 */
import { TEST_MODEL_LABELS } from '../../src/tagger/test-model-spec.js';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BooruClient } from '../../src/booru/booru-client.js';
import { createBooruAdapter } from '../../src/booru/booru-factory.js';
import { BooruHttp } from '../../src/booru/http.js';
import { TagChangeBudget } from '../../src/booru/rate-limiter.js';
import { defaultDiffPolicy } from '../helpers/policy.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { CursorRepository } from '../../src/db/cursor.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { TaggingRepository } from '../../src/db/tagging.repository.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { FakeDialectServer } from '../helpers/fake-dialect.server.js';
import { OnnxTagger } from '../../src/tagger/onnx-tagger.js';
import { applyApproved } from '../../src/worker/apply-approved.job.js';
import { crawlNewPosts } from '../../src/worker/crawl-posts.job.js';
import { rescanChangedPosts } from '../../src/worker/rescan-posts.job.js';
import { runOnce } from '../../src/worker/run-once.js';
import { uniqueBaseUrl } from '../helpers/factories.js';
import { makeSolidPng, type Rgb } from '../helpers/images.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { storeDiff } from '../helpers/seed.js';
import { ensureTagModel, fastRetryHttp } from '../helpers/pipeline.js';

const MODEL_DIR = fileURLToPath(new URL('../../models/test-colors/', import.meta.url));
/** The edge-case media corpus (see test/e2e/media-corpus.test.ts); its test skips when ../shared is absent. */
const CORPUS = fileURLToPath(new URL('../../../shared/fixtures/media/', import.meta.url));
if (!existsSync(CORPUS)) console.warn(`[fault-matrix] corpus test skipped: ${CORPUS} is absent`);

async function corpusFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await corpusFiles(path)));
    else if (entry.isFile() && !/\.(tsv|md)$|LICENSE$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}
const RED: Rgb = [230, 20, 20];
const GREEN: Rgb = [20, 220, 30];
/** The media limit of these tests (the default is 50 MiB; the behaviour is the same at any size). */
const MAX_MEDIA_BYTES = 1024 * 1024;
/** Download deadline: generous, so a loaded machine does not fail ordinary downloads; the trickle test sets its own. */
const MEDIA_TIMEOUT_MS = 5_000;

describe('fault matrix', () => {
  const database = useTestDatabase();
  let tagger: OnnxTagger;
  let red: Buffer;
  let green: Buffer;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    tagger = await OnnxTagger.load(MODEL_DIR, { device: 'cpu', logger: silentLogger });
    red = await makeSolidPng(64, 64, RED);
    green = await makeSolidPng(64, 64, GREEN);
  });

  afterAll(async () => {
    await tagger?.close();
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  /** A started fake Danbooru with `ids` red posts (rating s: the model agrees) whose one suggestion is red_theme. */
  async function aBooru(ids: readonly number[]): Promise<FakeDanbooruServer> {
    const server = new FakeDanbooruServer();
    // The site has the tags the model suggests (each cycle syncs them before diffing).
    server.addTags(
      TEST_MODEL_LABELS.filter((l) => l.category !== 9).map((l) => ({ name: l.name, category: l.category })),
    );
    for (const id of ids) addRedPost(server, id);
    await server.start();
    closers.push(() => server.close());
    return server;
  }

  function addRedPost(server: FakeDanbooruServer, id: number): void {
    server.addPostWithMedia({ id, tag_string: '1girl solo', rating: 's', md5: `md5-${id}` }, [
      { type: 'original', ext: 'png', width: 64, height: 64, bytes: red },
    ]);
  }

  /** Repositories, a client with fast retries, and the booru and model rows, for `server`. */
  async function setup(server: FakeDanbooruServer, sut: OnnxTagger = tagger) {
    const prisma = database().prisma;
    const http = fastRetryHttp(server.url, 'fault-matrix test');
    closers.push(() => http.close());
    const booru: BooruClient = createBooruAdapter('danbooru', http, silentLogger);
    const repos = {
      posts: new PostRepository(prisma),
      cursors: new CursorRepository(prisma),
      suggestions: new SuggestionRepository(prisma),
      tags: new TagRepository(prisma),
      tagging: new TaggingRepository(prisma),
    };
    const stored = uniqueBaseUrl(server.url);
    const booruId = (await new BooruRepository(prisma).ensure({ name: stored, baseUrl: stored, kind: 'danbooru' })).id;
    const modelId = await ensureTagModel(prisma, tagger.model);
    const deps = { ...repos, booru, tagger: sut, logger: silentLogger };
    const crawl = (pageSize = 4) =>
      crawlNewPosts(deps, { booruId, minMediaSize: tagger.inputSize, maxPosts: 0, pageSize });
    const cycle = (maxAttempts = 2, timeoutMs = MEDIA_TIMEOUT_MS) =>
      runOnce(deps, {
        booruId,
        modelId,
        owner: 'fault-matrix',
        policy: defaultDiffPolicy(),
        syncMaxAgeMs: 0,
        batchSize: 4,
        leaseMs: 30_000,
        maxAttempts,
        maxMediaBytes: MAX_MEDIA_BYTES,
        timeoutMs,
        scoreFloor: 0.01,
        topK: 64,
        maxPosts: 0,
      });
    const rescan = () => rescanChangedPosts(deps, { booruId, minMediaSize: tagger.inputSize, windowMs: 3_600_000 });
    const postsByRemoteId = async () =>
      new Map(
        (
          await prisma.post.findMany({
            where: { booruId },
            include: { suggestions: { select: { tag: true, action: true, status: true }, orderBy: { id: 'asc' } } },
          })
        ).map((p) => [p.remoteId, p]),
      );
    return { ...deps, prisma, booruId, modelId, crawl, cycle, rescan, postsByRemoteId };
  }

  const mediaRequests = (server: FakeDanbooruServer, id: number) =>
    server.requests.filter((r) => r.path.startsWith('/media/') && r.path.includes(`/${id}.`)).length;

  describe('booru', () => {
    it('should retry a connection reset in the crawl and store every post', async () => {
      const server = await aBooru([1, 2, 3, 4, 5, 6]);
      const ctx = await setup(server);
      server.failNext(1, 'reset', { path: '/posts.json' });
      expect(await ctx.crawl()).toMatchObject({ seen: 6, cursor: 6, interrupted: null });
      expect([...(await ctx.postsByRemoteId()).keys()].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('should retry an HTML 502 error page and an HTML maintenance page served with 200', async () => {
      const server = await aBooru([1, 2, 3, 4, 5, 6]);
      const ctx = await setup(server);
      server.failNext(1, 'html502', { path: '/posts.json' });
      expect(await ctx.crawl()).toMatchObject({ seen: 6, cursor: 6, interrupted: null });
      addRedPost(server, 7);
      server.failNext(1, 'html200', { path: '/posts.json' });
      expect(await ctx.crawl()).toMatchObject({ seen: 1, cursor: 7, interrupted: null });
      expect((await ctx.postsByRemoteId()).size).toBe(7);
    });

    it('should stop a crawl at a page that repeats the previous one, and continue from the cursor next run', async () => {
      const server = await aBooru([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const ctx = await setup(server);
      await crawlNewPosts(ctx, { booruId: ctx.booruId, minMediaSize: tagger.inputSize, maxPosts: 4, pageSize: 4 });
      server.failNext(1, 'repeat', { path: '/posts.json' });
      // The stale page lists only posts at or below the cursor: nothing new, nothing stored twice, cursor kept.
      expect(await ctx.crawl()).toMatchObject({ seen: 0, cursor: 4, interrupted: null });
      expect(await ctx.crawl()).toMatchObject({ seen: 6, cursor: 10 });
      expect([...(await ctx.postsByRemoteId()).keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('should pick up a post a listing skipped with the next re-scan (Danbooru, e621)', async () => {
      const server = await aBooru([1, 2, 3, 4, 5, 6]);
      const ctx = await setup(server);
      server.failNext(1, 'skip', { path: '/posts.json' });
      expect(await ctx.crawl()).toMatchObject({ seen: 5, cursor: 6 });
      expect((await ctx.postsByRemoteId()).has(2)).toBe(false);
      // The cursor is past it, so the crawl will not list it again; the re-scan lists recent changes, new posts too.
      await ctx.rescan();
      const post = (await ctx.postsByRemoteId()).get(2);
      expect(post).toMatchObject({ state: 'new', skipReason: null });
      expect((await ctx.cycle()).tag.tagged).toBe(6);
    });

    // Moebooru lists posts by change, so its re-scan recovers such a post, as Danbooru's does (above).
    for (const dialect of ['gelbooru'] as const) {
      it(`should store a post a listing skipped from the window below the cursor (${dialect})`, async () => {
        const server = new FakeDialectServer(dialect);
        server.addPosts([1, 3, 4].map((id) => ({ id, tag_string: 'solo' })));
        await server.start();
        closers.push(() => server.close());
        const prisma = database().prisma;
        const http = new BooruHttp({ baseUrl: server.url, userAgent: 'booru-tagger/0.1 (fault-matrix test)' });
        closers.push(() => http.close());
        const booru = createBooruAdapter(dialect, http, silentLogger);
        const stored = uniqueBaseUrl(server.url);
        const booruId = (await new BooruRepository(prisma).ensure({ name: stored, baseUrl: stored, kind: dialect })).id;
        const deps = { booru, posts: new PostRepository(prisma), cursors: new CursorRepository(prisma) };
        const crawl = () =>
          crawlNewPosts({ ...deps, logger: silentLogger }, { booruId, minMediaSize: 1, maxPosts: 0, pageSize: 2 });
        expect(await crawl()).toMatchObject({ seen: 3, cursor: 4, recovered: 0 });
        // Post 2 commits after 3 and 4 were listed: the cursor is already past it.
        server.addPosts([{ id: 2, tag_string: 'late' }]);
        expect(await crawl()).toMatchObject({ seen: 0, cursor: 4, recovered: 1 });
        expect(await crawl()).toMatchObject({ seen: 0, recovered: 0 });
        const rows = await prisma.post.findMany({ where: { booruId }, orderBy: { remoteId: 'asc' } });
        expect(rows.map((r) => [r.remoteId, r.tags])).toEqual([
          [1, ['solo']],
          [2, ['late']],
          [3, ['solo']],
          [4, ['solo']],
        ]);
      });
    }

    it('should record a post deleted between listing and download as failed with the reason, not retry it', async () => {
      const server = await aBooru([1, 2, 3]);
      const ctx = await setup(server);
      await ctx.crawl();
      // Expunged after the crawl: flagged deleted, its file gone.
      server.addPosts([{ ...server.getPost(2)!, is_deleted: true }]);
      server.removeMedia('original/2.png');
      const summary = await ctx.cycle(5);
      expect(summary.tag).toMatchObject({ tagged: 2, failed: 1, retried: 0 });
      const posts = await ctx.postsByRemoteId();
      expect(posts.get(2)).toMatchObject({ state: 'failed', suggestions: [], leaseOwner: null });
      expect(posts.get(2)?.lastError).toMatch(/^MEDIA_FETCH: media download failed/);
      expect(mediaRequests(server, 2)).toBe(1);
      // The next re-scan records why: the post is deleted.
      await ctx.rescan();
      expect((await ctx.postsByRemoteId()).get(2)).toMatchObject({ state: 'failed', isDeleted: true });
    });

    it('should score a post again when its file is replaced (changed md5), superseding the old suggestion', async () => {
      const server = await aBooru([1, 2]);
      const ctx = await setup(server);
      expect((await ctx.cycle()).tag.tagged).toBe(2);
      expect((await ctx.postsByRemoteId()).get(1)?.suggestions).toEqual([
        { tag: 'red_theme', action: 'add', status: 'pending' },
      ]);
      // Danbooru's media replacement: same post, new file, new md5.
      server.addPostWithMedia({ id: 1, tag_string: '1girl solo', rating: 'g', md5: 'md5-1-replaced' }, [
        { type: 'original', ext: 'png', width: 64, height: 64, bytes: green },
      ]);
      await ctx.rescan();
      expect((await ctx.postsByRemoteId()).get(1)).toMatchObject({ md5: 'md5-1-replaced', state: 'new' });
      expect((await ctx.cycle()).tag.tagged).toBe(1);
      const post = (await ctx.postsByRemoteId()).get(1)!;
      expect(post.state).toBe('tagged');
      expect(post.suggestions).toEqual([
        { tag: 'red_theme', action: 'add', status: 'superseded' },
        { tag: 'green_theme', action: 'add', status: 'pending' },
      ]);
      expect((await ctx.postsByRemoteId()).get(2)?.suggestions).toHaveLength(1);
    });
  });

  describe('media', () => {
    it.skipIf(!existsSync(CORPUS))(
      'should account for every file of the edge-case corpus through the worker, each with a reason',
      {
        timeout: 180_000,
      },
      async () => {
        const files = await corpusFiles(CORPUS);
        expect(files.length).toBeGreaterThan(140);
        const server = new FakeDanbooruServer();
        for (const [index, file] of files.entries()) {
          const ext = /\.([a-z0-9]+)$/i.exec(file)?.[1]?.toLowerCase() ?? 'bin';
          const url = server.addMedia(`corpus/${index + 1}.${ext}`, await readFile(file));
          server.addPosts([
            { id: index + 1, tag_string: 'solo', md5: `corpus-${index + 1}`, file_ext: ext, file_url: url },
          ]);
        }
        await server.start();
        closers.push(() => server.close());
        const ctx = await setup(server);
        const summary = await ctx.cycle(1);
        const posts = [...(await ctx.postsByRemoteId()).values()];
        expect(posts).toHaveLength(files.length);
        const unaccounted = posts.filter(
          (p) =>
            p.leaseOwner !== null ||
            !['tagged', 'failed', 'skipped'].includes(p.state) ||
            (p.state !== 'tagged' && !(p.skipReason ?? p.lastError)),
        );
        expect(unaccounted.map((p) => `${relative(CORPUS, files[p.remoteId - 1]!)}: ${p.state}`)).toEqual([]);
        const byState = Object.fromEntries(
          ['tagged', 'failed', 'skipped'].map((s) => [s, posts.filter((p) => p.state === s).length]),
        );
        expect(byState['tagged']).toBeGreaterThan(50);
        // Nothing Danbooru finds corrupt is tagged (AVIF sequences aside: corrupt *and* unsupported there, see
        // media-corpus.test.ts).
        const corrupt = new Set<string>();
        for (const line of (await readFile(join(CORPUS, 'danbooru_EXPECTED.tsv'), 'utf8')).split('\n')) {
          const [path, , , , mime, isCorrupt, supported] = line.split('\t');
          if (path?.startsWith('media/') && mime?.startsWith('image/') && isCorrupt === 'true' && supported === 'true')
            corrupt.add(path.slice('media/'.length));
        }
        expect(corrupt.size).toBeGreaterThan(0);
        const taggedCorrupt = posts.filter(
          (p) => p.state === 'tagged' && corrupt.has(relative(CORPUS, files[p.remoteId - 1]!)),
        );
        expect(taggedCorrupt.map((p) => p.remoteId)).toEqual([]);
        expect(summary.tag.tagged).toBe(byState['tagged']);
        console.info(`[fault-matrix] corpus through the worker: ${JSON.stringify(byState)} of ${files.length} files`);
      },
    );

    it('should retry a connection reset during a download and tag the post', async () => {
      const server = await aBooru([1, 2, 3]);
      const ctx = await setup(server);
      server.failNext(1, 'reset', { path: '/media/original/2.png' });
      expect((await ctx.cycle()).tag).toMatchObject({ tagged: 3, failed: 0 });
      expect(mediaRequests(server, 2)).toBe(2);
    });

    it('should fail a file larger than the limit as MEDIA_TOO_LARGE once, and tag the rest', async () => {
      const server = await aBooru([1, 3]);
      server.addPostWithMedia({ id: 2, tag_string: 'solo', md5: 'md5-2' }, [
        { type: 'original', ext: 'png', width: 64, height: 64, bytes: Buffer.alloc(2 * MAX_MEDIA_BYTES, 1) },
      ]);
      const ctx = await setup(server);
      expect((await ctx.cycle(5)).tag).toMatchObject({ tagged: 2, failed: 1, retried: 0 });
      expect((await ctx.postsByRemoteId()).get(2)?.lastError).toMatch(/^MEDIA_TOO_LARGE: .*\(2097152\)/);
      expect(mediaRequests(server, 2)).toBe(1);
    });

    it('should refuse a declared 10 GiB file from its Content-Length without reading it', async () => {
      const server = await aBooru([1]);
      const url = server.addStreamedMedia('huge/2.png', {
        chunkBytes: 65_536,
        intervalMs: 5,
        declaredLength: 10 * 1024 ** 3,
      });
      server.addPosts([{ id: 2, tag_string: 'solo', md5: 'md5-2', file_ext: 'png', file_url: url }]);
      const ctx = await setup(server);
      const started = performance.now();
      expect((await ctx.cycle(5)).tag).toMatchObject({ tagged: 1, failed: 1 });
      expect(performance.now() - started).toBeLessThan(5_000);
      expect((await ctx.postsByRemoteId()).get(2)?.lastError).toMatch(/^MEDIA_TOO_LARGE: .*\(10737418240\)/);
    });

    it('should abort an endless stream past the size limit', async () => {
      const server = await aBooru([1]);
      const url = server.addStreamedMedia('endless/2.png', { chunkBytes: 65_536, intervalMs: 1 });
      server.addPosts([{ id: 2, tag_string: 'solo', md5: 'md5-2', file_ext: 'png', file_url: url }]);
      const ctx = await setup(server);
      expect((await ctx.cycle(5)).tag).toMatchObject({ tagged: 1, failed: 1 });
      expect((await ctx.postsByRemoteId()).get(2)?.lastError).toMatch(/^MEDIA_TOO_LARGE: media larger than 1048576/);
    });

    it('should refuse an image of more pixels than the limit (a decompression bomb, square or strip) from its header', async () => {
      const strict = await OnnxTagger.load(MODEL_DIR, { device: 'cpu', logger: silentLogger, maxPixels: 1_000_000 });
      closers.push(() => strict.close());
      const server = await aBooru([1]);
      // 4 megapixels of one colour: a few kilobytes on the wire, 12 MB once decoded.
      const bomb = await makeSolidPng(2000, 2000, RED);
      expect(bomb.length).toBeLessThan(64 * 1024);
      server.addPostWithMedia({ id: 2, tag_string: 'solo', rating: 's', md5: 'md5-2' }, [
        { type: 'original', ext: 'png', width: 2000, height: 2000, bytes: bomb },
      ]);
      // The same bomb as a long strip (the shape that once padded to a side² square): refused from its header too.
      const strip = await makeSolidPng(10_000, 120, RED);
      server.addPostWithMedia({ id: 3, tag_string: 'solo', rating: 's', md5: 'md5-3' }, [
        { type: 'original', ext: 'png', width: 10_000, height: 120, bytes: strip },
      ]);
      const ctx = await setup(server, strict);
      expect((await ctx.cycle(5)).tag).toMatchObject({ tagged: 1, failed: 2, retried: 0 });
      const posts = await ctx.postsByRemoteId();
      expect(posts.get(2)?.lastError).toMatch(/^MEDIA_TOO_LARGE: .*pixel limit/);
      expect(posts.get(3)?.lastError).toMatch(/^MEDIA_TOO_LARGE: .*pixel/);
    });

    it('should time out an endless trickle, retry it a bounded number of times, then fail it', async () => {
      const server = await aBooru([1]);
      const url = server.addStreamedMedia('trickle/2.png', { chunkBytes: 16, intervalMs: 50 });
      server.addPosts([{ id: 2, tag_string: 'solo', md5: 'md5-2', file_ext: 'png', file_url: url }]);
      const ctx = await setup(server);
      const started = performance.now();
      expect((await ctx.cycle(2, 400)).tag).toMatchObject({ tagged: 1, failed: 1, retried: 1 });
      expect(performance.now() - started).toBeLessThan(10_000);
      const post = (await ctx.postsByRemoteId()).get(2)!;
      expect(post).toMatchObject({ state: 'failed', attempts: 2, leaseOwner: null });
      expect(post.lastError).toMatch(/^MEDIA_FETCH: timed out/);
      // Two attempts of the post, each a try and one retry of the download.
      expect(mediaRequests(server, 2)).toBe(4);
    });
  });

  describe('write-back', () => {
    it('should merge a human edit, record a partial refusal and stop at the spent budget, losing and adding nothing', async () => {
      const server = new FakeDanbooruServer();
      server.addPosts([
        { id: 1, tag_string: '1girl solo', file_url: 'https://cdn.donmai.us/1.jpg' },
        { id: 2, tag_string: 'animal_ears cat_ears solo', file_url: 'https://cdn.donmai.us/2.jpg' },
        { id: 3, tag_string: 'solo', file_url: 'https://cdn.donmai.us/3.jpg' },
        { id: 4, tag_string: 'solo', file_url: 'https://cdn.donmai.us/4.jpg' },
      ]);
      server.setImplications({ cat_ears: ['animal_ears'] });
      await server.start();
      closers.push(() => server.close());
      const ctx = await setup(server);
      await ctx.tags.upsertRelations(ctx.booruId, 'implication', [
        { antecedent: 'cat_ears', consequent: 'animal_ears', status: 'active' },
      ]);
      await ctx.crawl();
      const approve = async (remoteId: number, drafts: { tag: string; action: 'add' | 'remove' }[]) => {
        const post = (await ctx.posts.findByRemoteId(ctx.booruId, remoteId))!;
        await storeDiff(database().prisma, {
          postId: post.id,
          modelId: ctx.modelId,
          tagsVersion: post.tagsVersion,
          drafts: drafts.map((d) => ({ ...d, category: 0, score: d.action === 'add' ? 0.9 : 0.01, reason: 'test' })),
        });
      };
      await approve(1, [{ tag: 'hat', action: 'add' }]);
      await approve(2, [
        { tag: 'animal_ears', action: 'remove' },
        { tag: 'hat', action: 'add' },
      ]);
      await approve(3, [
        { tag: 'hat', action: 'add' },
        { tag: 'scarf', action: 'add' },
      ]);
      await approve(4, [{ tag: 'scarf', action: 'add' }]);
      await ctx.suggestions.decideAll({ verdict: 'approve', user: { id: null, name: 'mod' }, origin: 'test' });
      // Between the diff and the apply a human edits post 1.
      server.editAsHuman(1, { add: ['smile'], remove: ['solo'] });

      // Budget: 3 tag changes. Post 1 (1) and post 2 (2) go out; post 3 (2) would overdraw it, so 3 and 4 wait.
      const first = await applyApproved(
        { ...ctx, budget: new TagChangeBudget(3) },
        { booruId: ctx.booruId, maxBudgetWaitMs: 0 },
      );
      expect(first).toMatchObject({ posts: 2, applied: 2, refused: 1, failed: 0, budgetDeferred: 3 });
      expect(server.getPost(1)?.tag_string).toBe('1girl hat smile');
      expect(server.getPost(2)?.tag_string).toBe('animal_ears cat_ears hat solo');
      expect(server.getPost(3)?.tag_string).toBe('solo');
      expect(server.requests.filter((r) => r.method === 'PUT').map((r) => r.path)).toEqual([
        '/posts/1.json',
        '/posts/2.json',
      ]);
      const outcomes = async () =>
        (
          await ctx.prisma.suggestion.findMany({
            where: { post: { booruId: ctx.booruId } },
            select: { tag: true, action: true, status: true, applyOutcome: true, post: { select: { remoteId: true } } },
            orderBy: { id: 'asc' },
          })
        ).map((s) => `${s.post.remoteId} ${s.action} ${s.tag}: ${s.status}/${s.applyOutcome ?? '-'}`);
      expect(await outcomes()).toEqual([
        '1 add hat: applied/applied',
        '2 remove animal_ears: failed/refused_implied',
        '2 add hat: applied/applied',
        '3 add hat: approved/-',
        '3 add scarf: approved/-',
        '4 add scarf: approved/-',
      ]);
      expect(await ctx.prisma.tagEdit.count({ where: { post: { booruId: ctx.booruId } } })).toBe(2);

      const next = await applyApproved({ ...ctx, budget: new TagChangeBudget(3) }, { booruId: ctx.booruId });
      expect(next).toMatchObject({ applied: 3, budgetDeferred: 0 });
      expect(server.getPost(3)?.tag_string).toBe('hat scarf solo');
      expect(server.getPost(4)?.tag_string).toBe('scarf solo');
      expect((await outcomes()).slice(3)).toEqual([
        '3 add hat: applied/applied',
        '3 add scarf: applied/applied',
        '4 add scarf: applied/applied',
      ]);
      // The post a human edited and the one partly refused were not written again.
      expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(4);
    });

    it('should leave an edit the booru saved but the database failed to record approved, and record it next run without a second write', async () => {
      const server = new FakeDanbooruServer();
      server.addPosts([{ id: 1, tag_string: 'solo', file_url: 'https://cdn.donmai.us/1.jpg' }]);
      await server.start();
      closers.push(() => server.close());
      const ctx = await setup(server);
      await ctx.crawl();
      const post = (await ctx.posts.findByRemoteId(ctx.booruId, 1))!;
      await storeDiff(database().prisma, {
        postId: post.id,
        modelId: ctx.modelId,
        tagsVersion: post.tagsVersion,
        drafts: [{ tag: 'hat', action: 'add', category: 0, score: 0.9, reason: 'test' }],
      });
      await ctx.suggestions.decideAll({ verdict: 'approve', user: { id: null, name: 'mod' }, origin: 'test' });
      // The database drops the connection once, right after the booru saved the edit.
      let failures = 1;
      const flaky = Object.assign(Object.create(ctx.suggestions) as SuggestionRepository, {
        recordApplyOutcomes: (input: Parameters<SuggestionRepository['recordApplyOutcomes']>[0]) =>
          failures-- > 0
            ? Promise.reject(new Error('Connection terminated unexpectedly'))
            : ctx.suggestions.recordApplyOutcomes(input),
      });
      const first = await applyApproved({ ...ctx, suggestions: flaky }, { booruId: ctx.booruId });
      expect(first).toMatchObject({ failed: 0, deferred: 1 });
      expect(server.getPost(1)?.tag_string).toBe('hat solo');
      const status = async () =>
        ctx.prisma.suggestion.findFirst({ where: { postId: post.id }, select: { status: true, applyOutcome: true } });
      expect(await status()).toEqual({ status: 'approved', applyOutcome: null });

      const next = await applyApproved(ctx, { booruId: ctx.booruId });
      expect(next).toMatchObject({ alreadyApplied: 1, failed: 0 });
      expect(await status()).toEqual({ status: 'already_applied', applyOutcome: 'already_applied' });
      expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
      expect(server.getPost(1)?.tag_string).toBe('hat solo');
    });
  });
});
