import type { Clock } from '../clock.js';
import { formatCount, formatTime } from '../domain/format.js';
import type { Reply } from '../domain/reply.js';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { quarantineOf } from '../platform/capabilities.js';
import type { Platform, QuarantinedFile } from '../platform/port.js';

export interface QuarantineDeps {
  platform: Platform;
  clock: Clock;
  logger: Logger;
  /** Who runs the command (the OS user on the command line), for the audit line. */
  who: string;
}

/** The landing files the pipeline moved aside, with their reasons. An ops action: audited. */
export async function quarantineListCommand(deps: QuarantineDeps): Promise<Reply> {
  const files = await quarantineOf(deps.platform).quarantined();
  audit(deps, 'quarantine list', `${files.length} file(s)`);
  return {
    title: 'Landing quarantine',
    summary:
      files.length === 0
        ? 'No landing file is quarantined.'
        : `${formatCount(files.length)} landing file(s) quarantined after failing the pipeline again and again.`,
    tables:
      files.length === 0
        ? []
        : [
            {
              columns: [
                { header: 'file' },
                { header: 'quarantined' },
                { header: 'attempts', align: 'right' },
                { header: 'reason' },
              ],
              rows: files.map((f) => [f.file, formatTime(f.quarantined_at), String(f.attempts), f.reason]),
            },
          ],
    notes:
      files.length === 0
        ? []
        : [
            'After fixing a file (or its cause), `crypto-risk quarantine retry <file>` puts it back for the next run.',
          ],
    data: { files },
  };
}

/** Moves a quarantined file back to landing so the next pipeline run tries it again. Audited. */
export async function quarantineRetryCommand(deps: QuarantineDeps, file: string): Promise<Reply> {
  let entry: QuarantinedFile;
  try {
    entry = await quarantineOf(deps.platform).retryQuarantined(file);
  } catch (err) {
    audit(deps, 'quarantine retry', `refused: ${err instanceof UserError ? err.message : 'failed'}`, file);
    throw err;
  }
  audit(deps, 'quarantine retry', 'moved back to landing', entry.file);
  return {
    title: `${entry.file} is back in landing`,
    summary:
      `Its failure record is cleared (it had failed ${entry.attempts} run(s): ${entry.reason}). ` +
      'The next pipeline run tries it again (`crypto-risk pipeline`, or the schedule).',
    data: { retried: entry },
  };
}

/** One audit line per ops action, as the Slack bot writes them (access.ts): who, what, when, result. */
function audit(deps: QuarantineDeps, what: string, result: string, file?: string): void {
  deps.logger.info(
    {
      audit: { who: deps.who, what, when: deps.clock.now().toISOString(), result, ...(file ? { file } : {}) },
    },
    `audit: ${deps.who} ${what}${file ? ` ${file}` : ''}: ${result}`,
  );
}
