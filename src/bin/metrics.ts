/**
 * Prometheus metrics through prom-client. Two kinds, both on every scrape:
 * - this process's own counters and histograms (posts crawled, tagged and failed, booru requests, stage latencies),
 *   which start at zero when the process starts, as Prometheus expects of counters;
 * - cluster-wide numbers read from the database at scrape time, where the database is the truth whatever process is
 *   asked (queue depths, suggestions, decisions, write-backs, leases, workers, tag-sync age). Every process reports
 *   the same values for these: aggregate them with `max`, not `sum`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BooruRequestEvent } from '../booru/http.js';
import type { MetricsRepository } from '../db/metrics.repository.js';
import type { ServiceStatus } from '../db/worker.repository.js';
import type { CrawlSummary } from '../worker/crawl-posts.job.js';
import type { PipelineObserver, PipelineStage } from '../worker/pipeline-observer.js';

/** Latency buckets in seconds, from a 1 ms diff to a 30 s download. */
const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsSources {
  database: MetricsRepository;
  /** Throughput and failures by reason (the status page's numbers). */
  status: () => Promise<ServiceStatus>;
}

export class ProcessMetrics implements PipelineObserver {
  readonly registry = new Registry();
  private readonly crawled: Counter<'outcome'>;
  private readonly taggedPosts: Counter;
  private readonly failedPosts: Counter<'reason' | 'retry'>;
  private readonly booruRequests: Counter<'target' | 'method' | 'status'>;
  private readonly booruSeconds: Histogram<'target'>;
  private readonly stageSeconds: Histogram<'stage'>;
  private readonly db: {
    up: Gauge;
    posts: Gauge<'state'>;
    suggestions: Gauge<'action' | 'status'>;
    decisions: Counter<'action' | 'verdict'>;
    writeBacks: Counter<'outcome'>;
    leases: Gauge<'state'>;
    leaseOverdue: Gauge;
    workers: Gauge;
    syncAge: Gauge<'booru'>;
    taggedPerMinute: Gauge<'window'>;
    failedByReason: Gauge<'reason'>;
    workerTagged: Gauge<'worker' | 'provider' | 'model'>;
  };

