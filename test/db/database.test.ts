import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import type { AppError } from '../../src/shared/errors.js';
import { createEmptyDatabase, silentLogger } from '../helpers/test-db.js';

describe('openDatabase', () => {
  const sut = openDatabase;

  describe('with a PostgreSQL URL', () => {
    it('should migrate an empty database and return a working client', async () => {
      const empty = await createEmptyDatabase();
      try {
        const db = await sut({ url: empty.url, dataDir: 'unused', logger: silentLogger });
        try {
          expect(db.kind).toBe('postgres');
          expect(db.migrations.length).toBeGreaterThan(0);
          expect(await db.prisma.post.count()).toBe(0);
        } finally {
          await db.close();
        }
        const again = await sut({ url: empty.url, dataDir: 'unused', logger: silentLogger });
        expect(again.migrations).toEqual([]);
        await again.close();
      } finally {
        await empty.drop();
      }
    });

    it('should skip migrations when asked to', async () => {
      const empty = await createEmptyDatabase();
      try {
        const db = await sut({ url: empty.url, dataDir: 'unused', logger: silentLogger, migrate: false });
        try {
          expect(db.migrations).toEqual([]);
          await expect(db.prisma.post.count()).rejects.toThrow();
        } finally {
          await db.close();
        }
      } finally {
        await empty.drop();
      }
    });

    it('should fail with DB_UNAVAILABLE when the server cannot be reached', async () => {
      const error = await sut({
        url: 'postgresql://postgres@127.0.0.1:1/none',
        dataDir: 'unused',
        logger: silentLogger,
        migrate: false,
      }).catch((e: unknown) => e);

      expect((error as AppError).code).toBe('DB_UNAVAILABLE');
    });
  });
});
