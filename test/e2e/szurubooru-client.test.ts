/**
 * The Szurubooru adapter against a fake that answers as szurubooru's own server does (test/helpers/
 * fake-szurubooru.server.ts): listings by id cursor and by last edit, empty pages, tags with aliases and
 * implications, the versioned merge-safe write retried on 409, Token auth, media under relative URLs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BooruClient } from '../../src/booru/booru-client.js';
import { AUTH_SCHEME, createBooruAdapter, probeBooruKind } from '../../src/booru/booru-factory.js';
import { BooruHttp, type BooruHttpOptions } from '../../src/booru/http.js';
import { SZURUBOORU_CONFLICT_RETRIES } from '../../src/booru/szurubooru.client.js';
import { createLogger } from '../../src/shared/logger.js';
import { FakeSzurubooruServer } from '../helpers/fake-szurubooru.server.js';

const logger = createLogger({ level: 'silent' });
const credentials = { login: 'bot', apiKey: 'c0ffee-token' };
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function httpFor(url: string, overrides: Partial<BooruHttpOptions> = {}): BooruHttp {
  const http = new BooruHttp({
    baseUrl: url,
    userAgent: 'booru-tagger/0.1 (szurubooru tests)',
    credentials,
    authScheme: AUTH_SCHEME.szurubooru,
    headersTimeoutMs: 1000,
    bodyTimeoutMs: 1000,
    writeRate: 0,
    retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 4, rateLimitDelayMs: 30 },
    logger,
    ...overrides,
  });
  closers.push(() => http.close());
  return http;
}

const PNG = Buffer.from('89504e470d0a1a0a', 'hex');

async function site(): Promise<{ server: FakeSzurubooruServer; sut: BooruClient }> {
  const server = new FakeSzurubooruServer({ credentials: { login: credentials.login, token: credentials.apiKey } });
  for (const name of ['solo', 'smile', 'fox', 'gone_tag']) server.addTag({ names: [name] });
  server.addTag({ names: ['cyan_theme', 'aqua_theme', 'Teal_Theme'], category: 'Colors' });
  server.addTag({ names: ['vocaloid'], category: 'Copyright' });
  server.addTag({ names: ['idol'], implications: ['vocaloid'] });
  server.addTag({ names: ['hatsune_miku', 'miku'], category: 'Character', implications: ['idol'] });
  for (let id = 1; id <= 5; id++) {
    server.addPost(
      { id, tags: id === 2 ? ['fox', 'solo'] : ['solo'], safety: 'safe' },
      { bytes: PNG, mimeType: 'image/png' },
    );
  }
  server.addPost({ id: 6, tags: ['gone_tag'] }, { bytes: PNG, mimeType: 'image/png' });
  server.deletePost(6);
  await server.start();
  closers.push(() => server.close());
  return { server, sut: createBooruAdapter('szurubooru', httpFor(server.url), logger) };
}

describe('SzurubooruClient', () => {
  it('should page posts by id cursor with the id-min query, ending on the empty page the site answers', async () => {
    const { server, sut } = await site();
    const first = await sut.listPostsSince(0, 2);
    expect(first.posts.map((p) => p.remoteId)).toEqual([1, 2]);
    const second = await sut.listPostsSince(2, 2);
    expect(second.posts.map((p) => p.remoteId)).toEqual([3, 4]);
    expect((await sut.listPostsSince(4, 2)).posts.map((p) => p.remoteId)).toEqual([5]);
    expect(await sut.listPostsSince(5, 2)).toEqual({ posts: [], rejected: [] });
    const list = server.requests.filter((r) => r.path === '/api/posts/');
    expect(list[0]?.query).toMatchObject({ query: 'id-min:1 sort:id,asc', offset: '0', limit: '2' });
    expect(list.at(-1)?.query['query']).toBe('id-min:6 sort:id,asc');
    expect(first.posts[1]).toMatchObject({ tags: ['fox', 'solo'], rating: 'g', isDeleted: false, fileExt: 'png' });
  });

  it('should send Token auth and Accept: application/json, and resolve relative media URLs on the site', async () => {
    const { server, sut } = await site();
    const post = await sut.getPost(2);
    const request = server.requests.find((r) => r.path === '/api/post/2')!;
    expect(request.headers['authorization']).toBe(`Token ${Buffer.from('bot:c0ffee-token').toString('base64')}`);
    expect(request.headers['accept']).toBe('application/json');
    expect(post?.fileUrl).toMatch(new RegExp(`^${server.url}/data/posts/2_[0-9a-f]{16}\\.png$`));
    expect(await sut.downloadMedia(post!.fileUrl!, { maxBytes: 1024, timeoutMs: 1000 })).toEqual(PNG);
  });

  it('should read a deleted post as gone (szurubooru deletes outright: 404)', async () => {
    const { sut } = await site();
    expect(await sut.getPost(6)).toBeNull();
    expect((await sut.listPostsSince(5)).posts).toEqual([]);
  });

  it('should refuse a wrong token with the site error, never showing the token', async () => {
    const { server } = await site();
    const sut = createBooruAdapter(
      'szurubooru',
      httpFor(server.url, { credentials: { login: 'bot', apiKey: 'wrong' } }),
      logger,
    );
    const error = (await sut.listPostsSince(0).catch((e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe('BOORU_FORBIDDEN');
    expect(error.message).toContain('Invalid token.');
    expect(error.message).not.toContain('wrong');
    expect(error.message).not.toContain(Buffer.from('bot:wrong').toString('base64'));
  });

  it('should list tags by creation with positions as the cursor, and read aliases and implications off them', async () => {
    const { sut } = await site();
    const first = await sut.listTags({ afterId: 0, limit: 3 });
    expect(first.map((t) => [t.remoteId, t.name])).toEqual([
      [1, 'solo'],
      [2, 'smile'],
      [3, 'fox'],
    ]);
    const rest = await sut.listTags({ afterId: 3, limit: 100 });
    expect(rest.map((t) => [t.remoteId, t.name, t.category])).toEqual([
      [4, 'gone_tag', 0],
      [5, 'cyan_theme', 0],
      [6, 'vocaloid', 3],
      [7, 'idol', 0],
      [8, 'hatsune_miku', 4],
    ]);
    expect(await sut.listTags({ afterId: 8 })).toEqual([]);

    // Pages without any alias are read through: the first page with one is answered, an empty answer is the end.
    const aliases = await sut.listTagRelations('alias', { afterId: 0, limit: 2 });
    expect(aliases.map((r) => [r.remoteId, r.antecedent, r.consequent, r.status])).toEqual([
      [5, 'aqua_theme', 'cyan_theme', 'active'],
      [5, 'teal_theme', 'cyan_theme', 'active'],
    ]);
    const more = await sut.listTagRelations('alias', { afterId: 5, limit: 2 });
    expect(more.map((r) => [r.antecedent, r.consequent])).toEqual([['miku', 'hatsune_miku']]);
    expect(await sut.listTagRelations('alias', { afterId: 8, limit: 2 })).toEqual([]);

    const implications = await sut.listTagRelations('implication', { afterId: 0 });
    expect(implications.map((r) => [r.remoteId, r.antecedent, r.consequent])).toEqual([
      [1, 'idol', 'vocaloid'],
      [2, 'hatsune_miku', 'idol'],
    ]);
    expect(await sut.listTagRelations('implication', { afterId: 2 })).toEqual([]);
  });

  it('should list changed posts newest edit first, leaving out posts never edited', async () => {
    const { server, sut } = await site();
    server.editAsHuman(3, { add: ['smile'] });
    server.editAsHuman(1, { add: ['smile'] });
    const page = await sut.listPostsByChange(1, 100);
    // parsePostPage sorts by id; the site's order was 1 (newest edit), then 3.
    expect(page.posts.map((p) => p.remoteId)).toEqual([1, 3]);
    expect(server.requests.at(-1)?.query['query']).toBe('last-edit-date-min:1970 sort:last-edit-date');
    expect((await sut.listPostsByChange(2, 100)).posts).toEqual([]);
  });

  it('should PUT the whole merged tag list with the version, keep a human edit, add implied tags, set safety', async () => {
    const { server, sut } = await site();
    server.editAsHuman(2, { add: ['smile'], remove: ['solo'] });
    const result = await sut.updateTags(2, {
      snapshot: ['fox', 'solo'],
      add: ['miku'],
      remove: ['fox'],
      rating: { from: 'g', to: 'e' },
    });
    expect(server.tagsOf(2)).toEqual(['hatsune_miku', 'idol', 'smile', 'vocaloid']);
    expect(server.getPost(2)).toMatchObject({ safety: 'unsafe', version: 3 });
    const put = server.requests.find((r) => r.method === 'PUT')!;
    expect(JSON.parse(put.body)).toEqual({
      version: 2,
      tags: ['idol', 'miku', 'smile', 'vocaloid'],
      safety: 'unsafe',
    });
    expect(result.sent).toBe(true);
    expect(result.saved).toBe(true);
    expect(result.outcomes.map((o) => [o.tag, o.outcome])).toContainEqual(['fox', 'applied']);
    expect(result.after.tags).toEqual(['hatsune_miku', 'idol', 'smile', 'vocaloid']);
  });

  it('should re-read, re-merge and retry when a human saves in between (409), keeping both edits', async () => {
    const { server, sut } = await site();
    server.raceNextWrite(1, { add: ['smile'] });
    server.raceNextWrite(1, { add: ['fox'] });
    const result = await sut.updateTags(1, { snapshot: ['solo'], add: ['cyan_theme'], remove: ['solo'] });
    expect(server.tagsOf(1)).toEqual(['cyan_theme', 'fox', 'smile']);
    const puts = server.requests
      .filter((r) => r.method === 'PUT')
      .map((r) => JSON.parse(r.body) as { version: number });
    expect(puts.map((p) => p.version)).toEqual([1, 2, 3]);
    expect(result.outcomes.map((o) => [o.tag, o.outcome])).toEqual([
      ['cyan_theme', 'applied'],
      ['solo', 'applied'],
    ]);
  });

  it('should survive a write saved but unanswered: the retry meets 409, the re-read finds it done, nothing more sent', async () => {
    const { server, sut } = await site();
    server.stallNextWrites(1);
    const result = await sut.updateTags(3, { snapshot: ['solo'], add: ['fox'], remove: ['solo'] });
    expect(server.tagsOf(3)).toEqual(['fox']);
    const puts = server.requests.filter((r) => r.method === 'PUT').map((r) => JSON.parse(r.body) as object);
    // The first write (saved, answer lost), its retry by the transport (stale: 409); the re-read finds it done.
    expect(puts).toEqual([
      { version: 1, tags: ['fox'] },
      { version: 1, tags: ['fox'] },
    ]);
    expect(server.getPost(3)?.version).toBe(2);
    expect(result.outcomes.map((o) => [o.tag, o.outcome])).toEqual([
      ['fox', 'applied'],
      ['solo', 'applied'],
    ]);
  });

  it('should give up after a bounded number of conflicts with the 409 the site answered', async () => {
    const { server, sut } = await site();
    for (let i = 0; i <= SZURUBOORU_CONFLICT_RETRIES; i++) server.raceNextWrite(4, { add: [`human_${i}`] });
    const error = (await sut
      .updateTags(4, { snapshot: ['solo'], add: ['fox'], remove: [] })
      .catch((e: unknown) => e)) as (Error & { code: string; status: number }) | undefined;
    expect(error?.status).toBe(409);
    expect(error?.message).toContain('Someone else modified this in the meantime');
    expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(SZURUBOORU_CONFLICT_RETRIES + 1);
    expect(server.tagsOf(4)).not.toContain('fox');
  });

  it('should send nothing when the change is already there (an alias counts as its tag)', async () => {
    const { server, sut } = await site();
    server.editAsHuman(5, { add: ['aqua_theme'] });
    const result = await sut.updateTags(5, { snapshot: ['solo'], add: ['cyan_theme'], remove: [] });
    expect(result.sent).toBe(false);
    expect(result.outcomes.map((o) => o.outcome)).toEqual(['already_applied']);
    expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('should be found by BOORU_KIND=auto', async () => {
    const { server } = await site();
    expect(await probeBooruKind(httpFor(server.url, { credentials: null }))).toBe('szurubooru');
  });
});
