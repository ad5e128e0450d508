/** The export's SQLite file: an earlier version's file gains DeepDanbooru's other columns and keeps its rows. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetFile } from '../../src/export/dataset-file.js';

const work = mkdtempSync(join(tmpdir(), 'bt-dataset-file-'));
const sqlite3 = ['/usr/bin/sqlite3', '/usr/local/bin/sqlite3'].find((p) => existsSync(p));

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('DatasetFile', () => {
  describe('open', () => {
    it('should add make-training-database’s columns to a file an earlier version wrote, keeping its rows', () => {
      if (!sqlite3) throw new Error('the sqlite3 command is missing: apt-get install sqlite3 (.ci/run installs it)');
      const path = join(work, 'old.sqlite');
      execFileSync(sqlite3, [
        path,
        `CREATE TABLE posts (id INTEGER PRIMARY KEY, md5 TEXT NOT NULL, file_ext TEXT NOT NULL, tag_string TEXT NOT NULL,
           tag_count_general INTEGER NOT NULL, rating TEXT);
         INSERT INTO posts VALUES (7, '${'a'.repeat(32)}', 'png', 'solo', 1, 'g');`,
      ]);
      const sut = DatasetFile.open(path);
      sut.close();
      const columns = execFileSync(sqlite3, [path, "SELECT name FROM pragma_table_info('posts') ORDER BY cid"])
        .toString()
        .trim()
        .split('\n');
      expect(columns).toEqual([
        'id',
        'md5',
        'file_ext',
        'tag_string',
        'tag_count_general',
        'rating',
        'score',
        'is_deleted',
        'source_ext',
      ]);
      const row = execFileSync(sqlite3, [path, 'SELECT id, md5, file_ext, score, is_deleted FROM posts']).toString();
      expect(row.trim()).toBe(`7|${'a'.repeat(32)}|png||0`);
    });
  });

  describe('checkpoint', () => {
    it('should make written rows visible to another reader only once committed', () => {
      if (!sqlite3) throw new Error('the sqlite3 command is missing: apt-get install sqlite3 (.ci/run installs it)');
      const path = join(work, 'new.sqlite');
      const sut = DatasetFile.open(path);
      try {
        sut.upsert({
          id: 1,
          md5: 'b'.repeat(32),
          file_ext: 'png',
          tag_string: 'solo rating:general',
          tag_count_general: 1,
          rating: 'g',
          score: null,
          is_deleted: 0,
          source_ext: 'webp',
        });
        const count = () => execFileSync(sqlite3, [path, 'SELECT count(*) FROM posts']).toString().trim();
        expect(count()).toBe('0');
        sut.checkpoint();
        expect(count()).toBe('1');
        expect(sut.row(1)).toEqual({ id: 1, md5: 'b'.repeat(32), file_ext: 'png', source_ext: 'webp' });
      } finally {
        sut.close();
      }
    });
  });
});
