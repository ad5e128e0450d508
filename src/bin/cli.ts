/**
 * The `booru-tagger` command line (DESIGN §5). Parses arguments with commander, reads the config once, runs the
 * command, and maps failures to exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
 */
import { Command, CommanderError, Option } from 'commander';
import { type Config, describeSettings, flagOf, loadConfig, PACKAGE_VERSION, SETTINGS } from '../config/config.js';
import { AppError, ConfigError, coerceError } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/logger.js';

// Commands load their modules on first use: the database client, onnxruntime, sharp and fastify take about a second
// to import, which `--help`, `settings` and usage errors should not pay.
const commands = () => import('./commands.js');

type SettingKey = keyof typeof SETTINGS;
const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** Every setting is also a flag on every command; the flag wins over the environment variable. */
function withSettings(command: Command): Command {
  for (const key of SETTING_KEYS) {
    const setting = SETTINGS[key];
    command.addOption(
      new Option(`${flagOf(key)} <value>`, `${setting.doc} (env ${setting.env})`).hideHelp(!SHOWN.has(key)),
    );
  }
  return command;
}

/** The settings listed in each command's --help; `booru-tagger help settings` lists them all. */
const SHOWN = new Set<SettingKey>(['databaseUrl', 'booruUrl', 'booruKind', 'modelDir', 'device', 'port', 'logLevel']);

interface Runtime {
  config: Config;
  logger: Logger;
}

