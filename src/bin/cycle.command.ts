/**
 * `run --once` (one crawl → tag → suggest cycle, with a progress bar) and `apply --once` (approved suggestions written
 * back), then exit. Loaded on first use by cli.ts; the cycles themselves are in commands.ts.
 */
import type { Config } from '../config/config.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { prestartSessionThread } from '../tagger/session-thread.js';
import { applyCycle, formatApply, formatCycle, runCycle, withRepositories } from './commands.js';
import { progressBar } from './progress.js';

type Print = (text: string) => void;

/** `run --once`: the summary, or exit 1 when the vocabulary was stale (posts scored, not diffed); 2 when interrupted. */
export async function runCycleCommand(
  config: Config,
  logger: Logger,
  booruUrl: string,
  options: { json: boolean; print: Print },
): Promise<void> {
  // The model's thread starts while the database opens and migrates.
  prestartSessionThread();
  const progress = progressBar('tagging');
  // SIGINT/SIGTERM: stop claiming, finish or release what is in flight, then exit.
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const summary = await withRepositories(config, logger, (repos) =>
      runCycle(config, logger, repos, booruUrl, {
        signal: abort.signal,
        onTagStart: (total) => progress.start(total),
        onBatch: (tagged) => progress.update(tagged),
      }),
    );
    progress.stop();
    options.print(options.json ? JSON.stringify(summary) : formatCycle(summary));
    if (abort.signal.aborted) throw new AppError('USAGE', 'interrupted: in-flight posts were finished or released');
    if (!summary.vocabulary.fresh) {
      throw new AppError(
        'VOCABULARY_STALE',
        `posts were scored but not diffed: ${summary.vocabulary.waitReason ?? 'the tag sync is not fresh'}`,
      );
    }
  } finally {
    progress.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** `apply --once`. */
export async function applyCommand(
  config: Config,
  logger: Logger,
  booruUrl: string,
  options: { json: boolean; print: Print },
): Promise<void> {
  const summary = await withRepositories(config, logger, (repos) => applyCycle(config, logger, repos, booruUrl));
  options.print(options.json ? JSON.stringify(summary) : formatApply(summary));
}
