/**
 * The `booru-tagger` command line (DESIGN §5). Parses arguments with commander, reads the config once, runs the
 * command, and maps failures to exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
 */
import { Command, CommanderError, Option } from 'commander';
import { describeSettings, PACKAGE_VERSION } from '../config/config.js';
import { SUGGESTION_STATUSES } from '../core/states.js';
import { AppError, ConfigError, coerceError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import {
  checkNewUser,
  parseDecisionIds,
  parseExportFlags,
  parseListFlags,
  requireBooruUrl,
  requireOnce,
  runtimeOf,
  withSettings,
} from './cli-options.js';

// Commands load their modules (*.command.ts) on first use: the database client, onnxruntime, sharp and fastify take
// about a second to import, which `--help`, `settings` and usage errors should not pay (cli-options.ts checks flags).

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function buildProgram(): Command {
  const program = new Command('booru-tagger')
    .description(
      'Suggests tag additions and removals for a booru, queues them for moderators, writes approved ones back.',
    )
    .version(PACKAGE_VERSION)
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      '\nEvery setting is an environment variable and a flag on every command (the flag wins):\n' +
        '`booru-tagger settings` lists them. Exit status: 0 ok, 1 runtime failure, 2 bad usage or configuration.',
    );

  withSettings(
    program
      .command('demo')
      .description(
        'zero set-up: embedded database, a bundled local demo booru and the bundled model; one full cycle, then the dashboard',
      )
      .option('--once', 'print the summary and exit instead of serving the dashboard')
      .option('--json', 'print the summary as JSON'),
  ).action(async (options) => {
    const { config } = runtimeOf(options);
    // The demo prints its own summary; routine info logs would bury it (TAGGER_LOG_LEVEL=debug shows everything).
    const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
    const { runDemo } = await import('./demo.command.js');
    await runDemo(config, logger, { once: Boolean(options.once), json: Boolean(options.json), print });
  });

  withSettings(
    program
      .command('run')
      .description('one crawl → tag → suggest cycle over everything new, then exit')
      .option('--once', 'run one cycle and exit (required)')
      .option('--json', 'print a summary object on stdout'),
  ).action(async (options) => {
    requireOnce(options.once, 'run');
    const { config, logger } = runtimeOf(options);
    const booruUrl = requireBooruUrl(config, 'run');
    const { runCycleCommand } = await import('./cycle.command.js');
    await runCycleCommand(config, logger, booruUrl, { json: Boolean(options.json), print });
  });

  withSettings(
    program
      .command('apply')
      .description('write approved suggestions back to the booru, then exit')
      .option('--once', 'apply once and exit (required)')
      .option('--json', 'print a summary object on stdout'),
  ).action(async (options) => {
    requireOnce(options.once, 'apply');
    const { config, logger } = runtimeOf(options);
    const booruUrl = requireBooruUrl(config, 'apply');
    const { applyCommand } = await import('./cycle.command.js');
    await applyCommand(config, logger, booruUrl, { json: Boolean(options.json), print });
  });

  withSettings(
    program
      .command('sync-tags')
      .description('refresh tags, aliases and implications from the booru (incremental after the first pass)')
      .option('--full', 're-read everything instead of what changed since the last pass')
      .option('--json', 'print a summary object on stdout'),
  ).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    const booruUrl = requireBooruUrl(config, 'sync-tags');
    const { syncTagsCommand } = await import('./sync-tags.command.js');
    await syncTagsCommand(config, logger, booruUrl, {
      full: Boolean(options.full),
      json: Boolean(options.json),
      print,
    });
  });

  withSettings(
    program
      .command('export-dataset')
      .description(
        'write the crawled posts and their tags as a DeepDanbooru training project that `deepdanbooru train-project DIR` accepts: DIR/project.json, tags.txt (+ tags-general.txt, tags-character.txt), dataset.sqlite (table posts with the columns make-training-database reads) and images/<md5[0:2]>/<md5>.<png|jpg> (other formats converted to PNG); resumable',
      )
      .requiredOption('--out <dir>', 'the dataset folder (run again with the same folder to resume)')
      .option('--min-tags <n>', 'only posts with at least this many general tags (project.json minimum_tag_count)', '0')
      .option(
        '--tag-min-posts <n>',
        'tags.txt lists general and character tags on at least this many exported posts',
        '1',
      )
      .option('--rating <list>', 'only these ratings, a comma list of g, s, q, e')
      .option('--since <date>', 'only posts the booru last updated on or after this date (ISO 8601, e.g. 2024-01-31)')
      .option('--until <date>', 'only posts last updated before this date')
      .option('--with-approved', 'apply approved, not yet written-back suggestions to the tags and rating')
      .option('--json', 'print a summary object on stdout'),
  ).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    const flags = await parseExportFlags(options);
    const { exportDatasetCommand } = await import('./export-dataset.command.js');
    await exportDatasetCommand(config, logger, flags, { json: Boolean(options.json), print });
  });

  withSettings(
    program
      .command('report')
      .description(
        'a tag-suggestion report: totals, per-tag precision with Wilson intervals, likely untagged and mistagged posts, rating disagreements, model versions, throughput, learned thresholds with their evidence',
      )
      .option(
        '--since <D>',
        'start of the period: a date (2026-11-01) or a duration back from now (7d, 24h, 2w); default: everything',
      )
      .addOption(
        new Option(
          '--format <F>',
          'md, html (one self-contained file with charts), csv, json or dtext (Danbooru forum markup)',
        )
          .choices(['md', 'html', 'csv', 'json', 'dtext'])
          .default('md'),
      )
      .option(
        '--out <F>',
        'write the report to this file instead of stdout; with --format csv, a folder (existing, or ending in /) gets every table as its own file: tags.csv (one row per tag and action), totals.csv, skipped.csv…',
      )
      .option('--table <ID>', 'with --format csv: only this table (tags, totals, skipped, untagged, ratings, models…)'),
  ).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    const { reportCommand } = await import('./report.command.js');
    await reportCommand(
      config,
      logger,
      {
        format: options.format,
        ...(options.since !== undefined ? { since: String(options.since) } : {}),
        ...(options.out !== undefined ? { out: String(options.out) } : {}),
        ...(options.table !== undefined ? { table: String(options.table) } : {}),
      },
      print,
    );
  });

  const suggestions = withSettings(
    program
      .command('suggestions')
      .description('list suggestions (approve / reject them with the subcommands)')
      .option('--status <status>', SUGGESTION_STATUSES.join(', '), 'pending')
      .option('--limit <n>', 'at most this many rows', '100')
      .option('--json', 'print JSON rows'),
  ).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    const { status, limit } = parseListFlags(options);
    const { listSuggestions } = await import('./suggestions.command.js');
    await listSuggestions(config, logger, { status, limit, json: Boolean(options.json), print });
  });

  for (const verdict of ['approve', 'reject'] as const) {
    withSettings(
      suggestions
        .command(verdict)
        .description(`${verdict} suggestions by id (recorded like a dashboard decision)`)
        .argument('[ids...]', 'suggestion ids')
        .option('--all', `${verdict} every pending suggestion`)
        .requiredOption('--as <user>', 'the name the decision is recorded under'),
    ).action(async (ids: string[], options) => {
      const { config, logger } = runtimeOf(options);
      const numbers = parseDecisionIds(ids, options.all);
      const { decideSuggestions } = await import('./suggestions.command.js');
      await decideSuggestions(config, logger, verdict, {
        ids: numbers,
        all: Boolean(options.all),
        as: options.as,
        print,
      });
    });
  }

  const db = program.command('db').description('database operations');
  withSettings(db.command('migrate').description('apply pending migrations')).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    const { migrateDatabase } = await import('./db.command.js');
    await migrateDatabase(config, logger, print);
  });

  const models = program.command('models').description('model management: list, fetch NAME, import PATH, inspect DIR');
  withSettings(
    models.command('list').description('installed, bundled and fetchable models').option('--json', 'print JSON'),
  ).action(async (options) => {
    const { config } = runtimeOf(options);
    const { listModels } = await import('./models.command.js');
    await listModels(config, { json: Boolean(options.json), print });
  });
  withSettings(
    models
      .command('fetch')
      .description('download a known public model (resumable, sha256-verified) into the models folder')
      .argument('<name>', 'a name from `models list`')
      .option('--sha256 <hex>', 'expected sha256 for a file the catalog has no pinned checksum for')
      .option('--allow-unpinned', 'accept a file without a pinned checksum (its hash is recorded in SHA256SUMS)'),
  ).action(async (name: string, options) => {
    const { config, logger } = runtimeOf(options);
    const { fetchModel } = await import('./models.command.js');
    await fetchModel(config, logger, name, {
      ...(typeof options.sha256 === 'string' ? { sha256: options.sha256 } : {}),
      allowUnpinned: Boolean(options.allowUnpinned),
      print,
      progress: Boolean(process.stderr.isTTY),
    });
  });
  withSettings(
    models
      .command('import')
      .description(
        'install a DeepDanbooru release (.zip or its folder: model-*.h5, project.json, tags.txt) as a model folder, ' +
          'converting the Keras model to ONNX',
      )
      .argument('<path>', 'release archive or folder')
      .option('--name <name>', 'model folder name (default: the archive or folder name)')
      .option('--force', 'replace a model folder of that name'),
  ).action(async (path: string, options) => {
    const { config, logger } = runtimeOf(options);
    const { importRelease } = await import('./models.command.js');
    await importRelease(config, logger, path, {
      ...(typeof options.name === 'string' ? { name: options.name } : {}),
      force: Boolean(options.force),
      print,
    });
  });
  withSettings(
    models
      .command('inspect')
      .description('print the recipe, tensors and vocabulary the loader infers for a model folder')
      .argument('<dir>', 'model folder')
      .option('--json', 'print JSON'),
  ).action(async (dir: string, options) => {
    const { config, logger } = runtimeOf(options);
    const { inspectModel } = await import('./models.command.js');
    await inspectModel(config, logger, dir, { json: Boolean(options.json), print });
  });

  const users = program.command('users').description('dashboard accounts');
  withSettings(
    users
      .command('add')
      .description('create a dashboard account; prints a generated password unless --password is given')
      .argument('<name>', 'user name')
      .requiredOption('--role <role>', 'viewer, moderator or admin')
      .option('--password <password>', 'the password (default: generated and printed once)'),
  ).action(async (name: string, options) => {
    const { config, logger } = runtimeOf(options);
    const role = checkNewUser(name, options.role);
    const { addUser } = await import('./users.command.js');
    await addUser(config, logger, name, {
      role,
      ...(typeof options.password === 'string' ? { password: options.password } : {}),
      print,
    });
  });

  withSettings(
    users
      .command('passwd')
      .description(
        'set a dashboard account’s password (ends its sessions, revokes its API tokens); prints a generated one unless --password',
      )
      .argument('<name>', 'user name')
      .option('--password <password>', 'the new password (default: generated and printed once)'),
  ).action(async (name: string, options) => {
    const { config, logger } = runtimeOf(options);
    const { setUserPassword } = await import('./users.command.js');
    await setUserPassword(config, logger, name, {
      ...(typeof options.password === 'string' ? { password: options.password } : {}),
      print,
    });
  });

  withSettings(
    users
      .command('token')
      .description('create a personal API token for an account (printed once)')
      .argument('<name>', 'user name')
      .option('--label <label>', 'what the token is for', 'cli'),
  ).action(async (name: string, options) => {
    const { config, logger } = runtimeOf(options);
    const { createUserToken } = await import('./users.command.js');
    await createUserToken(config, logger, name, { label: String(options.label), print });
  });

  withSettings(
    program
      .command('worker')
      .description(
        'a worker process: the continuous tag loop and, when it is the leader, the schedule (serve --no-dashboard)',
      ),
  ).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    const { runServe } = await import('./serve.command.js');
    await runServe(config, logger, { worker: true, dashboard: false, print });
  });

  withSettings(
    program
      .command('status')
      .description(
        'readiness (the checks of /readyz), queue depths, throughput, failures by reason and the workers with their execution provider; exits 1 when not ready',
      )
      .option('--json', 'print the status object (with `readiness`: ready and each check)'),
  ).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    const { runStatus } = await import('./status.command.js');
    await runStatus(config, logger, { json: Boolean(options.json), print });
  });

  withSettings(
    program
      .command('serve')
      .description('the long-running service: schedule + worker + dashboard (with /evaluate) in one process')
      .option('--no-worker', 'do not crawl, tag or apply (dashboard only; /evaluate loads the model on first use)')
      .option('--no-dashboard', 'do not serve the web dashboard (worker only)'),
  ).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    const { runServe } = await import('./serve.command.js');
    await runServe(config, logger, { worker: options.worker !== false, dashboard: options.dashboard !== false, print });
  });

  program
    .command('settings')
    .description('list every setting: environment variable, flag, default')
    .action(() => {
      print(
        describeSettings()
          .map((s) => `${s.env.padEnd(28)} ${s.flag.padEnd(26)} ${s.default.padEnd(10)} ${s.doc}`)
          .join('\n'),
      );
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (thrown) {
    if (thrown instanceof CommanderError) {
      return thrown.code === 'commander.helpDisplayed' || thrown.code === 'commander.version' || thrown.exitCode === 0
        ? 0
        : 2;
    }
    if (thrown instanceof ConfigError) {
      process.stderr.write(`booru-tagger: ${thrown.message}\n`);
      return 2;
    }
    if (thrown instanceof AppError && thrown.code === 'USAGE') {
      process.stderr.write(`booru-tagger: ${thrown.message}\n`);
      return 2;
    }
    const error = coerceError(thrown);
    const code = error instanceof AppError ? ` [${error.code}]` : '';
    const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
    process.stderr.write(`booru-tagger: ${error.message}${code}${cause}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
