/**
 * Shared pieces of `npm run bench` (scripts/bench.ts): progress output, timing, throwaway PostgreSQL databases, the
 * benchmark images, a fake Danbooru filled with posts, and peak-memory sampling.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import sharp, { type Sharp } from 'sharp';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../src/demo/fake-danbooru.server.js';

export const ADMIN_URL = process.env['BENCH_DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export async function timeIt(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** A positive integer from the environment, else `fallback`. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name}=${raw}: expected a non-negative integer`);
  return value;
}

/** A comma list of positive integers from the environment, else `fallback`. */
export function envIntList(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const values = raw.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`${name}=${raw}: expected e.g. 1,4,8`);
  return values;
}

let databaseCounter = 0;

/** A new empty database next to BENCH_DATABASE_URL, or null (with a message) when PostgreSQL is unreachable. */
export async function freshDatabase(): Promise<string | null> {
  const name = `booru_tagger_bench_${process.pid}_${databaseCounter++}`;
  const client = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await client.connect();
  } catch (error) {
    log(`PostgreSQL unreachable at ${ADMIN_URL}: database numbers skipped (${(error as Error).message})`);
    return null;
  }
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name}`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Runs `fn` on a fresh database that is dropped afterwards; null when PostgreSQL is unreachable. */
export async function withFreshDatabase<T>(fn: (url: string) => Promise<T>): Promise<T | null> {
  const url = await freshDatabase();
  if (url === null) return null;
  try {
    return await fn(url);
  } finally {
    await dropDatabase(url);
  }
}

/** A noisy 1600×1200 picture, so encoders cannot cheat on flat colour. */
export function sourceImage(): Sharp {
  const width = 1600;
  const height = 1200;
  const raw = Buffer.alloc(width * height * 3);
  let seed = 12345;
  for (let i = 0; i < raw.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    raw[i] = ((i % (width * 3)) / 12 + (seed >> 24)) & 0xff;
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

export const SOLID_COLORS: ReadonlyArray<readonly [number, number, number]> = [
  [230, 20, 20],
  [20, 220, 30],
  [20, 30, 230],
  [10, 230, 240],
];

/** Flat-colour 720×540 WebP files (the original bench's end-to-end images: cheap to decode). */
export async function solidWebps(): Promise<Buffer[]> {
  return Promise.all(
    SOLID_COLORS.map(([r, g, b]) =>
      sharp({ create: { width: 720, height: 540, channels: 3, background: { r, g, b } } })
        .webp({ quality: 90 })
        .toBuffer(),
    ),
  );
}

/** Noisy 720×540 WebP files, tinted four ways: what Danbooru's 720x720 variant costs to decode. */
export async function noisyWebps(): Promise<Buffer[]> {
  const base = await sourceImage().resize(720, 540).png().toBuffer();
  return Promise.all(SOLID_COLORS.map(([r, g, b]) => sharp(base).tint({ r, g, b }).webp({ quality: 90 }).toBuffer()));
}

/** Real illustrations in ../shared (beside the project), the stand-in for a booru's own posts. */
const SHARED_ILLUSTRATIONS = [
  'fixtures/media/autotagger/hatsune_miku.jpg',
  'fixtures/media/danbooru/dupes/countergirl-srgb.jpg',
];

/**
 * The images of the default-settings runs, and what they are. Real illustrations from ../shared, each re-encoded
 * as Danbooru's 720×720 WebP sample (fit inside 720, quality 90) and mirrored for four distinct files: what a worker
 * decodes on a real booru (20–40 KB, about 10 ms to decode here). Without ../shared, or with BENCH_IMAGES_KIND=noisy,
 * the per-pixel noise WebPs instead: about 200 KB each, the decoder's worst case (about twice the decode time).
 */
export async function defaultRunImages(): Promise<{ kind: string; images: Buffer[] }> {
  const shared = join(import.meta.dirname, '../../shared');
  const paths = SHARED_ILLUSTRATIONS.map((path) => join(shared, path));
  if (process.env['BENCH_IMAGES_KIND'] !== 'noisy' && paths.every((path) => existsSync(path))) {
    const images = await Promise.all(
      paths.flatMap((path) =>
        [false, true].map((mirrored) => {
          const image = sharp(path).resize(720, 720, { fit: 'inside' });
          return (mirrored ? image.flop() : image).webp({ quality: 90 }).toBuffer();
        }),
      ),
    );
    const kB = images.map((image) => Math.round(image.length / 1024)).join('/');
    return { kind: `real illustrations from ../shared as 720 px WebP samples, q90 (${kB} KB)`, images };
  }
  return {
    kind: "per-pixel noise, 720×540 WebP q90 (about 195 KB: the decoder's worst case)",
    images: await noisyWebps(),
  };
}

/** Starts a fake Danbooru with `count` posts (ids 1…count) whose 720x720 variant cycles through `images`. */
export async function startFakeBooru(
  count: number,
  images: readonly Buffer[],
): Promise<{ booru: FakeDanbooruServer; started: StartedFakeDanbooru }> {
  const booru = new FakeDanbooruServer();
  for (let i = 0; i < count; i++) {
    booru.addPostWithMedia({ id: 1 + i, tag_string: '1girl solo red_theme', rating: 'g', md5: `m${i}` }, [
      { type: '720x720', ext: 'webp', width: 720, height: 540, bytes: images[i % images.length]! },
    ]);
  }
  // The server logs every request for tests; a benchmark of thousands of posts does not need that memory.
  booru.requests.length = 0;
  return { booru, started: await booru.start() };
}

/** Peak resident memory, sampled: this process's RSS, or another process's VmHWM from /proc (Linux). */
export class PeakMemory {
  peakBytes = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly pid: number | null = null) {}

  start(intervalMs = 50): this {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), intervalMs);
    this.timer.unref();
    return this;
  }

  async stop(): Promise<number> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sample();
    return this.peakBytes;
  }

  private async sample(): Promise<void> {
    if (this.pid === null) {
      this.peakBytes = Math.max(this.peakBytes, process.memoryUsage.rss());
      return;
    }
    try {
      const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
      // VmHWM is the kernel's own high-water mark of the RSS, so short peaks between samples are not missed.
      const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
      if (hwm) this.peakBytes = Math.max(this.peakBytes, Number(hwm[1]) * 1024);
    } catch {
      // The process has exited (or this is not Linux): keep the last reading.
    }
  }
}

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on Linux unless told otherwise). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a /proc `stat` line, in seconds (fields 14 and 15, counted after the command's closing bracket). */
function cpuSecondsOf(statLine: string): number {
  const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * CPU time, sampled from /proc (Linux; elsewhere nothing is recorded): each thread of process `pid` (`t<tid>`), and
 * each other process whose command line contains `alsoMatching` (`p<pid>`, e.g. the PostgreSQL backends of the run's
 * database), plus this process (`bench`: the fake booru and the sampling).
 */
export class CpuSampler {
  readonly samples: { at: number; seconds: Map<string, number> }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly unmatched = new Set<string>();

  constructor(
    private readonly pid: number | null,
    private readonly alsoMatching: string | null = null,
  ) {}

  start(intervalMs = 500): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** CPU seconds used per key between the first sample at or after `from` and the last one at or before `to`. */
  between(from: number, to: number): { seconds: number; used: Map<string, number> } | null {
    const first = this.samples.find((s) => s.at >= from);
    const last = this.samples.findLast((s) => s.at <= to);
    if (!first || !last || last.at <= first.at) return null;
    const used = new Map<string, number>();
    for (const [key, value] of last.seconds) used.set(key, value - (first.seconds.get(key) ?? 0));
    return { seconds: (last.at - first.at) / 1000, used };
  }

  private sample(): void {
    if (this.pid === null || !existsSync(`/proc/${this.pid}`)) return;
    const seconds = new Map<string, number>();
    const usage = process.cpuUsage();
    seconds.set('bench', (usage.user + usage.system) / 1e6);
    try {
      for (const tid of readdirSync(`/proc/${this.pid}/task`)) {
        seconds.set(`t${tid}`, cpuSecondsOf(readFileSync(`/proc/${this.pid}/task/${tid}/stat`, 'utf8')));
      }
      if (this.alsoMatching !== null) {
        for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name) && !this.unmatched.has(name))) {
          try {
            if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.alsoMatching)) {
              // Read once: the sampling itself must cost the machine next to nothing.
              this.unmatched.add(pid);
              continue;
            }
            seconds.set(`p${pid}`, cpuSecondsOf(readFileSync(`/proc/${pid}/stat`, 'utf8')));
          } catch {
            // Gone meanwhile.
          }
        }
      }
    } catch {
      // The process exited between the check and the reads: this sample is dropped.
      return;
    }
    // A thread that ended keeps its last reading, so that later windows do not count it as negative.
    const previous = this.samples.at(-1);
    if (previous) for (const [key, value] of previous.seconds) if (!seconds.has(key)) seconds.set(key, value);
    this.samples.push({ at: performance.now(), seconds });
  }
}

export function mib(bytes: number): number {
  return round(bytes / 2 ** 20);
}
