/**
 * The per-minute tag-change budget shared through PostgreSQL: two processes (two Prisma clients, each with its own
 * connection pool, on one database) writing to one booru account spend from one budget, so together they stay within
 * the account's limit. With a budget per process each would spend the whole limit.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BooruClient } from '../../src/booru/booru-client.js';
import { createBooruAdapter } from '../../src/booru/booru-factory.js';
import { BooruHttp } from '../../src/booru/http.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import { CursorRepository } from '../../src/db/cursor.repository.js';
import { PrismaClient } from '../../src/db/generated/client.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { TagBudgetRepository } from '../../src/db/tag-budget.repository.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { applyApproved } from '../../src/worker/apply-approved.job.js';
import { crawlNewPosts } from '../../src/worker/crawl-posts.job.js';
import { uniqueBaseUrl } from '../helpers/factories.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { storeDiff } from '../helpers/seed.js';

describe('tag-change budget shared across processes', () => {
  const database = useTestDatabase();
  const closers: (() => Promise<void>)[] = [];
  /** A second "process": its own client and pool on the same database. */
  let other: PrismaClient | undefined;
  const otherPrisma = () => {
    other ??= new PrismaClient({ adapter: new PrismaPg({ connectionString: database().url }) });
    return other;
  };

  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  afterAll(async () => {
    await other?.$disconnect();
  });

  it('should let exactly the budget through when two processes take from it in parallel', async () => {
    const scope = 'https://dan.example parallel';
    const budgets = [database().prisma, otherPrisma()].map((p) => new TagBudgetRepository(p, { scope, perMinute: 10 }));
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => budgets[i % 2]!.tryTake(1)));
    expect(answers.filter((wait) => wait === 0)).toHaveLength(10);
    for (const wait of answers.filter((w) => w !== 0)) expect(wait).toBeGreaterThan(0);
    // What was taken is on record once per take, under this scope only.
    expect(await database().prisma.tagBudgetSpend.count({ where: { scope } })).toBe(10);
    expect(
      await new TagBudgetRepository(database().prisma, { scope: 'another account', perMinute: 10 }).tryTake(10),
    ).toBe(0);
  });

  it('should free the budget as spends leave the window', async () => {
    let now = Date.parse('2026-12-07T06:00:00Z');
    const clock = () => now;
    const scope = 'https://dan.example window';
    const [a, b] = [database().prisma, otherPrisma()].map(
      (p) => new TagBudgetRepository(p, { scope, perMinute: 3, now: clock }),
    );
    expect(await a!.tryTake(2)).toBe(0);
    now += 10_000;
    expect(await b!.tryTake(1)).toBe(0);
    // Full: the first spend (2) leaves the window 50 s from now.
    expect(await b!.tryTake(2)).toBe(50_000);
    expect(await a!.tryTake(4)).toBe(Number.POSITIVE_INFINITY);
    now += 50_000;
    expect(await b!.tryTake(2)).toBe(0);
  });

  it('should keep two appliers writing to one account within one budget, the rest left approved', async () => {
    const server = new FakeDanbooruServer();
    server.addPosts(
      [1, 2, 3, 4, 5, 6].map((id) => ({ id, tag_string: 'solo', file_url: `https://cdn.donmai.us/${id}.jpg` })),
    );
    await server.start();
    closers.push(() => server.close());
    // Two workers' databases views of two boorus (one account): each applies its own approved suggestions.
    const appliers = await Promise.all(
      [database().prisma, otherPrisma()].map(async (prisma, n) => {
        const http = new BooruHttp({
          baseUrl: server.url,
          userAgent: 'booru-tagger/0.1 (budget test)',
          logger: silentLogger,
        });
        closers.push(() => http.close());
        const booru: BooruClient = createBooruAdapter('danbooru', http, silentLogger);
        const repos = {
          posts: new PostRepository(prisma),
          cursors: new CursorRepository(prisma),
          suggestions: new SuggestionRepository(prisma),
        };
        const stored = uniqueBaseUrl(server.url);
        const record = await new BooruRepository(prisma).ensure({ name: stored, baseUrl: stored, kind: 'danbooru' });
        const modelId = await new ModelRepository(prisma).ensure({
          name: 'm',
          version: `budget-${n}`,
          sha256: `sha-budget-${n}`,
          family: 'wd',
          purpose: 'tags',
          labels: [],
          manifest: {},
        });
        await crawlNewPosts(
          { ...repos, booru, logger: silentLogger },
          { booruId: record.id, minMediaSize: 1, maxPosts: 0 },
        );
        // Worker n approves one addition on three posts of its own.
        for (const remoteId of [1, 2, 3].map((i) => i + n * 3)) {
          const post = (await repos.posts.findByRemoteId(record.id, remoteId))!;
          await storeDiff(prisma, {
            postId: post.id,
            modelId,
            tagsVersion: post.tagsVersion,
            drafts: [{ tag: 'hat', action: 'add', category: 0, score: 0.9, reason: 'test' }],
          });
        }
        await repos.suggestions.decideAll({
          verdict: 'approve',
          user: { id: null, name: 'mod' },
          origin: 'test',
          booruId: record.id,
        });
        const budget = new TagBudgetRepository(prisma, { scope: `${server.url} one-account`, perMinute: 4 });
        return { deps: { ...repos, booru, logger: silentLogger, budget }, booruId: record.id };
      }),
    );
    const summaries = await Promise.all(
      appliers.map(({ deps, booruId }) => applyApproved(deps, { booruId, maxBudgetWaitMs: 0 })),
    );
    const applied = summaries.reduce((n, s) => n + s.applied, 0);
    const deferred = summaries.reduce((n, s) => n + s.budgetDeferred, 0);
    expect(applied).toBe(4);
    expect(deferred).toBe(2);
    // The booru saw exactly four tag changes: four edits of one tag each.
    const edited = [1, 2, 3, 4, 5, 6].filter((id) => server.getPost(id)?.tag_string === 'hat solo');
    expect(edited).toHaveLength(4);
    expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(4);
  });
});
