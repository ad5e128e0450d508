/**
 * `sync-tags`: refresh the booru's tags (category, post count, deprecation), aliases and implications into the
 * database, incrementally after the first pass (`--full` re-reads everything). Loaded on first use by cli.ts.
 */
import { readyBooru } from '../booru/booru-factory.js';
import type { Config } from '../config/config.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { type SyncTagsSummary, syncTags } from '../worker/sync-tags.job.js';
import { withRepositories } from './commands.js';
import { createBooruClient } from './context.js';

interface SyncTagsCommandResult extends SyncTagsSummary {
  booru: string;
  stored: { tags: number; aliases: number; implications: number };
}

async function runSyncTags(
  config: Config,
  logger: Logger,
  baseUrl: string,
  options: { full: boolean },
): Promise<SyncTagsCommandResult> {
  const { client, http } = createBooruClient(config, logger, baseUrl);
  try {
    return await withRepositories(config, logger, async (repos) => {
      const booru = await readyBooru(client);
      const record = await repos.boorus.ensure({ name: new URL(baseUrl).host, kind: booru.kind, baseUrl });
      const summary = await syncTags(
        { booru, tags: repos.tags, cursors: repos.cursors, logger },
        { booruId: record.id, full: options.full },
      );
      return { booru: baseUrl, ...summary, stored: await repos.tags.counts(record.id) };
    });
  } finally {
    await http.close();
  }
}

function formatSyncTags(result: SyncTagsCommandResult): string {
  const line = (name: 'tags' | 'aliases' | 'implications') => {
    const s = result[name];
    if (s.mode === 'unsupported') return `${name.padEnd(13)}not offered by this booru`;
    return `${name.padEnd(13)}${s.read} read, ${s.written} written (${s.mode}${s.complete ? '' : ', resumes next run'})`;
  };
  return [
    `booru        ${result.booru}`,
    `generation   #${result.generation} ${result.ok ? 'ok: diffs use it' : 'FAILED: suggestions wait until a sync succeeds'}`,
    line('tags'),
    line('aliases'),
    line('implications'),
    `stored       ${result.stored.tags} tags, ${result.stored.aliases} active aliases, ${result.stored.implications} active implications`,
    ...(result.interrupted ? [`interrupted  ${result.interrupted.code}: ${result.interrupted.message}`] : []),
  ].join('\n');
}

/** `sync-tags [--full]`: the summary; an incomplete pass is a failed generation (exit 1: diffs wait for a good sync). */
export async function syncTagsCommand(
  config: Config,
  logger: Logger,
  baseUrl: string,
  options: { full: boolean; json: boolean; print: (text: string) => void },
): Promise<void> {
  const result = await runSyncTags(config, logger, baseUrl, { full: options.full });
  options.print(options.json ? JSON.stringify(result) : formatSyncTags(result));
  if (!result.ok) {
    throw new AppError(
      'VOCABULARY_STALE',
      `tag sync #${result.generation} incomplete: suggestions wait until a sync succeeds`,
    );
  }
}
