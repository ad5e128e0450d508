/**
 * Tag metadata sync on a real database against the fake Danbooru: a full first pass, then incremental passes that
 * read only what changed; batched upserts; a pass interrupted by a transient failure resumes where it stopped.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DanbooruClient } from '../../src/booru/danbooru.client.js';
import { BooruHttp } from '../../src/booru/http.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { CursorRepository } from '../../src/db/cursor.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { syncTags } from '../../src/worker/sync-tags.job.js';
import { uniqueBaseUrl } from '../helpers/factories.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

describe('syncTags', () => {
  const database = useTestDatabase();
  let server: FakeDanbooruServer;
  let http: BooruHttp;

  beforeEach(async () => {
    server = new FakeDanbooruServer();
    server.addTags([
      { name: 'cat', category: 0 },
      { name: 'hatsune_miku', category: 4 },
      { name: 'vocaloid', category: 3 },
      { name: 'old_tag', category: 0, isDeprecated: true },
    ]);
    server.setAliases({ kitty: 'cat' });
    server.setImplications({ hatsune_miku: ['vocaloid'] });
    await server.start();
    http = new BooruHttp({
      baseUrl: server.url,
      userAgent: 'booru-tagger/0.1 (tag sync test)',
      logger: silentLogger,
      retry: { retries: 0 },
    });
  });

  afterEach(async () => {
    await http.close();
    await server.close();
  });

  async function setup() {
    const prisma = database().prisma;
    const stored = uniqueBaseUrl(server.url);
    const booru = await new BooruRepository(prisma).ensure({
      name: stored,
      baseUrl: stored,
      kind: 'danbooru',
    });
    const deps = {
      booru: new DanbooruClient(http, { logger: silentLogger }),
      tags: new TagRepository(prisma),
      cursors: new CursorRepository(prisma),
      logger: silentLogger,
    };
    return { ...deps, booruId: booru.id, sync: () => syncTags(deps, { booruId: booru.id, pageSize: 2 }) };
  }

  it('should copy tags, active aliases and implications on the first pass', async () => {
    const ctx = await setup();
    const summary = await ctx.sync();
    expect(summary.tags).toMatchObject({ read: 4, written: 4, complete: true, mode: 'full' });
    expect(summary.aliases).toMatchObject({ read: 1, complete: true });
    const { facts, implications } = await ctx.tags.loadFacts(ctx.booruId);
    expect(facts.categories?.get('hatsune_miku')).toBe(4);
    expect([...facts.deprecated]).toEqual(['old_tag']);
    expect(facts.aliases.get('kitty')).toBe('cat');
    expect(implications).toEqual([['hatsune_miku', 'vocaloid']]);
    // Paged by id with a-cursors: 4 tags in pages of 2, then the empty page that ends the pass.
    expect(server.requests.filter((r) => r.path === '/tags.json').map((r) => r.query['page'])).toEqual([
      'a0',
      `a${2}`,
      `a${4}`,
    ]);
  });

  it('should read only what changed on the next pass', async () => {
    const ctx = await setup();
    await ctx.sync();
    server.requests.length = 0;
    server.addTags([{ name: 'cat', isDeprecated: true }]);
    const summary = await ctx.sync();
    expect(summary.tags.mode).toBe('incremental');
    const tagQueries = server.requests.filter((r) => r.path === '/tags.json').map((r) => r.query);
    expect(tagQueries[0]?.['search[updated_at]']).toMatch(/^>\d{4}-/);
    expect((await ctx.tags.loadFacts(ctx.booruId)).facts.deprecated.has('cat')).toBe(true);
  });

  it('should resume an interrupted pass from its page cursor', async () => {
    const ctx = await setup();
    server.failNext(1, 503, { path: '/tags.json' });
    const first = await ctx.sync();
    expect(first.interrupted?.code).toBe('BOORU_HTTP');
    expect(first.tags.complete).toBe(false);
    const second = await ctx.sync();
    expect(second.tags).toMatchObject({ complete: true, mode: 'full' });
    expect((await ctx.tags.counts(ctx.booruId)).tags).toBe(4);
  });

  it('should upsert many tags in batches, writing only rows that changed', async () => {
    const ctx = await setup();
    const many = Array.from({ length: 12_000 }, (_, i) => ({
      name: `tag_${i}`,
      category: i % 2 === 0 ? 0 : 4,
      postCount: i,
      isDeprecated: false,
    }));
    const started = performance.now();
    expect(await ctx.tags.upsertTags(ctx.booruId, many)).toBe(12_000);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(await ctx.tags.upsertTags(ctx.booruId, many)).toBe(0);
    expect(await ctx.tags.upsertTags(ctx.booruId, [{ ...many[5]!, postCount: 99 }])).toBe(1);
  });
});
