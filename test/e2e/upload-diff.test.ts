/**
 * One diff (issue 17): the upload page shows exactly what the review queue suggests for a known post. A local
 * Danbooru with an alias (the model's aqua_theme is the booru's cyan_theme), an implication and a per-tag threshold
 * file (hatsune_miku needs 0.999) — where the page's old diff by label name and category thresholds would have
 * proposed aqua_theme and hatsune_miku — then `run --once`'s cycle fills the queue, and the same image uploaded to the
 * page (wired as `serve` wires it) must list the same additions, removals and rating.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormData, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCycle } from '../../src/bin/commands.js';
import { openRepositories, type Repositories } from '../../src/bin/context.js';
import { evaluateDepsOf, type EvaluateWiring } from '../../src/bin/evaluate-deps.js';
import { type Config, loadConfig } from '../../src/config/config.js';
import { buildDashboard } from '../../src/dashboard/app.js';
import { statusSourceOf } from '../../src/dashboard/status-source.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import type { Database } from '../../src/db/database.js';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { makeSolidPng } from '../helpers/images.js';
import { Client } from '../helpers/inject-client.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

/** The tag names the fragment lists under the heading that starts with `heading`. */
function listedUnder(fragment: string, heading: string): string[] {
  const at = fragment.indexOf(`<h3>${heading}`);
  if (at < 0) return [];
  const end = fragment.indexOf('<h3>', at + 4);
  const section = fragment.slice(at, end < 0 ? undefined : end);
  return [...section.matchAll(/<span class="tag-\d+">([^<]+)<\/span>/g)].map((m) => m[1]!).sort();
}

describe('upload page diff of a known post', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;
  let db: Database;
  let repos: Repositories;
  let wiring: EvaluateWiring | undefined;
  let aqua: Buffer;
  let config: Config;

  beforeAll(async () => {
    aqua = await makeSolidPng(256, 256, [10, 230, 240]);
    booru.addTags([
      { name: 'cyan_theme' },
      { name: 'red_theme' },
      { name: 'blue_theme' },
      { name: 'hatsune_miku', category: 4 },
      { name: 'vocaloid', category: 3 },
    ]);
    booru.setAliases({ aqua_theme: 'cyan_theme' });
    booru.setImplications({ cyan_theme: ['blue_theme'], hatsune_miku: ['vocaloid'] });
    booru.addPostWithMedia(
      {
        id: 1,
        tag_string: '1girl solo red_theme',
        rating: 's',
        md5: createHash('md5').update(aqua).digest('hex'),
      },
      [{ type: 'original', ext: 'png', width: 256, height: 256, bytes: aqua }],
    );
    started = await booru.start();
    const dir = mkdtempSync(join(tmpdir(), 'bt-upload-diff-'));
    writeFileSync(join(dir, 'thresholds.json'), JSON.stringify({ hatsune_miku: 0.999 }));
    config = loadConfig({
      DATABASE_URL: database().url,
      BOORU_URL: started.url,
      DEVICE: 'cpu',
      TAGGER_LOG_LEVEL: 'silent',
      TAGGER_THRESHOLDS_FILE: join(dir, 'thresholds.json'),
    });
  });

  afterAll(async () => {
    await wiring?.close();
    await db?.close();
    await started?.close();
  });

  it('should list exactly the review queue’s suggestions for the same post and model', {
    timeout: 120_000,
  }, async () => {
    ({ db, repos } = await openRepositories(config, silentLogger));
    const cycle = await runCycle(config, silentLogger, repos, started.url);
    expect(cycle.vocabulary.fresh).toBe(true);
    const queued = await database().prisma.suggestion.findMany({
      where: { status: 'pending', post: { remoteId: 1 } },
      select: { action: true, tag: true },
    });
    const queue = (action: string) =>
      queued
        .filter((s) => s.action === action)
        .map((s) => s.tag)
        .sort();

    wiring = evaluateDepsOf(config, silentLogger, database().prisma, null);
    await repos.users.create({ name: 'viewer', role: 'viewer', passwordHash: await hashPassword('viewer-pass-1') });
    const app = await buildDashboard({
      ...repos,
      statusSource: statusSourceOf(() => repos.workers.status()),
      logger: silentLogger,
      evaluate: wiring.deps,
    });
    try {
      const base = await app.listen({ host: '127.0.0.1', port: 0 });
      const client = new Client(app);
      await client.signIn('viewer', 'viewer-pass-1');
      await client.request('GET', '/upload');
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(aqua)], { type: 'image/png' }), 'aqua.png');
      const response = await fetch(`${base}/upload`, {
        method: 'POST',
        body: form,
        headers: {
          cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
          'x-csrf-token': client.csrf,
        },
      });
      const fragment = await response.text();
      expect(response.status).toBe(200);
      expect(fragment).toContain('class="known-post"');

      expect(listedUnder(fragment, 'The model would add')).toEqual(queue('add'));
      expect(listedUnder(fragment, 'The model would remove')).toEqual(queue('remove'));
      const rating = queued.find((s) => s.action === 'rating');
      expect(rating?.tag).toBe('rating:g');
      expect(fragment).toContain('the post says sensitive, the model general');
      // Where the old diff by label name and category thresholds differed: the alias is followed, the per-tag
      // threshold holds hatsune_miku back.
      expect(queue('add')).toContain('cyan_theme');
      expect(listedUnder(fragment, 'The model would add')).not.toContain('aqua_theme');
      expect(listedUnder(fragment, 'The model would add')).not.toContain('hatsune_miku');
      expect(queue('remove')).toEqual(['red_theme']);
      expect(fragment).not.toContain('holds these suggestions back');
    } finally {
      await app.close();
    }
  });
});
