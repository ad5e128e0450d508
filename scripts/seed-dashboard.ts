/**
 * Seeds a PostgreSQL database with a review queue the size the dashboard must stay fast at: 25,000 posts, 1,000 tags,
 * 100,000 pending suggestions (four per post), 20,000 decided ones with their audit rows and write-back outcomes.
 *
 *   npx tsx scripts/seed-dashboard.ts [URL]
 *
 * URL defaults to postgresql://postgres@127.0.0.1:5432/booru_tagger_dashboard_bench (created when missing; its
 * tables are emptied first). `scripts/time-dashboard.ts` then measures the main pages on it.
 */
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';

export const DEFAULT_BENCH_URL = 'postgresql://postgres@127.0.0.1:5432/booru_tagger_dashboard_bench';

const POSTS = 25_000;
const TAGS = 1_000;
const PENDING_PER_POST = 4;
const DECIDED = 20_000;

async function ensureDatabase(url: string): Promise<void> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

export async function seedDashboard(url: string): Promise<void> {
  await ensureDatabase(url);
  await migrate({ url });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const step = async (what: string, text: string) => {
    const started = performance.now();
    const result = await client.query(text);
    process.stderr.write(
      `[seed] ${what}: ${result.rowCount ?? 0} rows, ${Math.round(performance.now() - started)} ms\n`,
    );
  };
  try {
    await step(
      'empty',
      `TRUNCATE decisions, tag_edits, suggestions, predictions, posts, tags, thresholds, sessions, api_tokens, users,
         crawl_cursors, report_runs, models, boorus RESTART IDENTITY CASCADE`,
    );
    await step(
      'boorus',
      `INSERT INTO boorus (name, kind, base_url, updated_at) VALUES
         ('bench.danbooru', 'danbooru', 'https://bench.danbooru.test', now()),
         ('bench.gelbooru', 'gelbooru', 'https://bench.gelbooru.test', now())`,
    );
    await step(
      'model',
      `INSERT INTO models (name, version, sha256, family, vocab_size, labels, manifest)
       SELECT 'wd-bench', 'v1', repeat('b', 64), 'wd', ${TAGS},
              jsonb_agg(jsonb_build_object('name', 'tag_' || i, 'category', CASE WHEN i % 10 = 0 THEN 4 ELSE 0 END)
                        ORDER BY i), '{}'::jsonb
       FROM generate_series(0, ${TAGS - 1}) i`,
    );
    await step(
      'tags',
      `INSERT INTO tags (booru_id, name, category, post_count, updated_at)
       SELECT 1, 'tag_' || i, CASE WHEN i % 10 = 0 THEN 4 ELSE 0 END, 1000 + i, now()
       FROM generate_series(0, ${TAGS - 1}) i`,
    );
    // Every 50th post lives on the report-only Gelbooru.
    await step(
      'posts',
      `INSERT INTO posts (booru_id, remote_id, md5, rating, tags, preview_url, media_url, width, height, file_ext,
                          state, tagged_at, updated_at)
       SELECT CASE WHEN i % 50 = 0 THEN 2 ELSE 1 END, 100000 + i, md5(i::text), 'g',
              ARRAY['tag_' || ((i * 7) % ${TAGS}), 'tag_' || ((i * 13 + 1) % ${TAGS}), '1girl', 'solo'],
              'https://cdn.bench.test/preview/' || i || '.jpg', 'https://cdn.bench.test/720/' || i || '.webp',
              1600, 1200, 'jpg', 'tagged', now() - (i || ' seconds')::interval, now()
       FROM generate_series(1, ${POSTS}) i`,
    );
    await step(
      'pending suggestions',
      `INSERT INTO suggestions (post_id, tag, action, category, score, model_id, reason, status, is_open, tags_version,
                                updated_at)
       SELECT p, 'tag_' || ((p * 31 + k * 257) % ${TAGS}),
              (CASE WHEN k = 3 THEN 'remove' ELSE 'add' END)::"SuggestionAction",
              CASE WHEN ((p * 31 + k * 257) % ${TAGS}) % 10 = 0 THEN 4 ELSE 0 END,
              CASE WHEN k = 3 THEN (random() * 0.02)::real ELSE (0.35 + random() * 0.65)::real END, 1,
              'score ≥ 0.35 (general)', 'pending', true, 1, now()
       FROM generate_series(1, ${POSTS}) p, generate_series(0, ${PENDING_PER_POST - 1}) k`,
    );
    await step(
      'decided suggestions',
      `INSERT INTO suggestions (post_id, tag, action, category, score, model_id, reason, status, is_open, tags_version,
                                decided_at, apply_outcome, applied_at, updated_at)
       SELECT 1 + (i % ${POSTS}), 'old_tag_' || (i % 500), 'add', 0, (0.4 + random() * 0.6)::real, 1, 'score ≥ 0.35',
              (ARRAY['approved', 'rejected', 'applied', 'failed'])[1 + i % 4]::"SuggestionStatus", NULL, 1,
              now() - (i || ' seconds')::interval,
              CASE i % 4 WHEN 2 THEN 'applied' WHEN 3 THEN 'refused' END,
              CASE WHEN i % 4 = 2 THEN now() END, now()
       FROM generate_series(1, ${DECIDED}) i`,
    );
    await step(
      'audit rows',
      `INSERT INTO decisions (at, actor, action, suggestion_id, post_id, detail, origin)
       SELECT s.decided_at, 'bench', CASE WHEN s.status = 'rejected' THEN 'reject' ELSE 'approve' END, s.id, s.post_id,
              '{}'::jsonb, 'seed'
       FROM suggestions s WHERE s.status <> 'pending'`,
    );
    await step('analyze', 'ANALYZE');
  } finally {
    await client.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await seedDashboard(process.argv[2] ?? DEFAULT_BENCH_URL);
}
