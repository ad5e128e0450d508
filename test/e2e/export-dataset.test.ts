/**
 * `export-dataset` end to end: the demo booru on loopback, a real crawl into a fresh PostgreSQL database, then the
 * export, interrupted part-way and resumed by the real CLI. The SQLite file is opened with a fresh sql.js (and with
 * the sqlite3 command when the machine has one) and checked row by row; every image file is checked by its md5.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import initSqlJs from 'sql.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBooruClientFor } from '../../src/booru/booru-factory.js';
import { BooruHttp } from '../../src/booru/http.js';
import { DatasetRepository } from '../../src/db/dataset.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { type DemoPost, makeDemoPosts } from '../../src/demo/demo-posts.js';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { DATASET_FILE, exportDataset } from '../../src/export/export-dataset.js';
import { makeSolidPng } from '../helpers/images.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

const run = promisify(execFile);
const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');
/** Categories the booru's tag sync would know; every other tag counts as general. */
const CATEGORIES: Record<string, number> = { hatsune_miku: 4, highres: 5, commentary_request: 5 };

interface Row {
  id: number;
  md5: string;
  file_ext: string;
  tag_string: string;
  tag_count_general: number;
  rating: string | null;
}

async function readRows(file: string): Promise<Row[]> {
  const SQL = await initSqlJs();
  const db = new SQL.Database(readFileSync(file));
  try {
    const [result] = db.exec('SELECT id, md5, file_ext, tag_string, tag_count_general, rating FROM posts ORDER BY id');
    return (result?.values ?? []).map(([id, hash, ext, tags, general, rating]) => ({
      id: Number(id),
      md5: String(hash),
      file_ext: String(ext),
      tag_string: String(tags),
      tag_count_general: Number(general),
      rating: rating === null ? null : String(rating),
    }));
  } finally {
    db.close();
  }
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

describe('export-dataset', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;
  let demo: DemoPost[];
  /** The demo posts and a repost of the first (same file, same md5): what the dataset must hold. */
  let exported: DemoPost[];
  let out: string;
  const work = mkdtempSync(join(tmpdir(), 'bt-export-'));

  const cli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', ...args], {
      env: {
        PATH: process.env['PATH'],
        DATABASE_URL: database().url,
        BOORU_URL: started.url,
        TAGGER_LOG_LEVEL: 'warn',
        TAGGER_BATCH_SIZE: '8',
      },
      timeout: 90_000,
    });
    return stdout;
  };

  /** The row the export must write for a demo post: sorted tags, general count by CATEGORIES. */
  const expectedRow = (post: DemoPost, tags = post.tagString.split(' ')): Row => ({
    id: post.id,
    md5: post.md5,
    file_ext: 'png',
    tag_string: [...tags].sort().join(' '),
    tag_count_general: tags.filter((t) => (CATEGORIES[t] ?? 0) === 0).length,
    rating: post.rating,
  });

  beforeAll(async () => {
    demo = await makeDemoPosts(10, 3001);
    for (const post of demo) {
      booru.addPostWithMedia(
        { id: post.id, tag_string: post.tagString, rating: post.rating, md5: post.md5, created_at: post.createdAt },
        post.files,
      );
    }
    const repost = { ...demo[0]!, id: 3904 };
    booru.addPostWithMedia(
      { id: repost.id, tag_string: repost.tagString, rating: repost.rating, md5: repost.md5 },
      repost.files,
    );
    exported = [...demo, repost];
    // Posts the export must leave out: deleted, a video, and one whose file does not match its md5.
    const png = await makeSolidPng(32, 32, [1, 2, 3]);
    booru.addPostWithMedia({ id: 3901, tag_string: 'solo', rating: 'g', md5: md5(png), is_deleted: true }, [
      { type: 'original', ext: 'png', width: 32, height: 32, bytes: png },
    ]);
    booru.addPostWithMedia({ id: 3902, tag_string: 'animated solo', rating: 'g', md5: 'c'.repeat(32) }, [
      { type: 'original', ext: 'mp4', width: 32, height: 32, bytes: Buffer.from('not really a video') },
      { type: '360x360', ext: 'jpg', width: 32, height: 32, bytes: png },
    ]);
    booru.addPostWithMedia({ id: 3903, tag_string: 'solo', rating: 'g', md5: 'd'.repeat(32) }, [
      { type: 'original', ext: 'png', width: 32, height: 32, bytes: png },
    ]);
    started = await booru.start();
    await cli('run', '--once', '--json');
    const { prisma } = database();
    const booruRow = await prisma.booru.findFirstOrThrow();
    await new TagRepository(prisma).upsertTags(
      booruRow.id,
      Object.entries(CATEGORIES).map(([name, category]) => ({ name, category, postCount: 1, isDeprecated: false })),
    );
    out = join(work, 'dataset');
  }, 180_000);

  afterAll(async () => {
    await started?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('should stop part-way when interrupted, keeping what it finished', async () => {
    const { prisma } = database();
    const booruRow = await prisma.booru.findFirstOrThrow();
    const http = new BooruHttp({ baseUrl: started.url, userAgent: 'booru-tagger-test/1.0', logger: silentLogger });
    const client = createBooruClientFor('danbooru', http, silentLogger);
    const abort = new AbortController();
    try {
      const summary = await exportDataset(
        {
          source: new DatasetRepository(prisma),
          downloadMedia: (url) => client.downloadMedia(url, { maxBytes: 10_000_000, timeoutMs: 10_000 }),
          logger: silentLogger,
        },
        {
          outDir: out,
          booruId: booruRow.id,
          concurrency: 1,
          pageSize: 3,
          signal: abort.signal,
          onProgress: (processed) => {
            if (processed >= 4) abort.abort();
          },
        },
      );
      expect(summary.interrupted).toBe(true);
      expect(summary.rows).toBeGreaterThanOrEqual(3);
      expect(summary.rows).toBeLessThan(demo.length);
    } finally {
      await http.close();
    }
    const rows = await readRows(join(out, DATASET_FILE));
    for (const row of rows) {
      expect(md5(readFileSync(join(out, 'images', row.md5.slice(0, 2), `${row.md5}.png`)))).toBe(row.md5);
    }
  });

  it('should resume from the CLI, downloading only what is missing', async () => {
    const filesBefore = filesUnder(join(out, 'images')).length;
    const summary = JSON.parse(await cli('export-dataset', '--out', out, '--json'));
    // One download per file still missing; every other post (the repost included) finds its file on disk.
    expect(summary).toMatchObject({
      interrupted: false,
      rows: exported.length,
      downloaded: demo.length - filesBefore,
      reused: exported.length - (demo.length - filesBefore),
      skipped: { not_an_image: 1 },
      failedCount: 1,
      failed: [{ id: 3903, reason: expect.stringMatching(/^md5_mismatch/) }],
    });
  });

  it('should write DeepDanbooru’s layout: every row as the booru has it, every image under its md5', async () => {
    const rows = await readRows(join(out, DATASET_FILE));
    expect(rows).toEqual(exported.map((post) => expectedRow(post)));
    const expectedFiles = demo.map((post) => `images/${post.md5.slice(0, 2)}/${post.md5}.png`).sort();
    expect(filesUnder(out)).toEqual([DATASET_FILE, ...expectedFiles].sort());
    for (const post of demo) {
      const bytes = readFileSync(join(out, 'images', post.md5.slice(0, 2), `${post.md5}.png`));
      expect(md5(bytes), `post ${post.id}`).toBe(post.md5);
      expect(bytes.equals(post.files[0]!.bytes)).toBe(true);
    }
  });

  it('should be readable by the sqlite3 command, as DeepDanbooru’s own query reads it', async (context) => {
    const sqlite3 = ['/usr/bin/sqlite3', '/usr/local/bin/sqlite3'].find((path) => existsSync(path));
    if (!sqlite3) {
      console.warn('sqlite3 command absent: the file was checked with sql.js only');
      return context.skip();
    }
    const { stdout } = await run(sqlite3, [
      join(out, DATASET_FILE),
      "SELECT md5, file_ext, tag_string FROM posts WHERE (file_ext = 'png' OR file_ext = 'jpg' OR file_ext = 'jpeg') AND (tag_count_general >= 1) ORDER BY id",
    ]);
    expect(stdout.trim().split('\n')).toEqual(exported.map((p) => `${p.md5}|png|${p.tagString}`));
    const integrity = await run(sqlite3, [join(out, DATASET_FILE), 'PRAGMA integrity_check']);
    expect(integrity.stdout.trim()).toBe('ok');
  });

  it('should filter by rating and tag count, and correct tags with approved suggestions', async () => {
    const suggestions = JSON.parse(await cli('suggestions', '--json', '--limit', '1000')) as {
      id: number;
      post: number;
      tag: string;
      action: string;
    }[];
    const approved = suggestions.filter((s) => s.action !== 'rating' && exported.some((p) => p.id === s.post));
    expect(approved.length).toBeGreaterThan(0);
    await cli('suggestions', 'approve', ...approved.map((s) => String(s.id)), '--as', 'alice');
    const corrected = join(work, 'corrected');
    const summary = JSON.parse(
      await cli('export-dataset', '--out', corrected, '--rating', 'g', '--min-tags', '3', '--with-approved', '--json'),
    );
    const expected = exported
      .filter((post) => post.rating === 'g')
      .map((post) => {
        const tags = new Set(post.tagString.split(' '));
        for (const s of approved.filter((a) => a.post === post.id)) {
          if (s.action === 'add') tags.add(s.tag);
          else tags.delete(s.tag);
        }
        return expectedRow(post, [...tags]);
      })
      .filter((row) => row.tag_count_general >= 3);
    expect(expected.length).toBeGreaterThan(0);
    expect(await readRows(join(corrected, DATASET_FILE))).toEqual(expected);
    expect(summary.rows).toBe(expected.length);
  });

  it('should drop rows and images of posts a later run no longer selects', async () => {
    const summary = JSON.parse(await cli('export-dataset', '--out', out, '--rating', 's', '--json'));
    const kept = exported.filter((post) => post.rating === 's');
    expect(summary).toMatchObject({ rows: kept.length, removed: exported.length - kept.length, downloaded: 0 });
    expect((await readRows(join(out, DATASET_FILE))).map((r) => r.id)).toEqual(kept.map((p) => p.id));
    expect(filesUnder(join(out, 'images'))).toEqual(
      [...new Set(kept.map((post) => `${post.md5.slice(0, 2)}/${post.md5}.png`))].sort(),
    );
  });
});
