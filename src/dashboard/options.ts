/** The dashboard's options from the typed config (used by the entry points). */
import type { Config } from '../config/config.js';
import type { DashboardOptions, DefaultThresholds } from './route-context.js';

/** The options every dashboard has a value for (a config with no settings given yields the settings' defaults). */
export type SettledOptions = DashboardOptions &
  Required<
    Pick<
      DashboardOptions,
      'sessionMs' | 'secureCookies' | 'loginMaxFailures' | 'loginWindowMs' | 'tokenDays' | 'defaultThresholds'
    >
  >;

export function dashboardOptionsOf(config: Config): SettledOptions {
  return {
    sessionMs: config.sessionHours * 3600_000,
    secureCookies: config.secureCookies,
    loginMaxFailures: config.loginMaxFailures,
    loginWindowMs: config.loginWindowMinutes * 60_000,
    ...(config.trustProxy !== false ? { trustProxy: config.trustProxy } : {}),
    tokenDays: config.tokenDays,
    defaultThresholds: defaultThresholdsOf(config),
  };
}

/** The configured thresholds the thresholds page shows (of a config with no settings given: the settings' defaults). */
function defaultThresholdsOf(config: Config): DefaultThresholds {
  return {
    general: config.thresholdGeneral,
    character: config.thresholdCharacter,
    remove: config.thresholdRemove,
    removeCategories: config.removeCategories,
    ratingMargin: config.ratingMargin,
    rejectMargin: config.rejectMargin,
  };
}
