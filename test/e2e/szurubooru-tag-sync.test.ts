/**
 * Tag sync (worker/sync-tags.job.ts) on a real database against the fake Szurubooru: tags by creation, aliases from
 * a tag's extra names, implications from its `implications`; and, since szurubooru's relations carry no status, a
 * relation the site dropped (a name removed, an implication removed) is retired by the next complete pass.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BooruHttp } from '../../src/booru/http.js';
import { SzurubooruClient } from '../../src/booru/szurubooru.client.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { CursorRepository } from '../../src/db/cursor.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { syncTags } from '../../src/worker/sync-tags.job.js';
import { uniqueBaseUrl } from '../helpers/factories.js';
import { FakeSzurubooruServer } from '../helpers/fake-szurubooru.server.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

describe('syncTags on szurubooru', () => {
  const database = useTestDatabase();
  let server: FakeSzurubooruServer;
  let http: BooruHttp;

  beforeEach(async () => {
    server = new FakeSzurubooruServer();
    server.addTag({ names: ['cat', 'kitty', 'neko'] });
    server.addTag({ names: ['vocaloid'], category: 'Copyright' });
    server.addTag({ names: ['hatsune_miku', 'miku'], category: 'Character', implications: ['vocaloid'] });
    for (let i = 0; i < 5; i++) server.addTag({ names: [`plain_${i}`] });
    await server.start();
    http = new BooruHttp({ baseUrl: server.url, userAgent: 'booru-tagger/0.1 (tag sync test)', logger: silentLogger });
  });

  afterEach(async () => {
    await http.close();
    await server.close();
  });

  async function setup() {
    const prisma = database().prisma;
    const tags = new TagRepository(prisma);
    const cursors = new CursorRepository(prisma);
    const stored = uniqueBaseUrl(server.url);
    const booru = await new BooruRepository(prisma).ensure({ name: stored, baseUrl: stored, kind: 'szurubooru' });
    const deps = { booru: new SzurubooruClient(http, { logger: silentLogger }), tags, cursors, logger: silentLogger };
    const sync = () => syncTags(deps, { booruId: booru.id, pageSize: 2 });
    const active = async (table: 'tagAlias' | 'tagImplication') => {
      const where = { booruId: booru.id, status: 'active' };
      const rows =
        table === 'tagAlias'
          ? await prisma.tagAlias.findMany({ where })
          : await prisma.tagImplication.findMany({ where });
      return rows.map((r) => `${r.antecedent}>${r.consequent}`).sort();
    };
    return { prisma, booruId: booru.id, tags, sync, active };
  }

  it('should store tags with mapped categories, aliases and implications, page by page', async () => {
    const ctx = await setup();
    const summary = await ctx.sync();
    expect(summary).toMatchObject({
      tags: { read: 8, complete: true },
      aliases: { read: 3, complete: true },
      implications: { read: 1, complete: true },
      interrupted: null,
    });
    expect(await ctx.active('tagAlias')).toEqual(['kitty>cat', 'miku>hatsune_miku', 'neko>cat']);
    expect(await ctx.active('tagImplication')).toEqual(['hatsune_miku>vocaloid']);
    const miku = await ctx.prisma.tag.findFirst({ where: { booruId: ctx.booruId, name: 'hatsune_miku' } });
    expect(miku?.category).toBe(4);
  });

  it('should retire an alias or implication the site dropped, on the next complete pass', async () => {
    const ctx = await setup();
    await ctx.sync();
    server.editTag('cat', { names: ['cat', 'neko'] });
    server.editTag('hatsune_miku', { implications: [] });
    server.addTag({ names: ['rin', 'kagamine_rin'], implications: ['vocaloid'] });
    const second = await ctx.sync();
    expect(second.interrupted).toBeNull();
    expect(await ctx.active('tagAlias')).toEqual(['kagamine_rin>rin', 'miku>hatsune_miku', 'neko>cat']);
    expect(await ctx.active('tagImplication')).toEqual(['rin>vocaloid']);
    const retired = await ctx.prisma.tagAlias.findFirst({ where: { booruId: ctx.booruId, antecedent: 'kitty' } });
    expect(retired?.status).toBe('deleted');
    // A name given back is in force again.
    server.editTag('cat', { names: ['cat', 'kitty', 'neko'] });
    await ctx.sync();
    expect(await ctx.active('tagAlias')).toContain('kitty>cat');
  });
});
