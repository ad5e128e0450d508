/**
 * The one typed configuration module: every setting, its environment variable, its CLI flag and its default.
 * Nothing else in the project reads `process.env`. A bad value fails with a {@link ConfigError} naming every bad
 * key, and the CLI exits 2.
 */
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { ConfigError } from '../shared/errors.js';
import { PIPELINE_SETTINGS } from './pipeline.settings.js';
import { SERVICE_SETTINGS } from './service.settings.js';
import type { Setting } from './setting.js';

/** The package root (where package.json, models/ and prisma/ live), whatever the working directory. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PACKAGE_VERSION = '0.1.0';

/**
 * Every setting, in the order `booru-tagger settings`, `--help` and the README list them: the pipeline's
 * (`pipeline.settings.ts`), then the service's (`service.settings.ts`).
 */
export const SETTINGS = { ...PIPELINE_SETTINGS, ...SERVICE_SETTINGS } as const satisfies Record<string, Setting>;

type Settings = typeof SETTINGS;
type SettingKey = keyof Settings;
type Key = SettingKey;
type ValueOf<K extends Key> = z.output<Settings[K]['schema']>;

/** The parsed configuration. Keys without a default are undefined when unset. */
export type Config = Readonly<{
  [K in Key]: Settings[K] extends { default: string } ? ValueOf<K> : ValueOf<K> | undefined;
}>;

/** The CLI flag of a setting: `TAGGER_BATCH_SIZE` ⇒ `--batch-size`, `BOORU_URL` ⇒ `--booru-url`. */
export function flagOf(key: Key): string {
  return `--${SETTINGS[key].env
    .replace(/^TAGGER_/, '')
    .toLowerCase()
    .replaceAll('_', '-')}`;
}

/**
 * Reads every setting from `env`, with `overrides` (CLI flags, keyed like {@link Config}) taking precedence.
 * Throws a {@link ConfigError} that lists every bad key at once.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  overrides: Partial<Record<Key, string | undefined>> = {},
): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const given = new Set<Key>();
  for (const key of Object.keys(SETTINGS) as Key[]) {
    const setting: Setting = SETTINGS[key];
    const fromFlag = overrides[key];
    const fromEnv = env[setting.env];
    const operator = fromFlag ?? (fromEnv === '' ? undefined : fromEnv);
    if (operator !== undefined) given.add(key);
    const raw = operator ?? setting.default;
    if (raw === undefined) {
      out[key] = undefined;
      continue;
    }
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) {
      out[key] = parsed.data;
    } else {
      const source = fromFlag !== undefined ? flagOf(key) : setting.env;
      const why = parsed.error.issues.map((issue) => issue.message).join('; ');
      problems.push(`${source}=${JSON.stringify(redactIfSecret(key, raw))}: ${why}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const config = Object.freeze(out) as Config;
  GIVEN.set(config, given);
  return config;
}

/** The keys each loaded config had from the operator (a flag or a non-empty environment variable). */
const GIVEN = new WeakMap<Config, ReadonlySet<Key>>();

/**
 * Whether the operator gave this setting (a flag or a non-empty environment variable), as opposed to leaving it at
 * its default, even when the value given equals the default. A config not made by {@link loadConfig} (a copy) counts
 * as given nothing.
 */
export function isSettingGiven(config: Config, key: Key): boolean {
  return GIVEN.get(config)?.has(key) ?? false;
}

function redactIfSecret(key: Key, raw: string): string {
  return key === 'booruApiKey' || key === 'databaseUrl' || key === 'metricsToken' ? '[redacted]' : raw;
}

/** The value a setting has when the operator leaves it unset: its default, parsed (undefined when it has none). */
export function defaultOf<K extends Key>(key: K): Config[K] {
  const setting: Setting = SETTINGS[key];
  return (setting.default === undefined ? undefined : setting.schema.parse(setting.default)) as Config[K];
}

/** The User-Agent to send: the configured one, else one that names the project and the account. */
export function userAgentOf(config: Config): string {
  if (config.userAgent) return config.userAgent;
  const by = config.booruLogin ? ` (by ${config.booruLogin})` : '';
  return `booru-tagger/${PACKAGE_VERSION}${by}`;
}

/** The settings table for README and --help: env var, flag, default, description. */
export function describeSettings(): { env: string; flag: string; default: string; doc: string }[] {
  return (Object.keys(SETTINGS) as Key[]).map((key) => {
    const setting: Setting = SETTINGS[key];
    return { env: setting.env, flag: flagOf(key), default: setting.default ?? '', doc: setting.doc };
  });
}
