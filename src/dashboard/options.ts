/** The dashboard's options from the typed config (used by the entry points). */
import type { Config } from '../config/config.js';
import type { DashboardOptions } from './app.js';

export function dashboardOptionsOf(config: Config): DashboardOptions {
  return {
    sessionMs: config.sessionHours * 3600_000,
    secureCookies: config.secureCookies,
    loginMaxFailures: config.loginMaxFailures,
    loginWindowMs: config.loginWindowMinutes * 60_000,
    ...(config.trustProxy !== false ? { trustProxy: config.trustProxy } : {}),
    tokenDays: config.tokenDays,
    defaultThresholds: {
      general: config.thresholdGeneral,
      character: config.thresholdCharacter,
      remove: config.thresholdRemove,
      removeCategories: config.removeCategories,
      ratingMargin: config.ratingMargin,
    },
  };
}
