import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BooruError } from '../../src/booru/booru-error.js';
import { DanbooruClient } from '../../src/booru/danbooru.client.js';
import { BooruHttp, type BooruHttpOptions } from '../../src/booru/http.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { loadFixturePosts, mediaPathsOf } from '../helpers/fixture-posts.js';
import { createLogger } from '../../src/shared/logger.js';

const credentials = { login: 'tagger_bot', apiKey: 'sekrit-key' };
const logger = createLogger({ level: 'silent' });

async function rejection(promise: Promise<unknown>): Promise<BooruError> {
  try {
    await promise;
  } catch (thrown) {
    expect(thrown).toBeInstanceOf(BooruError);
    return thrown as BooruError;
  }
  throw new Error('expected a rejection');
}

describe('DanbooruClient', () => {
  let server: FakeDanbooruServer;
  let url: string;
  let http: BooruHttp;
  let sut: DanbooruClient;
  let sleeps: number[];

  function makeClient(overrides: Partial<BooruHttpOptions> = {}): DanbooruClient {
    void http?.close();
    http = new BooruHttp({
      baseUrl: url,
      userAgent: 'booru-tagger/0.1 (+tests)',
      credentials,
      headersTimeoutMs: 5_000,
      bodyTimeoutMs: 5_000,
      retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 4 },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      logger,
      ...overrides,
    });
    sut = new DanbooruClient(http, { logger });
    return sut;
  }

  beforeEach(async () => {
    sleeps = [];
    server = new FakeDanbooruServer({ credentials });
    ({ url } = await server.start());
    server.addPosts([
      { id: 1, tag_string: 'aaa bbb ccc' },
      { id: 3, tag_string: 'cat solo' },
      { id: 2, tag_string: 'dog' },
      { id: 5, tag_string: 'animal_ears cat_ears' },
      { id: 10, tag_string: 'tree', is_deleted: true },
    ]);
    makeClient();
  });

  afterEach(async () => {
    await http.close();
    await server.close();
  });

  describe('listPostsSince', () => {
    it('should list posts after the cursor in ascending id order with one search term', async () => {
      const { posts } = await sut.listPostsSince(1);
      expect(posts.map((p) => p.remoteId)).toEqual([2, 3, 5, 10]);
      expect(posts[3]?.isDeleted).toBe(true);
      const request = server.requests.at(-1)!;
      expect(request.query).toEqual({ tags: 'id:>1 order:id', limit: '200' });
    });

    it('should honour the limit (capped at 200)', async () => {
      expect((await sut.listPostsSince(0, 2)).posts.map((p) => p.remoteId)).toEqual([1, 2]);
      await sut.listPostsSince(0, 5000);
      expect(server.requests.at(-1)?.query['limit']).toBe('200');
    });

    it('should authenticate with Basic auth and a custom User-Agent, never query or body params', async () => {
      await sut.listPostsSince(0);
      const request = server.requests.at(-1)!;
      expect(request.headers['authorization']).toBe(`Basic ${Buffer.from('tagger_bot:sekrit-key').toString('base64')}`);
      expect(request.headers['user-agent']).toBe('booru-tagger/0.1 (+tests)');
      expect(JSON.stringify(request.query) + request.body).not.toContain('sekrit');
    });

    it('should return a malformed post as rejected by id, naming the bad field, and keep the others', async () => {
      server.addPosts([
        { id: 99, rating: 'x' },
        { id: 100, tag_string: 'ok' },
      ]);
      const page = await sut.listPostsSince(50);
      expect(page.posts.map((p) => p.remoteId)).toEqual([100]);
      expect(page.rejected).toHaveLength(1);
      expect(page.rejected[0]?.remoteId).toBe(99);
      expect(page.rejected[0]?.message).toMatch(/post 99 .*rating/);
    });
  });

  describe('listPostsSince (recorded fixtures)', () => {
    const fixtures = loadFixturePosts();
    it.skipIf(fixtures.length === 0)(
      'should serve and parse recorded Danbooru posts with media on the fake',
      async () => {
        server.addPosts(fixtures);
        const first = fixtures.find((p) => p['media_asset'])!;
        const path = mediaPathsOf(first).find((m) => m.includes('/360x360/'))!;
        server.addMedia(path, Buffer.from('jpeg bytes'), 'image/jpeg');

        const { posts } = await sut.listPostsSince(1000);
        expect(posts.map((p) => p.remoteId)).toEqual(fixtures.map((p) => p.id));
        const post = posts.find((p) => p.remoteId === first.id)!;
        const variant = post.variants.find((v) => v.type === '360x360')!;
        expect(variant.url).toBe(`${url}${path}`);
        expect((await sut.downloadMedia(variant.url, { maxBytes: 1000, timeoutMs: 2000 })).toString()).toBe(
          'jpeg bytes',
        );
      },
    );
  });

  describe('getPost', () => {
    it('should return the post', async () => {
      const post = await sut.getPost(3);
      expect(post).toMatchObject({ remoteId: 3, tags: ['cat', 'solo'], rating: 'g' });
      expect(post?.updatedAt).toBeInstanceOf(Date);
    });

    it('should return null for an unknown post', async () => {
      expect(await sut.getPost(404)).toBeNull();
    });
  });

  describe('updateTags', () => {
    it('should merge with a concurrent human edit exactly as Danbooru (BOORU-API §1.5)', async () => {
      const snapshot = ['aaa', 'bbb', 'ccc'];
      server.editAsHuman(1, { remove: ['ccc'], add: ['eee'] });

      const result = await sut.updateTags(1, { snapshot, add: ['ddd'], remove: [] });

      expect(result.after.tags).toEqual(['aaa', 'bbb', 'ddd', 'eee']);
      expect(server.getPost(1)?.tag_string).toBe('aaa bbb ddd eee');
      expect(result).toMatchObject({
        oldTagString: 'aaa bbb ccc',
        newTagString: 'aaa bbb ccc ddd',
        sent: true,
        saved: true,
      });
      expect(result.outcomes).toEqual([{ tag: 'ddd', action: 'add', outcome: 'applied', reason: expect.any(String) }]);
      const put = server.requests.find((r) => r.method === 'PUT')!;
      expect(Object.fromEntries(new URLSearchParams(put.body))).toEqual({
        'post[old_tag_string]': 'aaa bbb ccc',
        'post[tag_string]': 'aaa bbb ccc ddd',
      });
    });

    it('should remove tags and keep the human edits', async () => {
      server.editAsHuman(1, { add: ['zzz'] });
      const result = await sut.updateTags(1, { snapshot: ['aaa', 'bbb', 'ccc'], add: [], remove: ['bbb'] });
      expect(result.after.tags).toEqual(['aaa', 'ccc', 'zzz']);
      expect(result.outcomes[0]).toMatchObject({ tag: 'bbb', outcome: 'applied' });
    });

    it('should report an implied tag it could not remove as refused', async () => {
      server.setImplications({ cat_ears: ['animal_ears'] });
      const result = await sut.updateTags(5, {
        snapshot: ['animal_ears', 'cat_ears'],
        add: [],
        remove: ['animal_ears'],
      });
      expect(result.outcomes[0]).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/implied/) });
    });

    it('should report a deprecated tag it could not add as refused', async () => {
      server.addTags([{ name: 'old_name', isDeprecated: true }]);
      const result = await sut.updateTags(2, { snapshot: ['dog'], add: ['old_name'], remove: [] });
      expect(result.outcomes[0]).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/deprecated/) });
    });

    it('should detect HTTP 200 with nothing saved', async () => {
      server.failNext(1, 'unsaved', { method: 'PUT' });
      const result = await sut.updateTags(2, { snapshot: ['dog'], add: ['cat'], remove: [] });
      expect(result.saved).toBe(false);
      expect(result.outcomes[0]).toMatchObject({
        outcome: 'refused',
        reason: expect.stringMatching(/nothing was saved/),
      });
      expect(server.getPost(2)?.tag_string).toBe('dog');
    });

    it('should not write when every change is already in place', async () => {
      server.editAsHuman(2, { add: ['cat'] });
      const result = await sut.updateTags(2, { snapshot: ['dog'], add: ['cat'], remove: [] });
      expect(result.sent).toBe(false);
      expect(result.outcomes[0]).toMatchObject({ outcome: 'already_applied' });
      expect(server.requests.some((r) => r.method === 'PUT')).toBe(false);
    });

    it('should throw BOORU_NOT_FOUND for an unknown post', async () => {
      const error = await rejection(sut.updateTags(404, { snapshot: [], add: ['a'], remove: [] }));
      expect(error.code).toBe('BOORU_NOT_FOUND');
    });
  });

  describe('the fake server (faithfulness)', () => {
    it('should wipe the other tags on a bare tag_string without old_tag_string', async () => {
      await http.requestJson('PUT', '/posts/1.json', { form: { 'post[tag_string]': 'ddd -ccc' } });
      expect(server.getPost(1)?.tag_string).toBe('ddd');
    });

    it('should lose a concurrent human edit on a full tag_string without old_tag_string', async () => {
      server.editAsHuman(1, { remove: ['ccc'], add: ['eee'] });
      await http.requestJson('PUT', '/posts/1.json', { form: { 'post[tag_string]': 'aaa bbb ccc ddd' } });
      expect(server.getPost(1)?.tag_string).toBe('aaa bbb ccc ddd');
    });

    it('should return a[ID] pages sorted DESC, as Danbooru does', async () => {
      const page = (await http.getJson('/posts.json', { page: 'a1', limit: 2 })) as { id: number }[];
      expect(page.map((p) => p.id)).toEqual([3, 2]);
    });
  });

  describe('errors', () => {
    it('should map 401 to BOORU_AUTH without leaking the key', async () => {
      makeClient({ credentials: { login: 'tagger_bot', apiKey: 'wrong' } });
      const error = await rejection(sut.getPost(1));
      expect(error).toMatchObject({ code: 'BOORU_AUTH', status: 401, method: 'GET', retryable: false });
      expect(error.message).toMatch(/credentials rejected \(check BOORU_LOGIN \/ BOORU_API_KEY\)/);
      expect(error.message + error.url).not.toContain('wrong');
    });

    it('should map an HTML 403 to BOORU_BLOCKED', async () => {
      server.failNext(1, 'html403');
      const error = await rejection(sut.getPost(1));
      expect(error).toMatchObject({ code: 'BOORU_BLOCKED', status: 403 });
      expect(error.message).toMatch(/blocked by the site \(Cloudflare\?\): set a unique User-Agent/);
    });

    it('should map a JSON 403 to BOORU_FORBIDDEN', async () => {
      server.failNext(1, 403);
      expect((await rejection(sut.getPost(1))).code).toBe('BOORU_FORBIDDEN');
    });

    it('should retry a 500 and then succeed', async () => {
      server.failNext(1, 500);
      expect(await sut.getPost(3)).toMatchObject({ remoteId: 3 });
      expect(server.requests).toHaveLength(2);
      expect(sleeps).toHaveLength(1);
    });

    it('should give up after the configured retries with a retryable BOORU_HTTP', async () => {
      server.failNext(10, 503);
      const error = await rejection(sut.getPost(3));
      expect(error).toMatchObject({ code: 'BOORU_HTTP', status: 503, retryable: true });
      expect(server.requests).toHaveLength(3);
      expect(sleeps).toHaveLength(2);
      expect(sleeps[1]).toBeLessThanOrEqual(4);
    });

    it('should wait at least 35 s after a 429, then retry once', async () => {
      server.failNext(1, 429);
      expect(await sut.getPost(3)).toMatchObject({ remoteId: 3 });
      expect(sleeps).toHaveLength(1);
      expect(sleeps[0]).toBeGreaterThanOrEqual(35_000);
    });

    it('should throw a retryable BOORU_RATE_LIMITED when the 429s go on', async () => {
      server.failNext(5, 429);
      const error = await rejection(sut.getPost(3));
      expect(error).toMatchObject({ code: 'BOORU_RATE_LIMITED', retryable: true, status: 429 });
      expect(server.requests).toHaveLength(2);
    });

    it('should retry a read whose JSON is malformed, then fail with BOORU_BAD_RESPONSE', async () => {
      server.failNext(1, 'malformed');
      expect((await sut.listPostsSince(0)).posts).toHaveLength(5);
      server.failNext(5, 'malformed');
      const error = await rejection(sut.listPostsSince(0));
      expect(error).toMatchObject({ code: 'BOORU_BAD_RESPONSE', retryable: true });
      expect(error.message).toMatch(/malformed JSON/);
      expect(server.requests).toHaveLength(2 + 3);
    });

    it('should time out, retry, and fail with BOORU_TIMEOUT', async () => {
      makeClient({ headersTimeoutMs: 150, retry: { retries: 1, baseDelayMs: 1 } });
      server.failNext(5, 'timeout');
      const error = await rejection(sut.getPost(3));
      expect(error).toMatchObject({ code: 'BOORU_TIMEOUT', retryable: true, status: null });
      expect(server.requests).toHaveLength(2);
    });

    it('should retry a reset connection', async () => {
      server.failNext(1, 'reset');
      expect(await sut.getPost(3)).toMatchObject({ remoteId: 3 });
    });
  });

  describe('downloadMedia', () => {
    const bytes = Buffer.alloc(100_000, 7);

    it('should download media bytes', async () => {
      const path = server.addMedia('360x360/ab/cd/x.jpg', bytes, 'image/jpeg');
      expect(await sut.downloadMedia(`${url}${path}`, { maxBytes: 200_000, timeoutMs: 2_000 })).toEqual(bytes);
    });

    it('should refuse a declared Content-Length over the limit', async () => {
      const path = server.addMedia('original/big.png', bytes, 'image/png');
      const error = await rejection(sut.downloadMedia(`${url}${path}`, { maxBytes: 50_000, timeoutMs: 2_000 }));
      expect(error).toMatchObject({ code: 'MEDIA_TOO_LARGE', retryable: false });
    });

    it('should abort a streamed body past the limit', async () => {
      const path = server.addMedia('original/chunked.png', bytes, 'image/png', false);
      const error = await rejection(sut.downloadMedia(`${url}${path}`, { maxBytes: 50_000, timeoutMs: 2_000 }));
      expect(error.code).toBe('MEDIA_TOO_LARGE');
    });

    it('should fail with MEDIA_FETCH for a missing file or a disallowed host', async () => {
      expect(
        (await rejection(sut.downloadMedia(`${url}/media/nope.jpg`, { maxBytes: 1, timeoutMs: 2_000 }))).code,
      ).toBe('MEDIA_FETCH');
      const error = await rejection(
        sut.downloadMedia('https://evil.example/x.jpg', { maxBytes: 1, timeoutMs: 2_000, allowedHosts: ['127.0.0.1'] }),
      );
      expect(error.message).toMatch(/not allowed/);
    });

    it('should time out a stalled download', async () => {
      const path = server.addMedia('360x360/slow.jpg', bytes, 'image/jpeg');
      server.failNext(5, 'timeout', { path: '/media/' });
      makeClient({ retry: { retries: 0 } });
      const error = await rejection(sut.downloadMedia(`${url}${path}`, { maxBytes: 200_000, timeoutMs: 150 }));
      expect(error).toMatchObject({ code: 'MEDIA_FETCH', retryable: true });
      expect(error.message).toMatch(/timed out/);
    });
  });
});
