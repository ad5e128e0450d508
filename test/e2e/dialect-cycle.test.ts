/**
 * The walking skeleton's whole path for e621 and Moebooru: the real CLI in a child process, the real test model, a
 * fresh PostgreSQL database, and a fake booru that answers as the real site does (e621's `{"tags":[]}` empty pages,
 * Moebooru's id-based alias and implication listings, pending relations listed but not in force). Sync tags → crawl
 * → tag → suggest, approve from the CLI, a human edits meanwhile, apply: the fake booru ends with exactly the tags
 * the site's own merge, aliases and implications give.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDialectServer } from '../helpers/fake-dialect.server.js';
import { makeSolidPng, type Rgb } from '../helpers/images.js';
import { useTestDatabase } from '../helpers/test-db.js';

const run = promisify(execFile);
const RED: Rgb = [230, 20, 20];
const GREEN: Rgb = [20, 220, 30];
const AQUA: Rgb = [10, 230, 240];
const GREY: Rgb = [128, 128, 128];

/** Posts, and what the test model (models/test-colors/README.md) must make of each against the site's vocabulary. */
const POSTS: { id: number; color: Rgb; tags: string; expected: string[] }[] = [
  // The pending alias red_theme → crimson_theme is not in force: red_theme it stays.
  { id: 3001, color: RED, tags: '1girl solo', expected: ['add red_theme', 'rating rating:s'] },
  { id: 3002, color: GREEN, tags: '1girl green_theme red_theme', expected: ['remove red_theme'] },
  // The model's aqua_theme is the site's cyan_theme (active alias): already there.
  { id: 3003, color: AQUA, tags: '1girl cyan_theme', expected: ['add hatsune_miku'] },
  // red_dress implies red_theme (active): red_theme cannot be removed while red_dress stays.
  { id: 3004, color: GREEN, tags: 'green_theme red_dress red_theme', expected: [] },
  // The pending implication grey_theme → red_theme is not in force: the removal stands.
  { id: 3005, color: GREY, tags: 'grey_theme red_theme', expected: ['remove red_theme'] },
  { id: 3006, color: AQUA, tags: '1girl', expected: ['add cyan_theme', 'add hatsune_miku'] },
];

interface SuggestionJson {
  id: number;
  post: number;
  tag: string;
  action: string;
  status: string;
}

describe.each(['e621', 'moebooru'] as const)('%s end to end', (dialect) => {
  const database = useTestDatabase();
  const booru = new FakeDialectServer(dialect);

  const cli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', ...args], {
      env: {
        PATH: process.env['PATH'],
        DATABASE_URL: database().url,
        BOORU_URL: booru.url,
        BOORU_KIND: dialect,
        TAGGER_LOG_LEVEL: 'warn',
        TAGGER_BATCH_SIZE: '4',
      },
      timeout: 90_000,
    });
    return stdout;
  };

  beforeAll(async () => {
    booru.addTags([
      { name: 'hatsune_miku', category: 4 },
      { name: 'vocaloid', category: 3 },
      { name: 'cyan_theme', category: 0 },
    ]);
    booru.setAliases({ aqua_theme: 'cyan_theme' });
    booru.setImplications({ red_dress: ['red_theme'], hatsune_miku: ['vocaloid'] });
    booru.setPendingRelations({ aliases: { red_theme: 'crimson_theme' }, implications: { grey_theme: ['red_theme'] } });
    booru.addPosts(POSTS.map((p) => ({ id: p.id, tag_string: p.tags, rating: 'g' })));
    await booru.start();
    for (const post of POSTS) {
      const png = await makeSolidPng(512, 512, post.color);
      for (const path of booru.mediaPathsOf(post.id)) booru.addMedia(path, png, 'image/png');
    }
  });

  afterAll(async () => {
    await booru.close();
  });

  it('should sync the vocabulary, crawl, tag and suggest exactly what the model implies in the site’s terms', async () => {
    const summary = JSON.parse(await cli('run', '--once', '--json'));
    expect(summary.posts.seen).toBe(POSTS.length);
    expect(summary).toMatchObject({ failed: 0, retried: 0, vocabulary: { fresh: true } });

    const rows: SuggestionJson[] = JSON.parse(await cli('suggestions', '--json', '--limit', '1000'));
    const got = rows.map((r) => `${r.post} ${r.action} ${r.tag}`).sort();
    expect(got).toEqual(POSTS.flatMap((p) => p.expected.map((e) => `${p.id} ${e}`)).sort());
  });

  it('should not suggest anything new on a second run', async () => {
    const summary = JSON.parse(await cli('run', '--once', '--json'));
    expect(summary.posts.seen).toBe(0);
    expect(summary.suggestions.created).toBe(0);
  });

  it('should write approved changes back, merged with a human edit, with the site’s aliases and implications', async () => {
    const rows: SuggestionJson[] = JSON.parse(await cli('suggestions', '--json', '--limit', '1000'));
    const ids = rows.filter((r) => r.action !== 'rating').map((r) => String(r.id));
    expect(await cli('suggestions', 'approve', ...ids, '--as', 'alice')).toContain(`approved ${ids.length}`);

    booru.editAsHuman(3001, { add: ['smile'], remove: ['solo'] });
    booru.editAsHuman(3006, { add: ['hatsune_miku'] });

    const summary = JSON.parse(await cli('apply', '--once', '--json'));
    expect(summary).toMatchObject({ applied: 5, alreadyApplied: 1, refused: 0, conflicted: 0, failed: 0 });

    expect(booru.getPost(3001)?.tag_string).toBe('1girl red_theme smile');
    expect(booru.getPost(3002)?.tag_string).toBe('1girl green_theme');
    // The site adds what hatsune_miku implies.
    expect(booru.getPost(3003)?.tag_string).toBe('1girl cyan_theme hatsune_miku vocaloid');
    expect(booru.getPost(3004)?.tag_string).toBe('green_theme red_dress red_theme');
    expect(booru.getPost(3005)?.tag_string).toBe('grey_theme');
    expect(booru.getPost(3006)?.tag_string).toBe('1girl cyan_theme hatsune_miku vocaloid');

    const writes = booru.requests.filter((r) => r.method !== 'GET');
    expect(writes).toHaveLength(5);
    for (const write of writes) {
      const form = new URLSearchParams(write.body);
      // Merge-safe forms only: e621's delta, Moebooru's old_tags snapshot.
      if (dialect === 'e621') expect(form.has('post[tag_string_diff]')).toBe(true);
      else expect(form.has('post[old_tags]')).toBe(true);
    }
  });
});
