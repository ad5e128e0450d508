/**
 * Counts committed writes, so "tagged exactly once" means what it says: test-only triggers (never a migration) log
 * every prediction insert or update, every suggestion insert and every transition of a post to `tagged` into
 * `test_write_log`. A write that rolls back takes its log row with it; the final table state alone could not tell
 * a post scored twice from one scored once, the log can.
 */
import pg from 'pg';

const INSTALL = `
CREATE TABLE IF NOT EXISTS test_write_log (
  id bigserial PRIMARY KEY, kind text NOT NULL, post_id int NOT NULL, detail text NOT NULL DEFAULT '');
CREATE OR REPLACE FUNCTION test_log_prediction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO test_write_log (kind, post_id, detail) VALUES ('prediction', NEW.post_id, NEW.model_id::text);
RETURN NEW; END $$;
CREATE OR REPLACE FUNCTION test_log_suggestion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO test_write_log (kind, post_id, detail) VALUES ('suggestion', NEW.post_id, NEW.action || ' ' || NEW.tag);
RETURN NEW; END $$;
CREATE OR REPLACE FUNCTION test_log_tagged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO test_write_log (kind, post_id) VALUES ('tagged', NEW.id); RETURN NEW; END $$;
DROP TRIGGER IF EXISTS test_log_prediction ON predictions;
CREATE TRIGGER test_log_prediction AFTER INSERT OR UPDATE ON predictions
  FOR EACH ROW EXECUTE FUNCTION test_log_prediction();
DROP TRIGGER IF EXISTS test_log_suggestion ON suggestions;
CREATE TRIGGER test_log_suggestion AFTER INSERT ON suggestions FOR EACH ROW EXECUTE FUNCTION test_log_suggestion();
DROP TRIGGER IF EXISTS test_log_tagged ON posts;
CREATE TRIGGER test_log_tagged AFTER UPDATE OF state ON posts
  FOR EACH ROW WHEN (NEW.state = 'tagged' AND OLD.state IS DISTINCT FROM 'tagged')
  EXECUTE FUNCTION test_log_tagged();
`;

export interface WriteCounts {
  /** Posts whose scores were written more than once (per model). */
  predictionWritesOver1: number;
  /** (post, action, tag) suggestion rows inserted more than once. */
  suggestionInsertsOver1: number;
  /** Posts that became `tagged` more than once. */
  taggedTransitionsOver1: number;
  predictionWrites: number;
  suggestionInserts: number;
  taggedTransitions: number;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Installs the logging triggers in the database at `url` (idempotent). */
export function installWriteLog(url: string): Promise<void> {
  return withClient(url, async (client) => {
    await client.query(INSTALL);
  });
}

/** What the log holds now. */
export function countWrites(url: string): Promise<WriteCounts> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<Record<keyof WriteCounts, string>>(`
      WITH per AS (SELECT kind, post_id, detail, count(*) AS n FROM test_write_log GROUP BY kind, post_id, detail)
      SELECT
        count(*) FILTER (WHERE kind = 'prediction' AND n > 1) AS "predictionWritesOver1",
        count(*) FILTER (WHERE kind = 'suggestion' AND n > 1) AS "suggestionInsertsOver1",
        count(*) FILTER (WHERE kind = 'tagged' AND n > 1) AS "taggedTransitionsOver1",
        coalesce(sum(n) FILTER (WHERE kind = 'prediction'), 0) AS "predictionWrites",
        coalesce(sum(n) FILTER (WHERE kind = 'suggestion'), 0) AS "suggestionInserts",
        coalesce(sum(n) FILTER (WHERE kind = 'tagged'), 0) AS "taggedTransitions"
      FROM per`);
    const row = rows[0]!;
    return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as WriteCounts;
  });
}
