/**
 * `npm run bench`, worker processes: `node bin/booru-tagger.js run --once --json` processes, as an operator starts
 * them, against one fresh database and one fake Danbooru served by the bench process. Gives the throughput with 1 and
 * 2 workers, each worker's peak RSS, and whether every post was tagged exactly once between them.
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadTagger, openRepositories } from '../src/bin/context.js';
import { loadConfig } from '../src/config/config.js';
import {
  CpuSampler,
  log,
  mib,
  noisyWebps,
  PeakMemory,
  round,
  startFakeBooru,
  withFreshDatabase,
} from './bench-support.js';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(PROJECT_ROOT, 'bin', 'booru-tagger.js');

export interface WorkerOutcome {
  pid: number;
  exitCode: number | null;
  peakRssBytes: number;
  /** The process's `--json` summary. */
  summary: { tagged?: number; failed?: number; seconds?: number; [key: string]: unknown } | null;
  stderrTail: string;
  /** From spawn to exit, ms. */
  wallMs: number;
  /** performance.now() at spawn, for windows of `cpu`. */
  spawnedAt: number;
  /** The process's threads' CPU (and that of processes matching `cpuAlsoMatching`), sampled every 0.5 s. */
  cpu: CpuSampler;
}

/**
 * Runs `booru-tagger run --once --json` with exactly `env`, sampling its peak RSS and its threads' CPU (and that of
 * the processes whose command line contains `cpuAlsoMatching`).
 */
export function runWorker(env: NodeJS.ProcessEnv, cpuAlsoMatching: string | null = null): Promise<WorkerOutcome> {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [CLI, 'run', '--once', '--json'], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const memory = new PeakMemory(child.pid ?? null).start(100);
  const cpu = new CpuSampler(child.pid ?? null, cpuAlsoMatching).start(500);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return new Promise((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const wallMs = performance.now() - spawnedAt;
      cpu.stop();
      void memory.stop().then((peakRssBytes) => {
        let summary: WorkerOutcome['summary'] = null;
        try {
          summary = JSON.parse(stdout.trim().split('\n').pop() ?? 'null');
        } catch {
          summary = null;
        }
        resolvePromise({
          pid: child.pid ?? 0,
          exitCode: code,
          peakRssBytes,
          summary,
          stderrTail: stderr,
          wallMs,
          spawnedAt,
          cpu,
        });
      });
    });
  });
}

export interface WorkersResult {
  workers: number;
  posts: number;
  /** From the first spawn to the last exit: start-up, model load, crawl and tagging. */
  seconds: number;
  postsPerSecond: number;
  /** Posts tagged per second of the longest worker's own `run --once` (start-up and model load excluded). */
  postsPerSecondExcludingStartup: number;
  taggedByWorker: number[];
  /** Posts in state `tagged` in the database afterwards, and prediction rows: both must equal `posts`. */
  postsTagged: number;
  predictions: number;
  everyPostTaggedOnce: boolean;
  peakRssMiBByWorker: number[];
  failedWorkers: number;
}

/**
 * Runs `workers` CLI processes at once over `posts` fresh posts on the bundled test model. Returns null when
 * PostgreSQL is unreachable.
 */
export async function benchWorkerProcesses(
  workers: number,
  posts: number,
  extraEnv: Record<string, string> = {},
): Promise<WorkersResult | null> {
  const logger = pino({ level: 'silent' });
  return withFreshDatabase(async (databaseUrl) => {
    const { started } = await startFakeBooru(posts, await noisyWebps());
    try {
      // Migrate and register the booru and the model before the workers start, so that they only read those rows
      // (the CLI names the booru after the host, as here).
      const config = loadConfig({ DATABASE_URL: databaseUrl, BOORU_URL: started.url, DEVICE: 'cpu' });
      const { db, repos } = await openRepositories(config, logger);
      const tagger = await loadTagger(config, logger);
      try {
        const booru = await repos.boorus.ensure({
          name: new URL(started.url).host,
          kind: 'danbooru',
          baseUrl: started.url,
        });
        const modelId = await repos.models.ensure({
          ...tagger.model,
          purpose: 'tags',
          labels: [...tagger.model.labels],
          manifest: { ...tagger.model.recipe },
        });
        await repos.boorus.setActiveModel(booru.id, modelId);
      } finally {
        await tagger.close();
      }

      const env: NodeJS.ProcessEnv = {
        ...process.env,
        DATABASE_URL: databaseUrl,
        BOORU_URL: started.url,
        DEVICE: 'cpu',
        TAGGER_LOG_LEVEL: 'warn',
        ...extraEnv,
      };
      delete env['MODEL_DIR'];
      log(`workers: ${workers} process(es) over ${posts} posts`);
      const t0 = performance.now();
      const outcomes = await Promise.all(Array.from({ length: workers }, () => runWorker(env)));
      const seconds = (performance.now() - t0) / 1000;
      for (const outcome of outcomes.filter((o) => o.exitCode !== 0)) {
        log(`worker ${outcome.pid} exited ${outcome.exitCode}: ${outcome.stderrTail}`);
      }
      const [counts] = await db.prisma.$queryRaw<{ tagged: bigint; predictions: bigint }[]>`
        SELECT (SELECT count(*) FROM posts WHERE state = 'tagged') AS tagged,
               (SELECT count(*) FROM predictions) AS predictions`;
      await db.close();
      const taggedByWorker = outcomes.map((o) => o.summary?.tagged ?? 0);
      const postsTagged = Number(counts?.tagged ?? 0);
      const predictions = Number(counts?.predictions ?? 0);
      const longest = Math.max(...outcomes.map((o) => o.summary?.seconds ?? seconds));
      const result: WorkersResult = {
        workers,
        posts,
        seconds: round(seconds),
        postsPerSecond: round(postsTagged / seconds),
        postsPerSecondExcludingStartup: round(postsTagged / longest),
        taggedByWorker,
        postsTagged,
        predictions,
        everyPostTaggedOnce:
          postsTagged === posts && predictions === posts && taggedByWorker.reduce((a, b) => a + b, 0) === posts,
        peakRssMiBByWorker: outcomes.map((o) => mib(o.peakRssBytes)),
        failedWorkers: outcomes.filter((o) => o.exitCode !== 0).length,
      };
      log(
        `workers: ${workers} → ${result.postsPerSecond} posts/s, peak RSS ${result.peakRssMiBByWorker.join(', ')} MiB`,
      );
      return result;
    } finally {
      await started.close();
    }
  });
}
