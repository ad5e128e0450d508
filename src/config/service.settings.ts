/**
 * The settings of the service around the pipeline: dashboard sessions, booru politeness, media hosts, the rating
 * model, voting models, learned thresholds, reports, readiness and metrics (same shape as `pipeline.settings.ts`).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { bool, intIn, list, probability } from './schemas.js';
import type { Setting } from './setting.js';

export const SERVICE_SETTINGS = {
  /** How long a dashboard sign-in lasts, in hours. (Default: 12.) */
  sessionHours: {
    env: 'TAGGER_SESSION_HOURS',
    schema: intIn(1, 24 * 90),
    default: '12',
    doc: 'dashboard session lifetime, hours',
  },
  /** Mark dashboard cookies Secure; set it when the dashboard is served over HTTPS. (Default: false.) */
  secureCookies: {
    env: 'TAGGER_SECURE_COOKIES',
    schema: bool,
    default: 'false',
    doc: 'Secure cookies (dashboard behind HTTPS)',
  },
  /**
   * Dashboard sign-in attempts allowed per account name per window (4× per client address, IPv6 per /64); counted in
   * the database, so every process shares them. (Default: 5.)
   */
  loginMaxFailures: {
    env: 'TAGGER_LOGIN_MAX_FAILURES',
    schema: intIn(1, 1000),
    default: '5',
    doc: 'sign-in attempts per name per window (4× per address)',
  },
  /** Login throttle window, in minutes. (Default: 15.) */
  loginWindowMinutes: {
    env: 'TAGGER_LOGIN_WINDOW_MINUTES',
    schema: intIn(1, 24 * 60),
    default: '15',
    doc: 'login throttle window, minutes',
  },
  /**
   * Proxies whose `X-Forwarded-For` names the client (login throttle, /evaluate rate limit, audit log): `false`, the
   * number of proxy hops in front, or a comma list of their addresses/CIDRs (e.g. `127.0.0.1,10.0.0.0/8`).
   * (Default: false: the socket's address.)
   */
  trustProxy: {
    env: 'TAGGER_TRUST_PROXY',
    schema: z.string().transform((v, ctx): false | number | string[] => {
      const text = v.trim();
      if (text === '' || text === 'false' || text === '0') return false;
      if (/^\d{1,2}$/.test(text)) return Number(text);
      const entries = text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      for (const entry of entries) {
        const [address, prefix, extra] = entry.split('/');
        const family = isIP(address ?? '');
        const bits = family === 4 ? 32 : 128;
        const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
        if (family === 0 || !prefixOk || extra !== undefined) {
          ctx.addIssue({ code: 'custom', message: `"${entry}" is not an IP address or CIDR (or use a hop count)` });
          return z.NEVER;
        }
      }
      return entries;
    }),
    default: 'false',
    doc: 'proxies trusted for X-Forwarded-For: false, hop count, or IPs/CIDRs (comma list)',
  },
  /** Days a new personal API token stays valid. (Default: 90.) */
  tokenDays: {
    env: 'TAGGER_TOKEN_DAYS',
    schema: intIn(1, 3650),
    default: '90',
    doc: 'personal API token lifetime, days',
  },
  /** Booru API reads per second (0 = unlimited; e621 is held to 2 whatever is set). (Default: 5.) */
  readRate: {
    env: 'TAGGER_READ_RATE',
    schema: z.coerce.number().min(0).max(1000),
    default: '5',
    doc: 'booru API reads per second (0 = unlimited; e621 ≤ 2)',
  },
  /** Booru API writes per second (Danbooru Member 1/s, Gold+ 4/s). (Default: 1.) */
  writeRate: {
    env: 'TAGGER_WRITE_RATE',
    schema: z.coerce.number().min(0.01).max(100),
    default: '1',
    doc: 'booru API writes per second',
  },
  /** Writes allowed back to back after a quiet spell (Danbooru allows 200). (Default: 10.) */
  writeBurst: { env: 'TAGGER_WRITE_BURST', schema: intIn(1, 200), default: '10', doc: 'booru write burst' },
  /** Tags added + removed per minute, all edits together (Danbooru: 100 below Builder; 0 = unlimited). (Default: 100.) */
  tagBudgetPerMinute: {
    env: 'TAGGER_TAG_BUDGET_PER_MINUTE',
    schema: intIn(0, 100_000),
    default: '100',
    doc: 'tag changes per minute (0 = unlimited)',
  },
  /** Pause after HTTP 429, ms, for every request (Danbooru's lockout lasts ≈31 s). (Default: 35000.) */
  rateLimitBackoffMs: {
    env: 'TAGGER_RATE_LIMIT_BACKOFF_MS',
    schema: intIn(1, 3_600_000),
    default: '35000',
    doc: 'pause after HTTP 429, ms (≥ 35000 against Danbooru)',
  },
  /** Retries of a booru request after a 5xx, a timeout or a garbled page (jittered exponential backoff). (Default: 3.) */
  httpRetries: { env: 'TAGGER_HTTP_RETRIES', schema: intIn(0, 20), default: '3', doc: 'booru request retries' },
  /**
   * Oldest tag sync a diff may use, hours; past it (or after a failed sync) posts are scored but suggestions wait,
   * `run --once` exits 1, and /readyz and `status` say not ready. The schedule syncs hourly, so 24 h tolerates a day of booru trouble. 0: any age.
   * (Default: 24.)
   */
  syncMaxAgeHours: {
    env: 'TAGGER_SYNC_MAX_AGE_HOURS',
    schema: intIn(0, 24 * 365),
    default: '24',
    doc: 'oldest tag sync a diff may use, hours (0 = any age); stale ⇒ suggestions wait, not ready',
  },
  /** First re-scan of changed posts looks this far back, hours. (Default: 24.) */
  rescanWindowHours: {
    env: 'TAGGER_RESCAN_WINDOW_HOURS',
    schema: intIn(1, 24 * 365),
    default: '24',
    doc: 'first re-scan looks back this far, hours',
  },
  /** Media hosts downloads may use, comma list (unset ⇒ the booru's own host and its known CDNs). */
  mediaHosts: {
    env: 'TAGGER_MEDIA_HOSTS',
    schema: list,
    doc: 'allowed media hosts, comma list; unset ⇒ booru host + known CDNs',
  },
  /**
   * Non-public media destinations to trust, comma list of host names and IPs/CIDRs (media hosts must otherwise resolve
   * to public addresses; the booru's own host is always trusted). (Default: none.)
   */
  mediaAllowPrivate: {
    env: 'TAGGER_MEDIA_ALLOW_PRIVATE',
    schema: list,
    doc: 'media hosts/CIDRs that may be private (loopback, LAN), comma list; booru host always',
  },
  /** A rating model folder (e.g. models/nsfw-mobilenet-v2) run beside the tagger. (Default: none; demo: bundled.) */
  ratingModelDir: {
    env: 'TAGGER_RATING_MODEL_DIR',
    schema: z.string().min(1),
    doc: 'rating model folder run beside the tagger (e.g. models/nsfw-mobilenet-v2)',
  },
  /** Rating model: hentai + porn at or above this on a g/s post suggests q. (Default: 0.8.) */
  ratingExplicit: {
    env: 'TAGGER_RATING_EXPLICIT',
    schema: probability,
    default: '0.8',
    doc: 'rating model: explicit classes ≥ this on g/s ⇒ suggest q',
  },
  /** Rating model: sexy at or above this on a g post suggests s. (Default: 0.8.) */
  ratingSensitive: {
    env: 'TAGGER_RATING_SENSITIVE',
    schema: probability,
    default: '0.8',
    doc: 'rating model: sexy ≥ this on g ⇒ suggest s',
  },
  /** Rating model: drawing + neutral at or above this on a q/e post suggests g. (Default: never.) */
  ratingSafe: {
    env: 'TAGGER_RATING_SAFE',
    schema: probability,
    doc: 'rating model: safe classes ≥ this on q/e ⇒ suggest g; unset ⇒ never',
  },
  /**
   * More tag model folders that vote with MODEL_DIR's model, a comma list; their scores are stored per model and
   * combined by TAGGER_ENSEMBLE. (Default: none: MODEL_DIR's model alone.)
   */
  extraModelDirs: {
    env: 'TAGGER_EXTRA_MODEL_DIRS',
    schema: list,
    doc: 'more tag model folders voting with MODEL_DIR, comma list; see TAGGER_ENSEMBLE',
  },
  /**
   * How the voting models' scores combine: `mean`, or `vote:K` (at least K of the N models at or above the
   * threshold). Only used with TAGGER_EXTRA_MODEL_DIRS. (Default: mean.)
   */
  ensemble: {
    env: 'TAGGER_ENSEMBLE',
    schema: z
      .string()
      .regex(/^(mean|vote:[1-9]\d{0,2})$/, 'expected mean or vote:K (K ≥ 1)')
      .transform((v) => v as 'mean' | `vote:${number}`),
    default: 'mean',
    doc: 'several models: mean, or vote:K (at least K of N models above the threshold)',
  },
  /** Let per-tag thresholds learned from moderators' decisions override the category ones; the dashboard's toggle,
   * once used, wins over this. (Default: false.) */
  learnedThresholds: {
    env: 'TAGGER_LEARNED_THRESHOLDS',
    schema: bool,
    default: 'false',
    doc: 'diff with thresholds learned from decisions (the dashboard toggle wins once used)',
  },
  /** The precision a learned threshold must reach, by the lower 95% Wilson bound. (Default: 0.9.) */
  learnedTarget: {
    env: 'TAGGER_LEARNED_TARGET',
    schema: z.coerce.number().gt(0).lt(1),
    default: '0.9',
    doc: 'learned thresholds: target precision (lower 95% bound)',
  },
  /** Fewest decisions behind a learned threshold. (Default: 30.) */
  learnedMinSamples: {
    env: 'TAGGER_LEARNED_MIN_SAMPLES',
    schema: intIn(1, 1_000_000),
    default: '30',
    doc: 'learned thresholds: fewest decisions per tag and action',
  },
  /** Where the weekly report is written. (Default: <data dir>/reports.) */
  reportDir: {
    env: 'TAGGER_REPORT_DIR',
    schema: z.string().min(1),
    doc: 'folder of the scheduled reports; unset ⇒ <data dir>/reports',
  },
  /** Formats of the weekly report, comma list of md, html, csv, json, dtext. (Default: html.) */
  reportFormats: {
    env: 'TAGGER_REPORT_FORMATS',
    schema: list.pipe(z.array(z.enum(['md', 'html', 'csv', 'json', 'dtext'])).min(1)),
    default: 'html',
    doc: 'formats of the scheduled weekly report: md, html, csv, json, dtext',
  },
  /** How long /readyz and `status` wait for the database, in ms. (Default: 2000.) */
  readyTimeoutMs: {
    env: 'TAGGER_READY_TIMEOUT_MS',
    schema: intIn(100, 60_000),
    default: '2000',
    doc: 'readiness: how long to wait for the database, ms',
  },
  /** Longest silence from the booru's API before the service counts as not ready, in seconds. (Default: 600.) */
  readyBooruAgeS: {
    env: 'TAGGER_READY_BOORU_AGE_S',
    schema: intIn(10, 604_800),
    default: '600',
    doc: 'readiness: the booru answered a worker within this many seconds',
  },
  /** Bearer token that lets a scraper read /metrics on PORT. Never logged. (Default: unset ⇒ /metrics on PORT answers 401.) */
  metricsToken: {
    env: 'TAGGER_METRICS_TOKEN',
    schema: z.string().min(16, 'at least 16 characters'),
    doc: 'bearer token for /metrics on PORT (unset ⇒ only TAGGER_METRICS_PORT serves it)',
  },
  /** A second listener that serves /metrics alone, without a token, for a private address. (Default: unset ⇒ none.) */
  metricsPort: {
    env: 'TAGGER_METRICS_PORT',
    schema: intIn(0, 65535),
    doc: 'serve /metrics (no token) on this port too, also from `worker`; unset ⇒ off',
  },
  /** The address the metrics listener binds. (Default: 127.0.0.1.) */
  metricsHost: {
    env: 'TAGGER_METRICS_HOST',
    schema: z.string().min(1),
    default: '127.0.0.1',
    doc: 'address the TAGGER_METRICS_PORT listener binds',
  },
} as const satisfies Record<string, Setting>;