  constructor(private readonly sources: MetricsSources | null) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'booru_tagger_' });
    this.crawled = new Counter({
      name: 'booru_tagger_posts_crawled_total',
      help: 'Posts listed by this process’s crawls, by outcome (new, updated, skipped).',
      labelNames: ['outcome'],
      registers,
    });
    this.taggedPosts = new Counter({
      name: 'booru_tagger_posts_tagged_total',
      help: 'Posts scored, diffed and written by this process.',
      registers,
    });
    this.failedPosts = new Counter({
      name: 'booru_tagger_posts_failed_total',
      help: 'Post failures in this process by error code; retry="true" when the post went back to the pool.',
      labelNames: ['reason', 'retry'],
      registers,
    });
    this.booruRequests = new Counter({
      name: 'booru_tagger_booru_requests_total',
      help: 'Requests this process sent to the booru (each retry counts), by target (api, media), method and status.',
      labelNames: ['target', 'method', 'status'],
      registers,
    });
    this.booruSeconds = new Histogram({
      name: 'booru_tagger_booru_request_seconds',
      help: 'Time to the booru’s response headers, by target (api, media).',
      labelNames: ['target'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.stageSeconds = new Histogram({
      name: 'booru_tagger_stage_seconds',
      help: 'Tag pipeline latency: download and decode per post, inference per image, diff per batch, store per write.',
      labelNames: ['stage'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.db = {
      up: new Gauge({
        name: 'booru_tagger_database_up',
        help: '1 when this scrape could read the database, else 0 (the database metrics are then absent).',
        registers,
      }),
      posts: new Gauge({
        name: 'booru_tagger_posts',
        help: 'Posts by pipeline state (queue depths), cluster-wide.',
        labelNames: ['state'],
        registers,
      }),
      suggestions: new Gauge({
        name: 'booru_tagger_suggestions',
        help: 'Suggestions by action and status, cluster-wide.',
        labelNames: ['action', 'status'],
        registers,
      }),
      decisions: new Counter({
        name: 'booru_tagger_suggestion_decisions_total',
        help: 'Decisions recorded on suggestions (approve, reject, undo…) by the suggestion’s action, cluster-wide.',
        labelNames: ['action', 'verdict'],
        registers,
      }),
      writeBacks: new Counter({
        name: 'booru_tagger_write_backs_total',
        help: 'Write-backs to the booru by outcome, cluster-wide.',
        labelNames: ['outcome'],
        registers,
      }),
      leases: new Gauge({
        name: 'booru_tagger_leases',
        help: 'Posts leased to a worker: held (lease running) or expired (waiting to be taken again).',
        labelNames: ['state'],
        registers,
      }),
      leaseOverdue: new Gauge({
        name: 'booru_tagger_lease_overdue_seconds',
        help: 'How long the oldest expired lease has been expired (0 when none): no worker is taking work back.',
        registers,
      }),
      workers: new Gauge({
        name: 'booru_tagger_workers',
        help: 'Worker processes that reported in the last 2 minutes.',
        registers,
      }),
      syncAge: new Gauge({
        name: 'booru_tagger_tag_sync_age_seconds',
        help: 'Seconds since the last complete tag sync of each booru (absent: never synced).',
        labelNames: ['booru'],
        registers,
      }),
      taggedPerMinute: new Gauge({
        name: 'booru_tagger_tagged_per_minute',
        help: 'Posts tagged per minute over a window, cluster-wide.',
        labelNames: ['window'],
        registers,
      }),
      failedByReason: new Gauge({
        name: 'booru_tagger_failed_posts',
        help: 'Posts in the failed state by reason, cluster-wide.',
        labelNames: ['reason'],
        registers,
      }),
      workerTagged: new Gauge({
        name: 'booru_tagger_worker_tagged',
        help: 'Posts tagged by each live worker since it started.',
        labelNames: ['worker', 'provider', 'model'],
        registers,
      }),
    };
  }

  stage(stage: PipelineStage, seconds: number): void {
    this.stageSeconds.observe({ stage }, seconds);
  }

  tagged(posts: number): void {
    if (posts > 0) this.taggedPosts.inc(posts);
  }

  failed(reason: string, willRetry: boolean): void {
    this.failedPosts.inc({ reason, retry: String(willRetry) });
  }

  booruRequest(event: BooruRequestEvent): void {
    this.booruRequests.inc({ target: event.target, method: event.method, status: String(event.status) });
    this.booruSeconds.observe({ target: event.target }, event.seconds);
  }

  crawl(summary: Pick<CrawlSummary, 'inserted' | 'updated' | 'skipped'>): void {
    this.crawled.inc({ outcome: 'new' }, summary.inserted);
    this.crawled.inc({ outcome: 'updated' }, summary.updated);
    this.crawled.inc({ outcome: 'skipped' }, summary.skipped);
  }

  /** The exposition text: the database numbers are read now; a database that fails leaves them out. */
  async scrape(): Promise<string> {
    await this.refreshFromDatabase();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async refreshFromDatabase(): Promise<void> {
    const db = this.db;
    const fromDatabase = [
      db.posts,
      db.suggestions,
      db.decisions,
      db.writeBacks,
      db.leases,
      db.leaseOverdue,
      db.workers,
      db.syncAge,
      db.taggedPerMinute,
      db.failedByReason,
      db.workerTagged,
    ];
    for (const metric of fromDatabase) metric.reset();
    if (!this.sources) return;
    try {
      const [facts, status] = await Promise.all([this.sources.database.read(), this.sources.status()]);
      for (const p of facts.postsByState) db.posts.set({ state: p.state }, p.count);
      for (const s of facts.suggestions) db.suggestions.set({ action: s.action, status: s.status }, s.count);
      for (const d of facts.decisions) db.decisions.inc({ action: d.action, verdict: d.verdict }, d.count);
      for (const w of facts.writeBacks) db.writeBacks.inc({ outcome: w.outcome }, w.count);
      db.leases.set({ state: 'held' }, facts.leases.held);
      db.leases.set({ state: 'expired' }, facts.leases.expired);
      db.leaseOverdue.set(facts.leases.oldestExpiredSeconds);
      db.workers.set(facts.liveWorkers);
      for (const s of facts.tagSyncAgeSeconds) if (s.seconds !== null) db.syncAge.set({ booru: s.booru }, s.seconds);
      db.taggedPerMinute.set({ window: '1m' }, status.throughput.lastMinute);
      db.taggedPerMinute.set({ window: '10m' }, status.throughput.last10Minutes);
      db.taggedPerMinute.set({ window: '1h' }, status.throughput.lastHour);
      for (const f of status.failuresByReason) db.failedByReason.set({ reason: f.reason }, f.count);
      for (const w of status.workers)
        db.workerTagged.set({ worker: w.id, provider: w.provider, model: w.model }, w.tagged);
      db.up.set(1);
    } catch {
      for (const metric of fromDatabase) metric.reset();
      db.up.set(0);
    }
  }
}
