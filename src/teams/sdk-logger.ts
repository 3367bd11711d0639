import type { ILogger } from '@microsoft/teams.common';
import type { Logger } from '../log.js';

/**
 * The Teams SDK's logger interface over the product's logger. The SDK logs whole activities (debug)
 * and errors that may be axios errors carrying the request, and so the bearer token: an error is
 * logged by its first message line only, and other objects only at debug level, cut short.
 */
export function sdkLogger(logger: Logger, name = 'teams-sdk'): ILogger {
  const text = (parts: unknown[], debug: boolean) =>
    parts
      .map((p) => {
        if (typeof p === 'string') return p;
        if (p instanceof Error) return (p.message.split('\n')[0] ?? p.name).slice(0, 300);
        if (!debug) return '';
        try {
          return JSON.stringify(p)?.slice(0, 500) ?? '';
        } catch {
          return '';
        }
      })
      .filter(Boolean)
      .join(' ')
      .replace(/Bearer\s+[\w.~+/=-]+/gi, 'Bearer [redacted]');
  // The SDK logs every activity at debug level: nothing is formatted unless that level is on.
  const at =
    (level: 'trace' | 'debug' | 'info' | 'warn' | 'error', debug: boolean) =>
    (...m: unknown[]) => {
      if (logger.isLevelEnabled(level)) logger[level]({ sdk: name }, text(m, debug));
    };
  const me: ILogger = {
    debug: at('debug', true),
    info: at('info', false),
    warn: at('warn', false),
    error: at('error', false),
    trace: at('trace', true),
    log: (level, ...m) =>
      me[level === 'trace' || level === 'debug' || level === 'info' || level === 'warn' ? level : 'error'](
        ...m,
      ),
    child: (child) => sdkLogger(logger, `${name}/${child}`),
  };
  return me;
}
