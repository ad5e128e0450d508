/**
 * The dataset's SQLite file, through sql.js (SQLite compiled to WebAssembly, so `npm ci` needs no compiler and no
 * download of a native binary). sql.js keeps the database in memory: {@link DatasetFile.open} reads an existing file
 * back (which is how an export resumes) and {@link DatasetFile.save} writes all of it atomically (a temporary file,
 * then a rename), so a crash leaves the previous checkpoint, never a torn file.
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import initSqlJs, { type Database } from 'sql.js';
import { DATASET_SCHEMA, type DatasetRow } from './dataset-layout.js';

export class DatasetFile {
  private dirty = false;

  private constructor(
    readonly path: string,
    private readonly db: Database,
  ) {}

  /** Opens `path` (created at the first save when absent) and makes sure the schema is there. */
  static async open(path: string): Promise<DatasetFile> {
    const SQL = await initSqlJs();
    let bytes: Buffer | null = null;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const db = bytes ? new SQL.Database(bytes) : new SQL.Database();
    db.exec(DATASET_SCHEMA);
    return new DatasetFile(path, db);
  }

  /** The row with this post id, or null. */
  row(id: number): DatasetRow | null {
    const statement = this.db.prepare(
      'SELECT id, md5, file_ext, tag_string, tag_count_general, rating FROM posts WHERE id = ?',
    );
    try {
      statement.bind([id]);
      return statement.step() ? (statement.getAsObject() as unknown as DatasetRow) : null;
    } finally {
      statement.free();
    }
  }

  /** Every post id in the file. */
  ids(): number[] {
    const result = this.db.exec('SELECT id FROM posts ORDER BY id');
    return (result[0]?.values ?? []).map((row) => Number(row[0]));
  }

  /** Inserts or replaces a post's row (idempotent: a resumed export writes the same rows again). */
  upsert(row: DatasetRow): void {
    this.db.run(
      'INSERT OR REPLACE INTO posts (id, md5, file_ext, tag_string, tag_count_general, rating) VALUES (?, ?, ?, ?, ?, ?)',
      [row.id, row.md5, row.file_ext, row.tag_string, row.tag_count_general, row.rating],
    );
    this.dirty = true;
  }

  /** Deletes the rows of these post ids. */
  delete(ids: readonly number[]): void {
    for (const id of ids) this.db.run('DELETE FROM posts WHERE id = ?', [id]);
    if (ids.length > 0) this.dirty = true;
  }

  meta(key: string): string | null {
    const result = this.db.exec('SELECT value FROM export_meta WHERE key = ?', [key]);
    const value = result[0]?.values[0]?.[0];
    return value === undefined || value === null ? null : String(value);
  }

  setMeta(key: string, value: string): void {
    this.db.run('INSERT OR REPLACE INTO export_meta (key, value) VALUES (?, ?)', [key, value]);
    this.dirty = true;
  }

  /** Writes the database to its path if anything changed since the last save: temporary file, then rename. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    const temporary = `${this.path}.${process.pid}.tmp`;
    try {
      await writeFile(temporary, this.db.export());
      await rename(temporary, this.path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    this.dirty = false;
  }

  close(): void {
    this.db.close();
  }
}
