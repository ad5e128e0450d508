/**
 * What every route of the dashboard is built from: the dependencies the entry point passes in, the options, and the
 * context the routes share. Types only, so routes import them without importing `app.ts`.
 */
import type { ApiTokenRepository } from '../db/api-token.repository.js';
import type { AuditRepository } from '../db/audit.repository.js';
import type { BooruRepository } from '../db/booru.repository.js';
import type { PostRepository } from '../db/post.repository.js';
import type { ReportRepository } from '../db/report.repository.js';
import type { SuggestionRepository } from '../db/suggestion.repository.js';
import type { ThresholdRepository } from '../db/threshold.repository.js';
import type { UserRepository } from '../db/user.repository.js';
import type { Logger } from '../shared/logger.js';
import type { EvaluateDeps } from './evaluate.service.js';
import type { LoginAttemptStore, LoginThrottle } from './login-throttle.js';
import type { HealthDeps } from './routes/health.routes.js';
import type { StatusSource } from './status-source.js';

export interface DashboardDeps {
  users: UserRepository;
  suggestions: SuggestionRepository;
  posts: PostRepository;
  boorus: BooruRepository;
  apiTokens: ApiTokenRepository;
  audit: AuditRepository;
  logger: Logger;
  /** The status page's facts (`statusSourceOf` over the one status query). */
  statusSource: StatusSource;
  /** Report rows for the reports page. (Default: none: the page says reports are unavailable.) */
  reports?: ReportRepository;
  /** Stored thresholds, and the learned ones and their switch (shown with reports), for the thresholds page. */
  thresholds: ThresholdRepository;
  /** The model and limits behind /evaluate and the upload page. (Default: none: both answer 503.) */
  evaluate?: EvaluateDeps;
  /** Where sign-in attempts are counted. (Default: this process's memory; the service passes the database's.) */
  loginAttempts?: LoginAttemptStore;
  /** Where the cookie-signing key is kept. (Default: none: a random key per process.) */
  secrets?: { getOrCreate(name: string, make: () => string): Promise<string> };
  /** Readiness checks and the metrics scrape behind /readyz and /metrics. (Default: none: both refuse.) */
  health?: HealthDeps;
}

/** The configured defaults the thresholds page shows beside stored thresholds. */
export interface DefaultThresholds {
  general: number;
  character: number;
  remove: number;
  removeCategories: readonly string[];
  ratingMargin: number;
  /** How much stronger a rejected suggestion's new score must be before it is suggested again. */
  rejectMargin: number;
}

export interface DashboardOptions {
  /** Session lifetime in milliseconds. (Default: TAGGER_SESSION_HOURS's.) */
  sessionMs?: number;
  /** Mark cookies Secure (behind HTTPS). (Default: the setting's.) */
  secureCookies?: boolean;
  /** Failed sign-ins allowed per account name per window. (Default: the setting's.) */
  loginMaxFailures?: number;
  /** Login throttle window in milliseconds. (Default: the setting's.) */
  loginWindowMs?: number;
  /** What the thresholds page shows as configured defaults. (Default: the settings' defaults, src/config.) */
  defaultThresholds?: DefaultThresholds;
  /** Days a new personal API token stays valid. (Default: TAGGER_TOKEN_DAYS's.) */
  tokenDays?: number;
  /**
   * Which proxies' `X-Forwarded-For` to believe for the client's address: their addresses or CIDRs, or the number of
   * proxy hops in front. (Default: none: the address is the socket's.)
   */
  trustProxy?: readonly string[] | number;
  /**
   * Hosts (CSP host-sources) images may come from besides the dashboard itself: the boorus' media hosts. (Default: any
   * http(s) host.)
   */
  imageHosts?: readonly string[];
}

export interface RouteContext {
  deps: DashboardDeps;
  sessionMs: number;
  secureCookies: boolean;
  throttle: LoginThrottle;
  tokenDays: number;
  defaultThresholds: DefaultThresholds;
  evaluate: EvaluateDeps | null;
}
