import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Write to this stream instead of stderr (tests). */
  destination?: NodeJS.WritableStream;
}

/**
 * The root logger. Logs go to stderr as JSON lines so that stdout stays free for command output (`--json`).
 * Secrets are redacted by key wherever they appear.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          'password',
          '*.password',
          'authorization',
          '*.authorization',
          'headers.authorization',
          'cookie',
          '*.cookie',
        ],
        censor: '[redacted]',
      },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}
