/**
 * `suggestions` (list them) and `suggestions approve|reject` (decide them, recorded like a dashboard decision). The
 * flags are checked in cli-options.ts before this module loads.
 */
import type { Config } from '../config/config.js';
import type { SuggestionStatus } from '../db/suggestion.types.js';
import type { Logger } from '../shared/logger.js';
import { actorOf, withRepositories } from './commands.js';

type Print = (text: string) => void;

export async function listSuggestions(
  config: Config,
  logger: Logger,
  options: { status: SuggestionStatus; limit: number; json: boolean; print: Print },
): Promise<void> {
  const { status, limit, print } = options;
  const rows = await withRepositories(config, logger, (repos) => repos.suggestions.list({ status, limit, offset: 0 }));
  const out = rows.map((row) => ({
    id: row.id,
    post: row.remoteId,
    tag: row.tag,
    action: row.action,
    score: row.score,
    status: row.status,
    reason: row.reason,
  }));
  if (options.json) return print(JSON.stringify(out));
  if (out.length === 0) return print(`no ${status} suggestions`);
  print(
    out
      .map(
        (r) =>
          `${String(r.id).padStart(6)}  #${r.post}  ${r.action.padEnd(6)} ${r.tag}  ${r.score.toFixed(3)}  ${r.reason}`,
      )
      .join('\n'),
  );
}

/** Approves or rejects the given ids, or every pending suggestion with `all`, under the `--as` user. */
export async function decideSuggestions(
  config: Config,
  logger: Logger,
  verdict: 'approve' | 'reject',
  options: { ids: number[]; all: boolean; as: string; print: Print },
): Promise<void> {
  const result = await withRepositories(config, logger, async (repos) => {
    const user = await actorOf(repos, options.as);
    const origin = 'cli';
    return options.all
      ? repos.suggestions.decideAll({ verdict, user, origin })
      : repos.suggestions.decide({ ids: options.ids, verdict, user, origin });
  });
  options.print(`${verdict === 'approve' ? 'approved' : 'rejected'} ${result.changed.length}`);
  for (const skipped of result.skipped) options.print(`skipped ${skipped.id}: ${skipped.why}`);
}
