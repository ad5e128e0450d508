/**
 * The dataset's SQLite file, through node-sqlite3-wasm: SQLite compiled to WebAssembly with its own file-system VFS,
 * so the database lives on disk (SQLite's page cache, not the whole file, is in memory), `npm ci` compiles nothing and
 * downloads no native binary. Writes go into a transaction that {@link DatasetFile.checkpoint} commits: a crash loses
 * at most what came after the last checkpoint, never tears the file (SQLite's rollback journal).
 *
 * Besides DeepDanbooru's `posts`, the file keeps `export_meta` (settings of the run), `export_tags` (the category of
 * each tag seen, for tags-general.txt and tags-character.txt) and `export_kept` (the post ids this run kept, so the
 * rows of posts no longer selected can be dropped without holding every id in memory).
 */
import sqlite from 'node-sqlite3-wasm';
import { DATASET_SCHEMA, type DatasetRow } from './dataset-layout.js';

type Database = InstanceType<typeof sqlite.Database>;

/** A row as the resume check needs it. */
export interface StoredRow {
  id: number;
  md5: string;
  file_ext: string;
  source_ext: string | null;
}

export class DatasetFile {
  private inTransaction = false;

  private constructor(
    readonly path: string,
    private readonly db: Database,
  ) {}

  /** Opens `path` (created when absent), makes sure the schema is there, and starts the first transaction. */
  static open(path: string): DatasetFile {
    const db = new sqlite.Database(path);
    try {
      db.exec(DATASET_SCHEMA);
      // Files written by earlier versions lack the columns DeepDanbooru's make-training-database also reads.
      const columns = new Set(db.all('PRAGMA table_info(posts)').map((c) => String(c['name'])));
      for (const [name, type] of [
        ['score', 'INTEGER'],
        ['is_deleted', 'INTEGER NOT NULL DEFAULT 0'],
        ['source_ext', 'TEXT'],
      ] as const) {
        if (!columns.has(name)) db.exec(`ALTER TABLE posts ADD COLUMN ${name} ${type}`);
      }
    } catch (error) {
      db.close();
      throw error;
    }
    const file = new DatasetFile(path, db);
    file.begin();
    return file;
  }

  private begin(): void {
    this.db.exec('BEGIN');
    this.inTransaction = true;
  }

  /** The stored row of this post id, or null. */
  row(id: number): StoredRow | null {
    const row = this.db.get('SELECT id, md5, file_ext, source_ext FROM posts WHERE id = ?', [id]);
    return row ? (row as unknown as StoredRow) : null;
  }

  count(): number {
    return Number(this.db.get('SELECT count(*) AS n FROM posts')?.['n'] ?? 0);
  }

  /** Inserts or replaces a post's row and marks it kept by this run (idempotent). */
  upsert(row: DatasetRow): void {
    this.db.run(
      `INSERT OR REPLACE INTO posts (id, md5, file_ext, tag_string, tag_count_general, rating, score, is_deleted, source_ext)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        row.id,
        row.md5,
        row.file_ext,
        row.tag_string,
        row.tag_count_general,
        row.rating,
        row.score,
        row.is_deleted,
        row.source_ext,
      ],
    );
    this.db.run('INSERT OR IGNORE INTO export_kept (id) VALUES (?)', [row.id]);
  }

  /** Forgets which posts an earlier run kept (a run walks every selected post again). */
  resetKept(): void {
    this.db.exec('DELETE FROM export_kept');
  }

  /** Rows this run did not keep, one page at a time (after id `afterId`). */
  staleRows(afterId: number, limit: number): StoredRow[] {
    return this.db.all(
      `SELECT id, md5, file_ext, source_ext FROM posts
       WHERE id > ? AND id NOT IN (SELECT id FROM export_kept) ORDER BY id LIMIT ?`,
      [afterId, limit],
    ) as unknown as StoredRow[];
  }

  /** Whether a kept row uses this image file. */
  isFileKept(md5: string, ext: string): boolean {
    return (
      this.db.get(
        'SELECT 1 AS hit FROM posts p JOIN export_kept k ON k.id = p.id WHERE p.md5 = ? AND p.file_ext = ? LIMIT 1',
        [md5, ext],
      ) !== null
    );
  }

  /** Deletes the rows of these post ids. */
  delete(ids: readonly number[]): void {
    for (const id of ids) this.db.run('DELETE FROM posts WHERE id = ?', [id]);
  }

  /** Records tag categories (the latest sync wins). */
  recordTagCategories(categories: ReadonlyMap<string, number>): void {
    for (const [name, category] of categories) {
      this.db.run('INSERT OR REPLACE INTO export_tags (name, category) VALUES (?, ?)', [name, category]);
    }
  }

  /** Category of every tag recorded. */
  tagCategories(): Map<string, number> {
    const rows = this.db.all('SELECT name, category FROM export_tags');
    return new Map(rows.map((r) => [String(r['name']), Number(r['category'])]));
  }

  /** Calls `visit` with every row's tag_string, in id order, a page at a time (memory stays flat). */
  forEachTagString(visit: (tagString: string) => void, pageSize = 5000): void {
    let afterId = -1;
    for (;;) {
      const page = this.db.all('SELECT id, tag_string FROM posts WHERE id > ? ORDER BY id LIMIT ?', [
        afterId,
        pageSize,
      ]);
      if (page.length === 0) return;
      for (const row of page) visit(String(row['tag_string']));
      afterId = Number(page[page.length - 1]!['id']);
    }
  }

  meta(key: string): string | null {
    const row = this.db.get('SELECT value FROM export_meta WHERE key = ?', [key]);
    return row ? String(row['value']) : null;
  }

  setMeta(key: string, value: string): void {
    this.db.run('INSERT OR REPLACE INTO export_meta (key, value) VALUES (?, ?)', [key, value]);
  }

  /** Commits what was written since the last checkpoint and starts a new transaction. */
  checkpoint(): void {
    if (this.inTransaction) this.db.exec('COMMIT');
    this.begin();
  }

  /** Commits and closes. */
  close(): void {
    try {
      if (this.inTransaction) this.db.exec('COMMIT');
      this.inTransaction = false;
    } finally {
      this.db.close();
    }
  }
}
