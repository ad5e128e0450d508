import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Write to this stream instead of stderr (tests). */
  destination?: NodeJS.WritableStream;
}

/** Keys whose values are secrets wherever they appear in a log object (top level, or one or two levels down). */
const SECRET_KEYS = [
  'password',
  'passwordHash',
  'password_hash',
  'apiKey',
  'api_key',
  'booruApiKey',
  'token',
  'secret',
  'authorization',
  'cookie',
  '"set-cookie"',
];

const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

/** Query parameters whose values never reach a log line (passwords, tokens, keys, session ids, CSRF tokens). */
const SECRET_PARAM = /pass|token|secret|key|session|auth|login|hash|csrf|cookie/i;

/** A request URL fit for logs: the values of secret-looking query parameters replaced by `[redacted]`. */
function redactQuery(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const params = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // a malformed escape: judge the raw name
      }
      return eq >= 0 && SECRET_PARAM.test(decoded) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, at)}?${params.join('&')}`;
}

/**
 * The root logger. Logs go to stderr as JSON lines so that stdout stays free for command output (`--json`).
 * Secrets are redacted by key wherever they appear, and the web server's request lines carry URLs with secret-looking
 * query values redacted (Fastify uses this logger's `req` serializer over its own).
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        req: (req: {
          method?: string;
          url?: string;
          host?: string;
          ip?: string;
          socket?: { remotePort?: number };
        }) => ({
          method: req.method,
          url: typeof req.url === 'string' ? redactQuery(req.url) : req.url,
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}