function runtimeOf(options: Record<string, unknown>): Runtime {
  const overrides: Partial<Record<SettingKey, string>> = {};
  for (const key of SETTING_KEYS) {
    const value = options[key];
    if (typeof value === 'string') overrides[key] = value;
  }
  const config = loadConfig(process.env, overrides);
  return { config, logger: createLogger({ level: config.logLevel }) };
}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function requireOnce(once: boolean | undefined, name: string): void {
  if (!once)
    throw new AppError('USAGE', `\`${name}\` runs once and exits: pass --once (the long-running service is \`serve\`)`);
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
    if (!config.booruUrl) throw new ConfigError([`BOORU_URL (or ${flagOf('booruUrl')}) is required for \`run\``]);
    const booruUrl = config.booruUrl;
    const { formatCycle, runCycle, withRepositories } = await commands();
    const { progressBar } = await import('./progress.js');
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
      print(options.json ? JSON.stringify(summary) : formatCycle(summary));
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
    if (!config.booruUrl) throw new ConfigError([`BOORU_URL (or ${flagOf('booruUrl')}) is required for \`apply\``]);
    const booruUrl = config.booruUrl;
    const { applyCycle, formatApply, withRepositories } = await commands();
    const summary = await withRepositories(config, logger, (repos) => applyCycle(config, logger, repos, booruUrl));
    print(options.json ? JSON.stringify(summary) : formatApply(summary));
  });

  withSettings(
    program
      .command('sync-tags')
      .description('refresh tags, aliases and implications from the booru (incremental after the first pass)')
      .option('--full', 're-read everything instead of what changed since the last pass')
      .option('--json', 'print a summary object on stdout'),
  ).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    if (!config.booruUrl) throw new ConfigError([`BOORU_URL (or ${flagOf('booruUrl')}) is required for \`sync-tags\``]);
    const { formatSyncTags, runSyncTags } = await import('./sync-tags.command.js');
    const result = await runSyncTags(config, logger, config.booruUrl, { full: Boolean(options.full) });
    print(options.json ? JSON.stringify(result) : formatSyncTags(result));
    // An incomplete pass is recorded as a failed generation: diffs wait until a sync succeeds.
    if (!result.ok) {
      throw new AppError(
        'VOCABULARY_STALE',
        `tag sync #${result.generation} incomplete: suggestions wait until a sync succeeds`,
      );
    }
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
    const { parseRatings } = await import('../export/dataset-layout.js');
    const problems: string[] = [];
    const minTags = Number(options.minTags);
    if (!Number.isInteger(minTags) || minTags < 0)
      problems.push(`--min-tags=${options.minTags}: expected a whole number`);
    const tagMinPosts = Number(options.tagMinPosts);
    if (!Number.isInteger(tagMinPosts) || tagMinPosts < 1)
      problems.push(`--tag-min-posts=${options.tagMinPosts}: expected a whole number of at least 1`);
    const dateOf = (flag: string, value: unknown): Date | undefined => {
      if (value === undefined) return undefined;
      const date = new Date(String(value));
      if (Number.isNaN(date.getTime())) problems.push(`${flag}=${value}: expected a date such as 2024-01-31`);
      return date;
    };
    const since = dateOf('--since', options.since);
    const until = dateOf('--until', options.until);
    let ratings: Awaited<ReturnType<typeof parseRatings>> = [];
    try {
      ratings = options.rating === undefined ? [] : parseRatings(String(options.rating));
    } catch (error) {
      problems.push(`--rating: ${(error as Error).message}`);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    const { formatExport, runExportDataset } = await import('./export-dataset.command.js');
    const { progressBar } = await import('./progress.js');
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const summary = await runExportDataset(config, logger, {
        out: String(options.out),
        minTags,
        tagMinPosts,
        ratings,
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
        withApproved: Boolean(options.withApproved),
        signal: abort.signal,
        progress: progressBar('exporting'),
      });
      print(options.json ? JSON.stringify(summary) : formatExport(summary));
      if (summary.interrupted) throw new AppError('USAGE', 'interrupted: run the same command again to resume');
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
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
    const { parseSince, runReport } = await import('./report.command.js');
    if (options.since !== undefined) parseSince(String(options.since), new Date());
    const { withRepositories } = await commands();
    const result = await withRepositories(config, logger, (repos) =>
      runReport(config, repos, {
        format: options.format,
        ...(options.since !== undefined ? { since: String(options.since) } : {}),
        ...(options.out !== undefined ? { out: String(options.out) } : {}),
        ...(options.table !== undefined ? { table: String(options.table) } : {}),
      }),
    );
    if (result.text !== null) process.stdout.write(result.text);
    else print(`report written to ${result.path}`);
  });

  const suggestions = withSettings(
    program
      .command('suggestions')
      .description('list suggestions (approve / reject them with the subcommands)')
      .option(
        '--status <status>',
        'pending, approved, rejected, applied, failed, superseded, already_applied',
        'pending',
      )
      .option('--limit <n>', 'at most this many rows', '100')
      .option('--json', 'print JSON rows'),
  ).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    const limit = Number(options.limit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new ConfigError([`--limit=${options.limit}: expected a positive integer`]);
    const status = String(options.status);
    const valid = ['pending', 'approved', 'rejected', 'applied', 'failed', 'superseded', 'already_applied'];
    if (!valid.includes(status)) throw new ConfigError([`--status=${status}: expected one of ${valid.join(', ')}`]);
    const { withRepositories } = await commands();
    const rows = await withRepositories(config, logger, (repos) =>
      repos.suggestions.list({ status: status as 'pending', limit, offset: 0 }),
    );
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
      const numbers = ids.map(Number);
      const bad = ids.filter((_, i) => !Number.isInteger(numbers[i]) || (numbers[i] ?? 0) < 1);
      if (bad.length > 0)
        throw new ConfigError(bad.map((id) => `id ${JSON.stringify(id)}: expected a positive integer`));
      if (!options.all && numbers.length === 0) throw new ConfigError(['give suggestion ids or --all']);
      const { actorOf, withRepositories } = await commands();
      const result = await withRepositories(config, logger, async (repos) => {
        const user = await actorOf(repos, options.as);
        const origin = 'cli';
        return options.all
          ? repos.suggestions.decideAll({ verdict, user, origin })
          : repos.suggestions.decide({ ids: numbers, verdict, user, origin });
      });
      print(`${verdict === 'approve' ? 'approved' : 'rejected'} ${result.changed.length}`);
      for (const skipped of result.skipped) print(`skipped ${skipped.id}: ${skipped.why}`);
    });
  }

  const db = program.command('db').description('database operations');
  withSettings(db.command('migrate').description('apply pending migrations')).action(async (options) => {
    const { config, logger } = runtimeOf(options);
    // Opening the database applies pending migrations (PostgreSQL or the embedded database alike).
    const { openRepositories } = await import('./context.js');
    const { db } = await openRepositories(config, logger);
    await db.close();
    print(db.migrations.length === 0 ? 'database is up to date' : `applied ${db.migrations.join(', ')}`);
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
    if (!['viewer', 'moderator', 'admin'].includes(options.role)) {
      throw new ConfigError([`--role=${options.role}: expected viewer, moderator or admin`]);
    }
    if (!/^[\w.@-]{1,64}$/.test(name))
      throw new ConfigError([`name ${JSON.stringify(name)}: letters, digits, _ . @ - only`]);
    const { generatePassword, hashPassword } = await import('../dashboard/auth.js');
    const { withRepositories } = await commands();
    const password: string = options.password ?? generatePassword();
    await withRepositories(config, logger, async (repos) => {
      if (await repos.users.findByName(name)) throw new AppError('CONFLICT', `user ${name} already exists`);
      await repos.users.create({ name, role: options.role, passwordHash: await hashPassword(password) });
    });
    print(
      options.password
        ? `created ${name} (${options.role})`
        : `created ${name} (${options.role}) with password ${password}`,
    );
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
    const { generatePassword, hashPassword } = await import('../dashboard/auth.js');
    const { withRepositories } = await commands();
    const password: string = options.password ?? generatePassword();
    await withRepositories(config, logger, async (repos) => {
      const user = await repos.users.findByName(name);
      if (!user) throw new AppError('NOT_FOUND', `no user named ${name}`);
      await repos.users.setPassword(user.id, await hashPassword(password));
      await repos.audit.record({ userId: user.id, actor: 'cli', action: 'passwd', origin: 'cli' });
    });
    print(options.password ? `password of ${name} changed` : `password of ${name} changed to ${password}`);
  });

  withSettings(
    users
      .command('token')
      .description('create a personal API token for an account (printed once)')
      .argument('<name>', 'user name')
      .option('--label <label>', 'what the token is for', 'cli'),
  ).action(async (name: string, options) => {
    const { config, logger } = runtimeOf(options);
    const { hashSecret, newSecret } = await import('../dashboard/auth.js');
    const { TOKEN_PREFIX } = await import('../dashboard/app.js');
    const { ApiTokenRepository } = await import('../db/api-token.repository.js');
    const { openRepositories } = await import('./context.js');
    const secret = `${TOKEN_PREFIX}${newSecret()}`;
    const { db, repos } = await openRepositories(config, logger);
    try {
      const user = await repos.users.findByName(name);
      if (!user) throw new AppError('NOT_FOUND', `no user named ${name}`);
      await new ApiTokenRepository(db.prisma).create({
        userId: user.id,
        name: options.label,
        tokenHash: hashSecret(secret),
        expiresAt: new Date(Date.now() + config.tokenDays * 86_400_000),
      });
      await repos.audit.record({
        userId: user.id,
        actor: 'cli',
        action: 'token',
        detail: { name: options.label },
        origin: 'cli',
      });
    } finally {
      await db.close();
    }
    print(secret);
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
