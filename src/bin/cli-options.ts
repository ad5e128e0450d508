/**
 * The command-line flags every command shares (each setting, read into the config) and the checks of command flags
 * that run before a command loads its modules: the database client, onnxruntime, sharp and fastify take about a second
 * to import, which usage errors should not pay. The checks throw a ConfigError or a `USAGE` AppError, which cli.ts
 * maps to exit status 2.
 */
import { type Command, Option } from 'commander';
import { type Config, flagOf, loadConfig, SETTINGS } from '../config/config.js';
import type { Rating } from '../core/types.js';
import { SUGGESTION_STATUSES, type SuggestionStatus } from '../core/states.js';
import { AppError, ConfigError } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/logger.js';

type SettingKey = keyof typeof SETTINGS;
const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** Every setting is also a flag on every command; the flag wins over the environment variable. */
export function withSettings(command: Command): Command {
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

export function runtimeOf(options: Record<string, unknown>): Runtime {
  const overrides: Partial<Record<SettingKey, string>> = {};
  for (const key of SETTING_KEYS) {
    const value = options[key];
    if (typeof value === 'string') overrides[key] = value;
  }
  const config = loadConfig(process.env, overrides);
  return { config, logger: createLogger({ level: config.logLevel }) };
}

/** What commander parsed: option values by camel-cased flag name. */
export type ParsedOptions = Record<string, unknown>;

/** `run` and `apply` are the one-shot commands; the long-running service is `serve`. */
export function requireOnce(once: unknown, name: string): void {
  if (!once)
    throw new AppError('USAGE', `\`${name}\` runs once and exits: pass --once (the long-running service is \`serve\`)`);
}

/** The booru a command talks to (BOORU_URL or its flag). */
export function requireBooruUrl(config: Config, command: string): string {
  if (!config.booruUrl) throw new ConfigError([`BOORU_URL (or ${flagOf('booruUrl')}) is required for \`${command}\``]);
  return config.booruUrl;
}

/** The `export-dataset` flags, checked: every problem is reported at once. */
export interface ExportFlags {
  out: string;
  minTags: number;
  tagMinPosts: number;
  ratings: Rating[];
  since?: Date;
  until?: Date;
  withApproved: boolean;
}

export async function parseExportFlags(options: ParsedOptions): Promise<ExportFlags> {
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
  let ratings: Rating[] = [];
  try {
    ratings = options.rating === undefined ? [] : parseRatings(String(options.rating));
  } catch (error) {
    problems.push(`--rating: ${(error as Error).message}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    out: String(options.out),
    minTags,
    tagMinPosts,
    ratings,
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    withApproved: Boolean(options.withApproved),
  };
}

/** `suggestions --status S --limit N`. */
export function parseListFlags(options: ParsedOptions): { status: SuggestionStatus; limit: number } {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new ConfigError([`--limit=${options.limit}: expected a positive integer`]);
  const status = String(options.status);
  if (!SUGGESTION_STATUSES.includes(status as SuggestionStatus))
    throw new ConfigError([`--status=${status}: expected one of ${SUGGESTION_STATUSES.join(', ')}`]);
  return { status: status as SuggestionStatus, limit };
}

/** `suggestions approve|reject [ids...] [--all]`: the suggestion ids, positive integers. */
export function parseDecisionIds(ids: string[], all: unknown): number[] {
  const numbers = ids.map(Number);
  const bad = ids.filter((_, i) => !Number.isInteger(numbers[i]) || (numbers[i] ?? 0) < 1);
  if (bad.length > 0) throw new ConfigError(bad.map((id) => `id ${JSON.stringify(id)}: expected a positive integer`));
  if (!all && numbers.length === 0) throw new ConfigError(['give suggestion ids or --all']);
  return numbers;
}

export type UserRole = 'viewer' | 'moderator' | 'admin';

/** `users add NAME --role R`: a known role and a name the dashboard accepts. */
export function checkNewUser(name: string, role: unknown): UserRole {
  if (!['viewer', 'moderator', 'admin'].includes(role as string)) {
    throw new ConfigError([`--role=${role}: expected viewer, moderator or admin`]);
  }
  if (!/^[\w.@-]{1,64}$/.test(name))
    throw new ConfigError([`name ${JSON.stringify(name)}: letters, digits, _ . @ - only`]);
  return role as UserRole;
}
