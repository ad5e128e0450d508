/**
 * The settings of the pipeline: database, booru, model, inference, diff thresholds, limits and concurrency. Each
 * setting: its environment variable (the flag is the same name in kebab-case without the `TAGGER_` prefix, e.g.
 * `TAGGER_BATCH_SIZE` ⇔ `--batch-size`), the schema, the default, and one line of documentation.
 */
import { z } from 'zod';
import { bool, intIn, list, probability } from './schemas.js';
import type { Setting } from './setting.js';

export const PIPELINE_SETTINGS = {
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
  /** The threshold /evaluate and the upload page list tags from when a request names none. (Default: 0.1, upstream's.) */
  evaluateThreshold: {
    env: 'TAGGER_EVALUATE_THRESHOLD',
    schema: probability,
    default: '0.1',
    doc: '/evaluate and upload page: threshold when the request names none',
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
  /**
   * A rejected suggestion is raised again only when the model's new score beats the rejected one by at least this
   * much (a stronger signal, not noise). (Default: 0.1.)
   */
  rejectMargin: {
    env: 'TAGGER_REJECT_MARGIN',
    schema: probability,
    default: '0.1',
    doc: 'a rejected suggestion is raised again only if its score beats the rejected one by this',
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
} as const satisfies Record<string, Setting>;
