import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Setting names whose values are secrets: redacted wherever they appear in a log record. */
export const SECRET_KEYS = [
  'COINGECKO_API_KEY',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'DATABRICKS_TOKEN',
  'DATABRICKS_CLIENT_SECRET',
  'clientSecret',
  'access_token',
  'client_secret',
  'botToken',
  'signingSecret',
  'appToken',
  'apiKey',
  'token',
  'authorization',
  'x-cg-demo-api-key',
  'x-cg-pro-api-key',
] as const;

export interface LogOptions {
  level: string;
  format: 'pretty' | 'json';
  /** Where log lines go; standard error by default, so that stdout carries only command output. */
  destination?: DestinationStream;
}

export function createLogger(options: LogOptions): Logger {
  const key = (k: string) => (/^[A-Za-z_]\w*$/.test(k) ? `.${k}` : `["${k}"]`);
  const paths = SECRET_KEYS.flatMap((k) => [
    key(k).replace(/^\./, ''),
    `*${key(k)}`,
    `*.*${key(k)}`,
    `*.*.*${key(k)}`,
  ]);
  const redact = { paths, censor: '[redacted]' };
  const destination =
    options.format === 'pretty'
      ? pretty({
          sync: true,
          destination: options.destination ?? 2,
          colorize: false,
          translateTime: 'UTC:yyyy-mm-dd HH:MM:ss.l"Z"',
          ignore: 'pid,hostname',
        })
      : (options.destination ?? pino.destination({ fd: 2, sync: true }));
  return pino({ level: options.level, redact, base: undefined }, destination);
}

/** A logger that drops everything: for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
