import { ExitCode, UserError } from '../../errors.js';
import type { WatermarkRewind, WatermarkStage } from '../port.js';
import type { Db } from './db.js';

/** Each stage's delay: its watermark is the latest event time it has seen minus this (pipeline_batch.sql). */
export const STAGE_DELAY_MINUTES: Record<WatermarkStage, number> = { silver: 20, gold: 2 };

/**
 * Sets a stage's watermark back to `to` (pipeline_watermarks stores the latest event time seen, so
 * `to` plus the stage's delay), so the next runs accept rows down to it again: after an outage of
 * the ingest, say, or a watermark a bad clock pushed ahead before the future rule caught it.
 *
 * What comes back in is bounded by what stays in place. Silver still drops an event_key it already
 * holds, so a file landed again adds nothing twice. Gold is append-only (metrics_gold's key is asset
 * and window start, and its windows have been scored and posted): a window already emitted is never
 * emitted again, and a row for it stays late (pipeline_batch.sql); a rewound Gold accepts rows for
 * windows not emitted yet, e.g. those no row reached before. Silver rows re-admitted while Gold's
 * watermark stays ahead are late for Gold: rewind both to recompute a period's windows that were
 * never emitted.
 *
 * Refused, changing nothing: a time that is not an ISO-8601 UTC instant, one after `now`, one not
 * before the current watermark (that is no rewind), and a stage with no watermark yet.
 */
export async function rewindWatermark(
  db: Db,
  stage: WatermarkStage,
  to: string,
  now: Date,
): Promise<WatermarkRewind> {
  if (stage !== 'silver' && stage !== 'gold') {
    throw new UserError(`cannot rewind "${stage}": the stages with a watermark are silver and gold`, {
      exitCode: ExitCode.Usage,
    });
  }
  const target = parseUtc(to);
  if (target.getTime() > now.getTime()) {
    throw new UserError(
      `cannot rewind ${stage} to ${target.toISOString()}: that is in the future (now ${now.toISOString()})`,
      { exitCode: ExitCode.Usage },
    );
  }
  const delay = STAGE_DELAY_MINUTES[stage] * 60_000;
  return db.transaction(async (tx) => {
    const [row] = await tx.all<{ max_event_ts: string }>(
      'SELECT max_event_ts FROM pipeline_watermarks WHERE stage = :stage',
      { stage },
    );
    if (!row) {
      throw new UserError(`cannot rewind ${stage}: it has no watermark yet (the pipeline has not run)`, {
        exitCode: ExitCode.Usage,
      });
    }
    const from = new Date(Date.parse(row.max_event_ts) - delay);
    if (target.getTime() >= from.getTime()) {
      throw new UserError(
        `cannot rewind ${stage} to ${target.toISOString()}: its watermark is ${from.toISOString()}, not later`,
        { exitCode: ExitCode.Usage },
      );
    }
    await tx.run(
      'UPDATE pipeline_watermarks SET max_event_ts = CAST(:ts AS TIMESTAMP) WHERE stage = :stage',
      { stage, ts: new Date(target.getTime() + delay).toISOString() },
    );
    return { stage, from: from.toISOString(), to: target.toISOString() };
  });
}

/** An ISO-8601 instant in UTC (`Z` or `+00:00`), date alone allowed; anything else is refused. */
function parseUtc(text: string): Date {
  const ok = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|\+00:00|\+0000)?)?$/.test(text.trim());
  const date = new Date(/T.*(Z|\+00:?00)$|^[^T]*$/.test(text.trim()) ? text.trim() : `${text.trim()}Z`);
  // the date rolled over (2025-02-30 is 2025-03-02 to Date) is no date either
  if (!ok || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text.trim().slice(0, 10)) {
    throw new UserError(
      `cannot rewind to "${text}": give an ISO-8601 UTC time such as 2025-01-07T12:00:00Z`,
      { exitCode: ExitCode.Usage },
    );
  }
  return date;
}
