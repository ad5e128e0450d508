/**
 * /metrics through the dashboard's real route, on real parts: a local Danbooru on loopback, the bundled model in
 * onnxruntime-node, a fresh PostgreSQL database, the service's own job handlers and tag pipeline. A scrape before and
 * one after a crawl → tag → approve → apply run are parsed strictly (Prometheus' text format) and compared: the
 * counters and the latency histograms moved by what the run did, and the database numbers match the database.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildJobHandlers } from '../../src/bin/jobs.js';
import { openRepositories, type Repositories } from '../../src/bin/context.js';
import { ProcessMetrics } from '../../src/bin/metrics.js';
import { openService, type Service } from '../../src/bin/service.js';
import { loadConfig } from '../../src/config/config.js';
import { buildDashboard } from '../../src/dashboard/app.js';
import type { Database } from '../../src/db/database.js';
import { MetricsRepository } from '../../src/db/metrics.repository.js';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { tagPendingPosts } from '../../src/worker/tag-posts.job.js';
import { makeSolidPng } from '../helpers/images.js';
import { type Exposition, parseExposition } from '../helpers/prometheus-text.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';
import { statusSourceOf } from '../../src/dashboard/status-source.js';

const TOKEN = 'metrics-token-0123456789';
const POSTS = 6;

describe('/metrics', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;
  let opened: { db: Database; repos: Repositories };
  let service: Service;
  let app: FastifyInstance;
  let metrics: ProcessMetrics;

  beforeAll(async () => {
    const red = await makeSolidPng(64, 64, [230, 20, 20]);
    for (let id = 1; id <= POSTS; id++) {
      booru.addPostWithMedia({ id, tag_string: '1girl solo', rating: 's', md5: `m${id}` }, [
        { type: 'original', ext: 'png', width: 64, height: 64, bytes: red },
      ]);
    }
    // The model's labels exist on the booru (the diff drops unknown tags): each red post gets `add red_theme`.
    booru.addTags([{ name: 'red_theme' }, { name: 'green_theme' }, { name: 'blue_theme' }]);
    started = await booru.start();
    const config = loadConfig({ DATABASE_URL: database().url, BOORU_URL: started.url, DEVICE: 'cpu' });
    opened = await openRepositories(config, silentLogger);
    const { repos } = opened;
    metrics = new ProcessMetrics({
      database: new MetricsRepository(opened.db.prisma),
      status: () => repos.workers.status(),
    });
    service = await openService(config, silentLogger, repos, started.url, {
      onBooruRequest: (event) => metrics.booruRequest(event),
    });
    app = await buildDashboard({
      ...repos,
      statusSource: statusSourceOf(() => repos.workers.status()),
      logger: silentLogger,
      health: { metrics, metricsToken: TOKEN },
    });
  });

  afterAll(async () => {
    await app?.close();
    await service?.close();
    await opened?.db.close();
    await started?.close();
  });

  const scrape = async (authorization = `Bearer ${TOKEN}`) =>
    app.inject({ method: 'GET', url: '/metrics', headers: { authorization } });

  it('should refuse a scrape without the token, or with another', async () => {
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    expect((await scrape(`Bearer ${TOKEN}x`)).statusCode).toBe(401);
    expect((await scrape('Basic abc')).statusCode).toBe(401);
  });

  it('should move the counters and histograms by what a crawl, tag, approve and apply run did', async () => {
    const first = await scrape();
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const before = parseExposition(first.body);
    expectTypes(before);
    expect(before.value('booru_tagger_database_up')).toBe(1);
    expect(before.value('booru_tagger_posts_tagged_total')).toBe(0);
    expect(before.sum('booru_tagger_stage_seconds_count')).toBe(0);

    const { repos } = opened;
    const handlers = buildJobHandlers(loadConfig({ DEVICE: 'cpu' }), silentLogger, repos, service, metrics);
    await handlers['sync-tags']();
    await handlers['crawl-new-posts']();
    const tag = await tagPendingPosts(
      { ...repos, booru: service.booru, tagger: service.tagger, logger: silentLogger, observer: metrics },
      await service.tagOptions(),
    );
    expect(tag.tagged).toBe(POSTS);
    await repos.suggestions.decideAll({ verdict: 'approve', user: { id: null, name: 'tester' }, origin: 'cli' });
    await handlers['apply-approved']();

    const after = parseExposition((await scrape()).body);
    expectTypes(after);
    // This process's counters: what the run did.
    expect(after.value('booru_tagger_posts_crawled_total', { outcome: 'new' })).toBe(POSTS);
    expect(after.value('booru_tagger_posts_tagged_total')).toBe(POSTS);
    expect(after.sum('booru_tagger_posts_failed_total')).toBe(0);
    expect(after.sum('booru_tagger_booru_requests_total', { target: 'media', status: '200' })).toBe(POSTS);
    expect(after.sum('booru_tagger_booru_requests_total', { target: 'api', method: 'PUT' })).toBe(POSTS);
    expect(after.value('booru_tagger_booru_request_seconds_count', { target: 'media' })).toBe(POSTS);
    for (const stage of ['download', 'decode', 'inference']) {
      expect(after.value('booru_tagger_stage_seconds_count', { stage }), stage).toBe(POSTS);
      expect(after.value('booru_tagger_stage_seconds_bucket', { stage, le: '+Inf' }), stage).toBe(POSTS);
      expect(after.value('booru_tagger_stage_seconds_sum', { stage }), stage).toBeGreaterThan(0);
    }
    expect(after.value('booru_tagger_stage_seconds_count', { stage: 'diff' })).toBeGreaterThan(0);
    expect(after.value('booru_tagger_stage_seconds_count', { stage: 'store' })).toBeGreaterThan(0);
    // The database's numbers, whatever process is asked.
    const prisma = database().prisma;
    expect(after.value('booru_tagger_posts', { state: 'tagged' })).toBe(POSTS);
    const applied = await prisma.suggestion.count({ where: { status: 'applied' } });
    expect(applied).toBeGreaterThan(0);
    expect(after.sum('booru_tagger_suggestions', { status: 'applied' })).toBe(applied);
    expect(after.sum('booru_tagger_suggestion_decisions_total', { verdict: 'approve' })).toBe(
      await prisma.decision.count({ where: { action: 'approve' } }),
    );
    expect(after.sum('booru_tagger_write_backs_total')).toBe(await prisma.tagEdit.count());
    expect(after.sum('booru_tagger_write_backs_total')).toBeGreaterThan(0);
    expect(after.value('booru_tagger_leases', { state: 'held' })).toBe(0);
    const syncAge = after.samples.find((s) => s.name === 'booru_tagger_tag_sync_age_seconds');
    expect(syncAge?.value).toBeGreaterThanOrEqual(0);
    expect(syncAge?.value).toBeLessThan(60);
  });
});

function expectTypes(exposition: Exposition): void {
  for (const [name, type] of [
    ['booru_tagger_posts_crawled_total', 'counter'],
    ['booru_tagger_posts_tagged_total', 'counter'],
    ['booru_tagger_posts_failed_total', 'counter'],
    ['booru_tagger_booru_requests_total', 'counter'],
    ['booru_tagger_suggestion_decisions_total', 'counter'],
    ['booru_tagger_write_backs_total', 'counter'],
    ['booru_tagger_stage_seconds', 'histogram'],
    ['booru_tagger_booru_request_seconds', 'histogram'],
    ['booru_tagger_posts', 'gauge'],
    ['booru_tagger_leases', 'gauge'],
    ['booru_tagger_workers', 'gauge'],
    ['booru_tagger_tag_sync_age_seconds', 'gauge'],
  ] as const) {
    expect(exposition.types.get(name), name).toBe(type);
  }
}
