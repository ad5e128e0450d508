import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaPg } from '@prisma/adapter-pg';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { TagRepository } from '../../src/db/tag.repository.js';
import { PrismaClient } from '../../src/db/generated/client.js';
import { readMigrations, DEFAULT_MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { ReadinessRepository } from '../../src/db/readiness.repository.js';
import { WorkerRepository } from '../../src/db/worker.repository.js';
import { createEmptyDatabase, useTestDatabase } from '../helpers/test-db.js';

describe('ReadinessRepository', () => {
  const database = useTestDatabase();
  let empty: Awaited<ReturnType<typeof createEmptyDatabase>>;
  let emptyPrisma: PrismaClient;

  beforeAll(async () => {
    empty = await createEmptyDatabase();
    emptyPrisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: empty.url }) });
  });

  afterAll(async () => {
    await emptyPrisma?.$disconnect();
    await empty?.drop();
  });

  describe('migrationState', () => {
    it('should find nothing pending on a migrated database, and name one it does not know', async () => {
      const sut = new ReadinessRepository(database().prisma);
      expect(await sut.migrationState()).toEqual({ pending: [], unknown: [] });
      await database().prisma.$executeRawUnsafe(
        `INSERT INTO booru_tagger_migrations (name, checksum) VALUES ('29991231000000_from_the_future', 'x')`,
      );
      expect(await sut.migrationState()).toEqual({ pending: [], unknown: ['29991231000000_from_the_future'] });
      await database().prisma.$executeRawUnsafe(
        `DELETE FROM booru_tagger_migrations WHERE name = '29991231000000_from_the_future'`,
      );
    });

    it('should find every migration pending on a database never migrated', async () => {
      const names = (await readMigrations(DEFAULT_MIGRATIONS_DIR)).map((m) => m.name);
      expect(await new ReadinessRepository(emptyPrisma).migrationState()).toEqual({ pending: names, unknown: [] });
    });
  });

  describe('lastTagSyncs and liveWorkers', () => {
    it('should report the tagged boorus with their last complete tag sync, and live workers with the booru time', async () => {
      const prisma = database().prisma;
      const sut = new ReadinessRepository(prisma);
      const boorus = new BooruRepository(prisma);
      const tagged = await boorus.ensure({ name: 'dan', kind: 'danbooru', baseUrl: 'http://dan.test' });
      await boorus.ensure({ name: 'idle', kind: 'danbooru', baseUrl: 'http://idle.test' });
      const modelId = await new ModelRepository(prisma).ensure({
        name: 'm',
        version: '1',
        sha256: 'e'.repeat(64),
        family: 'wd',
        purpose: 'tags',
        labels: [],
        manifest: {},
      });
      await boorus.setActiveModel(tagged.id, modelId);
      expect(await sut.lastTagSyncs()).toEqual([{ booru: 'dan', syncedAt: null, error: null }]);
      const tags = new TagRepository(prisma);
      const okSync = await tags.startSync(tagged.id, new Date('2026-12-07T09:00:00Z'));
      await tags.finishSync(okSync, new Date('2026-12-07T09:01:00Z'), null);
      expect(await sut.lastTagSyncs()).toEqual([
        { booru: 'dan', syncedAt: new Date('2026-12-07T09:01:00Z'), error: null },
      ]);
      // A pass still running is not counted; a failed one is, with its reason.
      await tags.startSync(tagged.id, new Date('2026-12-07T09:30:00Z'));
      const failed = await tags.startSync(tagged.id, new Date('2026-12-07T09:40:00Z'));
      await tags.finishSync(failed, new Date('2026-12-07T09:41:00Z'), 'BOORU_HTTP: 502');
      expect(await sut.lastTagSyncs()).toEqual([
        { booru: 'dan', syncedAt: new Date('2026-12-07T09:41:00Z'), error: 'BOORU_HTTP: 502' },
      ]);

      const status = new WorkerRepository(prisma);
      await status.registerWorker({ id: 'h:1', host: 'h', pid: 1, provider: 'cpu', model: 'm 1' });
      const ok = new Date('2026-12-07T10:00:00Z');
      await status.beatWorker('h:1', 3, ok);
      expect(await sut.liveWorkers()).toEqual([
        { id: 'h:1', provider: 'cpu', model: 'm 1', lastSeenAt: expect.any(Date), booruOkAt: ok },
      ]);
      await status.beatWorker('h:1', 4);
      expect((await sut.liveWorkers())[0]?.booruOkAt).toEqual(ok);
    });
  });
});
