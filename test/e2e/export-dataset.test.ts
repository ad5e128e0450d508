/**
 * `export-dataset` end to end: the demo booru on loopback, a real crawl into a fresh PostgreSQL database, then the
 * export, interrupted part-way and resumed by the real CLI. The SQLite file is read back with the sqlite3 command (an
 * implementation independent of the one that wrote it; .ci/run installs it) and checked row by row, and DeepDanbooru's
 * own SELECT statements run against it; every image file is checked by its md5, a WebP post's by its pixels.
 */
import { TEST_MODEL_LABELS } from '../../src/tagger/test-model-spec.js';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBooruClientFor } from '../../src/booru/booru-factory.js';
import { BooruHttp } from '../../src/booru/http.js';
import { datasetSourceOf } from '../../src/bin/export-dataset.command.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
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

const RATING_TAGS: Record<string, string> = {
  g: 'rating:general',
  s: 'rating:sensitive',
  q: 'rating:questionable',
  e: 'rating:explicit',
};

/** The sqlite3 command (Debian's `sqlite3`; .ci/run installs it). */
function sqlite3Path(): string {
  const path = ['/usr/bin/sqlite3', '/usr/local/bin/sqlite3'].find((p) => existsSync(p));
  if (!path) throw new Error('the sqlite3 command is missing: apt-get install sqlite3 (.ci/run installs it)');
  return path;
}

/** Runs `sql` (after `.parameter set` lines binding `params` to ?1, ?2…) through the sqlite3 command; JSON rows. */
async function sqlite3Query(
  file: string,
  sql: string,
  params: readonly number[] = [],
): Promise<Record<string, unknown>[]> {
  const script = [...params.map((v, i) => `.parameter set ?${i + 1} ${v}`), '.mode json', `${sql};`].join('\n');
  const child = execFile(sqlite3Path(), ['-bail', file]);
  child.stdin!.end(script);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0 || stderr !== '') throw new Error(`sqlite3 exited ${code}: ${stderr}`);
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as Record<string, unknown>[]);
}

