import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

/** The product's logger writing JSON lines into memory, for tests that read what was logged. */
export function memoryLogger(level: 'debug' | 'info' = 'info'): {
  logger: Logger;
  lines: string[];
  entries(): Array<Record<string, unknown>>;
} {
  const lines: string[] = [];
  const logger = createLogger({
    level,
    format: 'json',
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  });
  return { logger, lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
