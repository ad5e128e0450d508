/** `db migrate`: opening the database applies pending migrations (PostgreSQL or the embedded database alike). */
import type { Config } from '../config/config.js';
import type { Logger } from '../shared/logger.js';
import { openRepositories } from './context.js';

export async function migrateDatabase(config: Config, logger: Logger, print: (text: string) => void): Promise<void> {
  const { db } = await openRepositories(config, logger);
  await db.close();
  print(db.migrations.length === 0 ? 'database is up to date' : `applied ${db.migrations.join(', ')}`);
}
