/**
 * Times the dashboard's main pages on the database `scripts/seed-dashboard.ts` fills (100,000 pending suggestions):
 * each page is requested through Fastify's injector as a signed-in moderator (database queries, rendering and all),
 * once to warm up, then RUNS times; prints the median and the slowest per page as JSON.
 *
 *   npx tsx scripts/seed-dashboard.ts && npx tsx scripts/time-dashboard.ts [URL] [RUNS]
 */
import { pino } from 'pino';
import { buildDashboard } from '../src/dashboard/app.js';
import { hashPassword } from '../src/dashboard/auth.js';
import { statusSourceOf } from '../src/dashboard/status-source.js';
import { ApiTokenRepository } from '../src/db/api-token.repository.js';
import { AuditRepository } from '../src/db/audit.repository.js';
import { BooruRepository } from '../src/db/booru.repository.js';
import { openDatabase } from '../src/db/database.js';
import { PostRepository } from '../src/db/post.repository.js';
import { SuggestionRepository } from '../src/db/suggestion.repository.js';
import { ThresholdRepository } from '../src/db/threshold.repository.js';
import { UserRepository } from '../src/db/user.repository.js';
import { WorkerRepository } from '../src/db/worker.repository.js';
import { DEFAULT_BENCH_URL } from './seed-dashboard.js';

const url = process.argv[2] ?? DEFAULT_BENCH_URL;
const runs = Number(process.argv[3] ?? 10);
const logger = pino({ level: 'silent' });
const db = await openDatabase({ url, dataDir: '', logger });
const { prisma } = db;
const users = new UserRepository(prisma);
const pendingCount = await prisma.suggestion.count({ where: { status: 'pending' } });
const name = `timer${Date.now()}`;
await users.create({ name, role: 'moderator', passwordHash: await hashPassword('timer-password') });
const app = await buildDashboard({
  users,
  suggestions: new SuggestionRepository(prisma),
  posts: new PostRepository(prisma),
  boorus: new BooruRepository(prisma),
  thresholds: new ThresholdRepository(prisma),
  statusSource: statusSourceOf(() => new WorkerRepository(prisma).status()),
  apiTokens: new ApiTokenRepository(prisma),
  audit: new AuditRepository(prisma),
  logger,
});
const cookies = new Map<string, string>();
const request = async (method: 'GET' | 'POST', path: string, form?: Record<string, string>) => {
  const response = await app.inject({
    method,
    url: path,
    headers: {
      cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    ...(form ? { payload: new URLSearchParams(form).toString() } : {}),
  });
  for (const c of response.cookies as { name: string; value: string }[]) cookies.set(c.name, c.value);
  return response;
};
const login = await request('GET', '/login');
const csrf = /name="_csrf" value="([^"]+)"/.exec(login.body)?.[1] ?? '';
await request('POST', '/login', { _csrf: csrf, name, password: 'timer-password' });

const topTag = (
  await prisma.$queryRaw<{ tag: string }[]>`
  SELECT tag FROM suggestions WHERE status = 'pending' GROUP BY tag ORDER BY count(*) DESC LIMIT 1`
)[0]?.tag;
const somePost = (await prisma.suggestion.findFirst({ where: { status: 'pending' }, orderBy: { id: 'desc' } }))?.postId;
const pages: Record<string, string> = {
  'queue by post (newest)': '/',
  'queue by post, page 50': '/?page=50',
  'queue by post (highest score)': '/?sort=score',
  'queue filtered (character, score ≥ 0.9)': '/?category=4&min=0.9',
  'queue filtered (booru 1, remove)': '/?booru=1&action=remove',
  'tags list': '/tags',
  [`tag grid (${topTag})`]: `/tags/grid?tag=${encodeURIComponent(topTag ?? '')}&action=add`,
  'tag grid, lowest first': `/tags/grid?tag=${encodeURIComponent(topTag ?? '')}&action=add&dir=asc`,
  'post page': `/posts/${somePost}`,
  'audit log': '/audit',
  status: '/status',
  thresholds: '/thresholds',
  'API queue': '/api/queue',
  'API facets': '/api/facets',
};
const results: Record<string, { medianMs: number; maxMs: number; status: number; bytes: number }> = {};
for (const [label, path] of Object.entries(pages)) {
  const first = await request('GET', path);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await request('GET', path);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  results[label] = {
    medianMs: Math.round(times[Math.floor(times.length / 2)]! * 10) / 10,
    maxMs: Math.round(times[times.length - 1]! * 10) / 10,
    status: first.statusCode,
    bytes: first.body.length,
  };
}
await prisma.user.deleteMany({ where: { name } });
await app.close();
await db.close();
console.log(JSON.stringify({ pendingSuggestions: pendingCount, runs, pages: results }, null, 2));
