/** The dashboard's options from the typed config (used by the entry points). */
import type { Config } from '../config/config.js';
import type { DashboardOptions, DefaultThresholds } from './route-context.js';

export function dashboardOptionsOf(config: Config): DashboardOptions {
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
export function defaultThresholdsOf(config: Config): DefaultThresholds {
  return {
    general: config.thresholdGeneral,
    character: config.thresholdCharacter,
    remove: config.thresholdRemove,
    removeCategories: config.removeCategories,
    ratingMargin: config.ratingMargin,
    rejectMargin: config.rejectMargin,
  };
}
