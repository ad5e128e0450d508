/**
 * The one typed configuration module: every setting, its environment variable, its CLI flag and its default.
 * Nothing else in the project reads `process.env`. A bad value fails with a {@link ConfigError} naming every bad
 * key, and the CLI exits 2.
 */
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../shared/errors.js';

/** The package root (where package.json, models/ and prisma/ live), whatever the working directory. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PACKAGE_VERSION = '0.1.0';

const intIn = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const probability = z.coerce.number().min(0).max(1);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
);

/**
 * Each setting: its environment variable (the flag is the same name in kebab-case without the `TAGGER_` prefix,
 * e.g. `TAGGER_BATCH_SIZE` ⇔ `--batch-size`), the schema, the default, and one line of documentation.
 */
export const SETTINGS = {
  /** PostgreSQL URL. (Default: unset ⇒ the embedded PGlite database under the data directory.) */
  databaseUrl: { env: 'DATABASE_URL', schema: z.url(), doc: 'PostgreSQL URL; unset ⇒ embedded database' },
  /** Base URL of the booru. (Default: unset; `run` needs it, `demo` starts its own.) */
  booruUrl: { env: 'BOORU_URL', schema: z.url(), doc: 'base URL of the booru, e.g. https://danbooru.donmai.us' },
  /** The booru's API dialect; `auto` probes the site once. (Default: danbooru.) */
  booruKind: {
    env: 'BOORU_KIND',
    schema: z.enum(['danbooru', 'e621', 'moebooru', 'gelbooru', 'szurubooru', 'auto']),
    default: 'danbooru',
    doc: 'API dialect: danbooru, e621, moebooru, gelbooru (read-only), szurubooru, or auto (probe the site)',
  },
  /** Account name for HTTP Basic auth. (Default: anonymous.) */
  booruLogin: { env: 'BOORU_LOGIN', schema: z.string().min(1), doc: 'booru account name (HTTP Basic auth)' },
  /** API key for HTTP Basic auth. Never logged. (Default: anonymous.) */
  booruApiKey: {
    env: 'BOORU_API_KEY',
    schema: z.string().min(1),
    doc: 'booru API key (never logged); on Moebooru see BOORU_MOEBOORU_AUTH',
  },
  /**
   * What BOORU_LOGIN / BOORU_API_KEY are on a Moebooru: `password_hash` sends `login` + `password_hash` (the SHA-1
   * of "choujin-steiner--PASSWORD--", every Moebooru version); `api_key` sends `username` + `api_key` (newest
   * Moebooru only). (Default: password_hash.)
   */
  booruMoebooruAuth: {
    env: 'BOORU_MOEBOORU_AUTH',
    schema: z.enum(['password_hash', 'api_key']),
    default: 'password_hash',
    doc: 'Moebooru: BOORU_API_KEY is the password_hash (login+password_hash) or an api_key (username+api_key)',
  },
  /** The model folder (DESIGN §4). (Default: the bundled test model, models/test-colors.) */
  modelDir: {
    env: 'MODEL_DIR',
    schema: z.string().min(1),
    doc: 'model folder (model.onnx + selected_tags.csv); unset ⇒ bundled models/test-colors',
  },
  /** Execution provider: auto (GPU when present, else CPU), cpu, cuda, webgpu. (Default: auto.) */
  device: {
    env: 'DEVICE',
    schema: z
      .string()
      .regex(/^(auto|cpu|cuda|cuda:\d{1,2}|webgpu)$/, 'expected auto, cpu, cuda, cuda:N or webgpu')
      .transform((v) => v as 'auto' | 'cpu' | 'cuda' | `cuda:${number}` | 'webgpu'),
    default: 'auto',
    doc: 'auto, cpu, cuda, cuda:N (GPU N) or webgpu',
  },
  /** Port of the web server (dashboard, API, /healthz). (Default: 8080.) */
  port: { env: 'PORT', schema: intIn(0, 65535), default: '8080', doc: 'web server port' },
  /** Let /evaluate answer without an API token. (Default: false.) */
  evaluateOpen: { env: 'EVALUATE_OPEN', schema: bool, default: 'false', doc: '/evaluate without a token' },
  /** Largest image one /evaluate or upload-page request may send, per file, in bytes. (Default: 20971520 = 20 MiB.) */
  evaluateMaxFileBytes: {
    env: 'TAGGER_EVALUATE_MAX_FILE_BYTES',
    schema: intIn(1024, 2 ** 31 - 1),
    default: String(20 * 1024 * 1024),
    doc: '/evaluate: largest file, bytes',
  },
  /** Most files one /evaluate request may send. (Default: 16.) */
  evaluateMaxFiles: {
    env: 'TAGGER_EVALUATE_MAX_FILES',
    schema: intIn(1, 1000),
    default: '16',
    doc: '/evaluate: most files per request',
  },
  /** Requests per minute one client address may make to /evaluate and the upload page; 0 = unlimited. (Default: 60.) */
  evaluateRate: {
    env: 'TAGGER_EVALUATE_RATE',
    schema: intIn(0, 1_000_000),
    default: '60',
    doc: '/evaluate: requests per minute per client (0 = unlimited)',
  },
  /** Longest an /evaluate or upload-page body may take to arrive once it is being read, ms; then 408. (Default: 30000.) */
  evaluateBodyTimeoutMs: {
    env: 'TAGGER_EVALUATE_BODY_TIMEOUT_MS',
    schema: intIn(100, 600_000),
    default: '30000',
    doc: '/evaluate: longest body upload, ms (then 408)',
  },
  /** Longest an /evaluate or upload-page request waits for a free slot, ms; then 503. (Default: 10000.) */
  evaluateQueueTimeoutMs: {
    env: 'TAGGER_EVALUATE_QUEUE_TIMEOUT_MS',
    schema: intIn(0, 600_000),
    default: '10000',
    doc: '/evaluate: longest wait for a free slot, ms (then 503)',
  },
  /** Address the web server binds to. (Default: 127.0.0.1.) */
  host: { env: 'TAGGER_HOST', schema: z.string().min(1), default: '127.0.0.1', doc: 'address to bind' },
  /** Folder for the embedded database and other local state. (Default: ./data.) */
  dataDir: { env: 'TAGGER_DATA_DIR', schema: z.string().min(1), default: './data', doc: 'local state folder' },
  /** pino log level. (Default: info.) */
  logLevel: {
    env: 'TAGGER_LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    doc: 'fatal | error | warn | info | debug | trace | silent',
  },
  /** User-Agent sent to the booru; make it unique. (Default: booru-tagger/<version> (by <login>).) */
  userAgent: {
    env: 'TAGGER_USER_AGENT',
    schema: z.string().min(3),
    doc: 'User-Agent sent to the booru; unset ⇒ booru-tagger/<version> (by <login>)',
  },
  /** Posts per pipeline batch: claims, queues and writes; model runs follow the device batch. (Default: 16.) */
  batchSize: {
    env: 'TAGGER_BATCH_SIZE',
    schema: intIn(1, 1024),
    default: '16',
    doc: 'posts per pipeline batch (claims, writes); model runs follow the device batch',
  },
  /**
   * onnxruntime intra-op threads; 0 = by rule: on the CPU, the usable cores minus an eighth of them for decoding
   * (2 → 2, 8 → 7, 16 → 14); on a GPU, 1. (Default: 0.)
   */
  threads: {
    env: 'TAGGER_THREADS',
    schema: intIn(0, 256),
    default: '0',
    doc: 'inference threads, 0 = auto (cpu: cores − ⌊cores/8⌋; gpu: 1)',
  },
  /** Add threshold for general tags. (Default: 0.35.) */
  thresholdGeneral: {
    env: 'TAGGER_THRESHOLD_GENERAL',
    schema: probability,
    default: '0.35',
    doc: 'suggest adding a general tag scoring ≥ this',
  },
  /** Add threshold for character tags. (Default: 0.85.) */
  thresholdCharacter: {
    env: 'TAGGER_THRESHOLD_CHARACTER',
    schema: probability,
    default: '0.85',
    doc: 'suggest adding a character tag scoring ≥ this',
  },
  /** Remove threshold: a tag on the post scoring at most this is suggested for removal. (Default: 0.02.) */
  thresholdRemove: {
    env: 'TAGGER_THRESHOLD_REMOVE',
    schema: probability,
    default: '0.02',
    doc: 'suggest removing a tag scoring ≤ this',
  },
  /** Categories whose tags may be suggested for removal. (Default: general.) */
  removeCategories: {
    env: 'TAGGER_REMOVE_CATEGORIES',
    schema: list.pipe(z.array(z.enum(['general', 'character', 'copyright']))),
    default: 'general',
    doc: 'comma list of general, character, copyright',
  },
  /** How much more probable the model's rating must be than the post's for a rating suggestion. (Default: 0.4.) */
  ratingMargin: {
    env: 'TAGGER_RATING_MARGIN',
    schema: probability,
    default: '0.4',
    doc: 'model rating must beat the post’s by this',
  },
  /** Scores below this are not stored. (Default: 0.01.) */
  scoreFloor: { env: 'TAGGER_SCORE_FLOOR', schema: probability, default: '0.01', doc: 'lowest score stored' },
  /** How many top scores are stored per post, besides the post's own tags. (Default: 64.) */
  topK: { env: 'TAGGER_TOP_K', schema: intIn(1, 100_000), default: '64', doc: 'top scores stored per post' },
  /** Booru request timeout in milliseconds. (Default: 30000.) */
  httpTimeoutMs: {
    env: 'TAGGER_HTTP_TIMEOUT_MS',
    schema: intIn(100, 600_000),
    default: '30000',
    doc: 'booru request timeout, ms',
  },
  /** Largest media download in bytes. (Default: 52428800 = 50 MiB.) */
  maxMediaBytes: {
    env: 'TAGGER_MAX_MEDIA_BYTES',
    schema: intIn(1024, 2 ** 31 - 1),
    default: String(50 * 1024 * 1024),
    doc: 'largest image download, bytes',
  },
  /** Largest decoded image in pixels. (Default: 100000000.) */
  maxPixels: {
    env: 'TAGGER_MAX_PIXELS',
    schema: intIn(1, 2 ** 31 - 1),
    default: '100000000',
    doc: 'largest decoded image, pixels',
  },
  /** Attempts before a failing post stops being retried. (Default: 5.) */
  maxAttempts: {
    env: 'TAGGER_MAX_ATTEMPTS',
    schema: intIn(1, 100),
    default: '5',
    doc: 'tries per post before it is marked failed',
  },
  /** How long a claimed post stays leased to one worker, in milliseconds. (Default: 300000.) */
  leaseMs: {
    env: 'TAGGER_LEASE_MS',
    schema: intIn(1000, 86_400_000),
    default: '300000',
    doc: 'how long a claimed post stays leased, ms',
  },
  /**
   * Images per model run; 0 = measured at start-up (batch 1, 2, 4… on synthetic tensors, a few seconds at most; the
   * fastest per image wins) and cached under the data dir per model, device and threads. Halved on GPU
   * out-of-memory. (Default: 0.)
   */
  deviceBatch: {
    env: 'TAGGER_DEVICE_BATCH',
    schema: intIn(0, 1024),
    default: '0',
    doc: 'images per model run, 0 = measured at start (cached in the data dir)',
  },
  /** Longest one image decode may take, in seconds. (Default: 30.) */
  decodeTimeoutS: {
    env: 'TAGGER_DECODE_TIMEOUT_S',
    schema: intIn(1, 3600),
    default: '30',
    doc: 'longest image decode, seconds',
  },
  /** Per-tag thresholds file (JSON `{"tag": 0.5}` or CSV `tag,add,remove`), overriding the category ones. (Default: none.) */
  thresholdsFile: {
    env: 'TAGGER_THRESHOLDS_FILE',
    schema: z.string().min(1),
    doc: 'per-tag thresholds, JSON or CSV tag,add,remove',
  },
  /** Categories whose add threshold is MCut over each image's scores instead of the fixed one. (Default: none.) */
  mcut: {
    env: 'TAGGER_MCUT',
    schema: list.pipe(z.array(z.enum(['general', 'character']))),
    default: '',
    doc: 'comma list of general, character: use MCut thresholds',
  },
  /** Where `models fetch` installs and `models list` looks. (Default: <data dir>/models.) */
  modelsDir: {
    env: 'TAGGER_MODELS_DIR',
    schema: z.string().min(1),
    doc: 'installed models folder; unset ⇒ <data dir>/models',
  },
  /** A mirror for `models fetch`: https://host/path is fetched from <mirror>/host/path. (Default: the origin.) */
  modelsMirror: {
    env: 'TAGGER_MODELS_MIRROR',
    schema: z.url(),
    doc: 'base URL mirroring the model hosts, e.g. http://127.0.0.1:9000',
  },
  /** Stop a `run --once` after this many new posts (0 = no limit). (Default: 0.) */
  maxPosts: { env: 'TAGGER_MAX_POSTS', schema: intIn(0, 100_000_000), default: '0', doc: 'posts per run, 0 = all' },
  /** Parallel media downloads per worker. (Default: 8.) */
  downloadConcurrency: {
    env: 'TAGGER_DOWNLOAD_CONCURRENCY',
    schema: intIn(1, 256),
    default: '8',
    doc: 'parallel image downloads per worker',
  },
  /** Parallel image decodes per worker; 0 = the cores inference leaves (at least 2; every core beside a GPU). (Default: 0.) */
  decodeConcurrency: {
    env: 'TAGGER_DECODE_CONCURRENCY',
    schema: intIn(0, 64),
    default: '0',
    doc: 'parallel image decodes per worker, 0 = the cores inference leaves (≥ 2)',
  },
  /** Longest wait for a full inference batch before running a partial one, ms. (Default: 100.) */
  maxBatchWaitMs: {
    env: 'TAGGER_MAX_BATCH_WAIT_MS',
    schema: intIn(0, 60_000),
    default: '100',
    doc: 'longest wait to fill a batch, ms',
  },
  /** On SIGINT/SIGTERM, how long in-flight posts may take before they are released, ms. (Default: 30000.) */
  drainTimeoutMs: {
    env: 'TAGGER_DRAIN_TIMEOUT_MS',
    schema: intIn(0, 600_000),
    default: '30000',
    doc: 'graceful shutdown limit, ms',
  },
  /** How often an idle worker looks for new posts, ms. (Default: 2000.) */
  pollMs: { env: 'TAGGER_POLL_MS', schema: intIn(50, 600_000), default: '2000', doc: 'idle worker poll interval, ms' },
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

interface Setting {
  env: string;
  schema: z.ZodType;
  default?: string;
  doc: string;
}

type Settings = typeof SETTINGS;
type Key = keyof Settings;
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
  for (const key of Object.keys(SETTINGS) as Key[]) {
    const setting: Setting = SETTINGS[key];
    const fromFlag = overrides[key];
    const fromEnv = env[setting.env];
    const raw = fromFlag ?? (fromEnv === '' ? undefined : fromEnv) ?? setting.default;
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
  return Object.freeze(out) as Config;
}

function redactIfSecret(key: Key, raw: string): string {
  return key === 'booruApiKey' || key === 'databaseUrl' || key === 'metricsToken' ? '[redacted]' : raw;
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