async function readRows(file: string): Promise<Row[]> {
  const rows = await sqlite3Query(
    file,
    'SELECT id, md5, file_ext, tag_string, tag_count_general, rating FROM posts ORDER BY id',
  );
  return rows as unknown as Row[];
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

  /** The row the export must write for a post: sorted tags, then its rating tag; general count by CATEGORIES. */
  const expectedRow = (post: DemoPost, tags = post.tagString.split(' '), rating = post.rating): Row => ({
    id: post.id,
    md5: post.md5,
    file_ext: 'png',
    tag_string: [...[...tags].sort(), RATING_TAGS[rating]!].join(' '),
    tag_count_general: tags.filter((t) => (CATEGORIES[t] ?? 0) === 0).length,
    rating,
  });
  /** A WebP post: DeepDanbooru reads png/jpg only, so the export converts it. */
  let webp: DemoPost;
  /** The posts the dataset holds, in id order. */
  const datasetPosts = () => [...exported, webp].sort((a, b) => a.id - b.id);

  beforeAll(async () => {
    // The site has every tag the model knows, as the demo booru does (`run --once` syncs them before diffing).
    booru.addTags([
      ...TEST_MODEL_LABELS.filter((l) => l.category !== 9).map((l) => ({ name: l.name, category: l.category })),
      ...Object.entries(CATEGORIES).map(([name, category]) => ({ name, category })),
    ]);
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
    const webpBytes = await sharp({
      create: { width: 24, height: 16, channels: 3, background: { r: 200, g: 40, b: 10 } },
    })
      .webp({ lossless: true })
      .toBuffer();
    webp = {
      ...demo[1]!,
      id: 3905,
      md5: md5(webpBytes),
      tagString: '1girl solo hatsune_miku',
      rating: 'g',
      files: [{ type: 'original', ext: 'webp', width: 24, height: 16, bytes: webpBytes }],
    };
    booru.addPostWithMedia({ id: webp.id, tag_string: webp.tagString, rating: webp.rating, md5: webp.md5 }, webp.files);
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
          source: datasetSourceOf({
            posts: new PostRepository(prisma),
            tags: new TagRepository(prisma),
            suggestions: new SuggestionRepository(prisma),
          }),
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
    // An interrupted run writes no project files: tags.txt would miss what is not exported yet.
    expect(existsSync(join(out, 'tags.txt'))).toBe(false);
  });

  it('should resume from the CLI, downloading only what is missing', async () => {
    const filesBefore = filesUnder(join(out, 'images')).length;
    // The WebP post as an earlier version exported it: the file as it was, and its row. The resumed export
    // replaces both with a PNG.
    const legacy = join(out, 'images', webp.md5.slice(0, 2), `${webp.md5}.webp`);
    mkdirSync(dirname(legacy), { recursive: true });
    writeFileSync(legacy, webp.files[0]!.bytes);
    await sqlite3Query(
      join(out, DATASET_FILE),
      `INSERT INTO posts (id, md5, file_ext, tag_string, tag_count_general, rating)
       VALUES (${webp.id}, '${webp.md5}', 'webp', '${webp.tagString}', 2, 'g')`,
    );
    const summary = JSON.parse(await cli('export-dataset', '--out', out, '--json'));
    // One download per file still missing; every other post (the repost included) finds its file on disk.
    expect(summary).toMatchObject({
      interrupted: false,
      rows: exported.length + 1,
      downloaded: demo.length - filesBefore + 1,
      converted: { webp: 1 },
      reused: exported.length - (demo.length - filesBefore),
      skipped: { not_an_image: 1 },
      failedCount: 1,
      failed: [{ id: 3903, reason: expect.stringMatching(/^md5_mismatch/) }],
    });
  });

  it('should write DeepDanbooru’s layout: every row as the booru has it, every image under its md5', async () => {
    const rows = await readRows(join(out, DATASET_FILE));
    expect(rows).toEqual(datasetPosts().map((post) => expectedRow(post)));
    const expectedFiles = [...demo, webp].map((post) => `images/${post.md5.slice(0, 2)}/${post.md5}.png`).sort();
    const projectFiles = ['project.json', 'tags.txt', 'tags-general.txt', 'tags-character.txt', 'categories.json'];
    expect(filesUnder(out)).toEqual([DATASET_FILE, ...projectFiles, ...expectedFiles].sort());
    for (const post of demo) {
      const bytes = readFileSync(join(out, 'images', post.md5.slice(0, 2), `${post.md5}.png`));
      expect(md5(bytes), `post ${post.id}`).toBe(post.md5);
      expect(bytes.equals(post.files[0]!.bytes)).toBe(true);
    }
    // The WebP file became a PNG of the same pixels, named by the post's md5.
    const converted = sharp(readFileSync(join(out, 'images', webp.md5.slice(0, 2), `${webp.md5}.png`)));
    expect((await converted.metadata()).format).toBe('png');
    const pixels = await converted.raw().toBuffer({ resolveWithObject: true });
    expect(pixels.info).toMatchObject({ width: 24, height: 16, channels: 3 });
    expect([...pixels.data.subarray(0, 3)]).toEqual([200, 40, 10]);
  });

  it('should write a DeepDanbooru project: project.json, tags.txt, tags-general.txt, tags-character.txt', () => {
    // deepdanbooru/commands/train_project.py reads these keys (the others have defaults there).
    const project = JSON.parse(readFileSync(join(out, 'project.json'), 'utf8')) as Record<string, unknown>;
    expect(project).toMatchObject({
      image_width: 512,
      image_height: 512,
      database_path: join(out, DATASET_FILE),
      minimum_tag_count: 0,
      model: 'resnet_custom_v3',
      optimizer: 'adam',
    });
    for (const key of [
      'minibatch_size',
      'epoch_count',
      'checkpoint_frequency_mb',
      'console_logging_frequency_mb',
      'rotation_range',
      'scale_range',
      'shift_range',
    ]) {
      expect(project, key).toHaveProperty(key);
    }
    const lines = (name: string) => readFileSync(join(out, name), 'utf8').split('\n').slice(0, -1);
    const tags = new Set(datasetPosts().flatMap((post) => post.tagString.split(' ')));
    const general = [...tags].filter((t) => CATEGORIES[t] === undefined).sort();
    expect(lines('tags-general.txt')).toEqual(general);
    expect(lines('tags-character.txt')).toEqual(['hatsune_miku']);
    expect(lines('tags.txt')).toEqual([
      ...general,
      'hatsune_miku',
      'rating:general',
      'rating:sensitive',
      'rating:questionable',
      'rating:explicit',
    ]);
    expect(JSON.parse(readFileSync(join(out, 'categories.json'), 'utf8'))).toEqual([
      { name: 'General', start_index: 0 },
      { name: 'Character', start_index: general.length },
      { name: 'System', start_index: general.length + 1 },
    ]);
  });

  it('should answer DeepDanbooru’s own queries, run by the sqlite3 command', async () => {
    const file = join(out, DATASET_FILE);
    // deepdanbooru/data/dataset.py load_image_records, as written there (minimum_tag_count bound to 1).
    const records = await sqlite3Query(
      file,
      "SELECT md5, file_ext, tag_string FROM posts WHERE (file_ext = 'png' OR file_ext = 'jpg' OR file_ext = 'jpeg') AND (tag_count_general >= ?) ORDER BY id",
      [1],
    );
    expect(records).toEqual(
      datasetPosts().map((p) => ({ md5: p.md5, file_ext: 'png', tag_string: expectedRow(p).tag_string })),
    );
    // The image path load_image_records builds from each row exists.
    for (const r of records) {
      expect(existsSync(join(out, 'images', String(r['md5']).slice(0, 2), `${r['md5']}.${r['file_ext']}`))).toBe(true);
    }
    // deepdanbooru/commands/make_training_database.py, its SELECT with the column names substituted (start_id 0,
    // chunk_size 1000).
    const source = await sqlite3Query(
      file,
      `SELECT
                id,md5,file_ext,tag_string,tag_count_general,rating,score,is_deleted
            FROM posts WHERE (id >= ?) ORDER BY id ASC LIMIT ?`,
      [0, 1000],
    );
    expect(source).toEqual(datasetPosts().map((p) => ({ ...expectedRow(p), score: null, is_deleted: 0 })));
    const integrity = await sqlite3Query(file, 'PRAGMA integrity_check');
    expect(integrity).toEqual([{ integrity_check: 'ok' }]);
  });

  it('should filter by rating and tag count, and correct tags with approved suggestions', async () => {
    const suggestions = JSON.parse(await cli('suggestions', '--json', '--limit', '1000')) as {
      id: number;
      post: number;
      tag: string;
      action: string;
    }[];
    const approved = suggestions.filter((s) => s.action !== 'rating' && datasetPosts().some((p) => p.id === s.post));
    expect(approved.length).toBeGreaterThan(0);
    await cli('suggestions', 'approve', ...approved.map((s) => String(s.id)), '--as', 'alice');
    const corrected = join(work, 'corrected');
    const summary = JSON.parse(
      await cli('export-dataset', '--out', corrected, '--rating', 'g', '--min-tags', '3', '--with-approved', '--json'),
    );
    const expected = datasetPosts()
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
    expect(summary).toMatchObject({ rows: kept.length, removed: exported.length + 1 - kept.length, downloaded: 0 });
    expect((await readRows(join(out, DATASET_FILE))).map((r) => r.id)).toEqual(kept.map((p) => p.id));
    expect(filesUnder(join(out, 'images'))).toEqual(
      [...new Set(kept.map((post) => `${post.md5.slice(0, 2)}/${post.md5}.png`))].sort(),
    );
  });
});
