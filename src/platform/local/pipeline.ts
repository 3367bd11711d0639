import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import { sqlFile } from '../../sql-files.js';
import type { PipelineRun, StageCounts } from '../port.js';
import type { Db } from './db.js';
import type { LocalQuarantine } from './quarantine.js';

export interface PipelineDeps {
  db: Db;
  landingRoot: string;
  /** Files per transaction at most. */
  groupFiles: number;
  listLanding(): Promise<string[]>;
  /** Where a file that keeps failing is recorded and, after its last attempt, moved aside. */
  quarantine: LocalQuarantine;
  clock: Clock;
  logger: Logger;
}

/** A transaction takes at most about this much text (and `groupFiles` files), so memory stays bounded. */
const GROUP_BYTES = 64 * 1024 * 1024;

/**
 * Bronze → Silver → Gold over every landing file not processed yet, oldest first
 * (sql/local/pipeline_batch.sql). Each file is a micro-batch with its own watermarks, so the result
 * does not depend on how often the pipeline runs; files are processed in groups, each group
 * committed in one transaction with its checkpoint rows, so a crash at any moment leaves every file
 * processed entirely or not at all and the next run carries on. A run with no new files changes
 * nothing.
 *
 * One bad entry does not stop the pipeline: a file that cannot be read is left out of its group,
 * and when a group's transaction fails its files are tried one at a time, so the good ones go
 * through in the same run. A failing file is recorded (quarantine.ts) and retried on the next
 * runs; after its last attempt it moves to the quarantine and the runs carry on without it.
 * Batch numbers count only the files committed, so they stay dense whatever is skipped.
 */
export async function runLocalPipeline(deps: PipelineDeps): Promise<PipelineRun> {
  const { db, clock, logger, quarantine } = deps;
  const files = await deps.listLanding();
  const pending = files.length === 0 ? [] : await unprocessed(db, files);
  const [first] = await db.all<{ next: number }>(
    'SELECT coalesce(max(batch_no), 0) + 1 AS next FROM pipeline_files',
  );
  const firstBatch = first?.next ?? 1;
  let nextBatch = firstBatch;
  const batchSql = sqlFile('local/pipeline_batch');
  const decoder = new TextDecoder('utf-8'); // invalid bytes become U+FFFD: such a line is rescued, not fatal
  let failed = 0;
  let quarantined = 0;

  /** Records a failed attempt outside any transaction; the last allowed one moves the file aside. */
  const isolate = async (file: string, reason: string) => {
    failed++;
    const failure = await quarantine.recordFailure(file, reason);
    if (failure.attempts < quarantine.maxAttempts) {
      logger.warn(
        { file, attempts: failure.attempts, max_attempts: quarantine.maxAttempts, reason },
        'pipeline: a landing file failed; it is retried on the next run, the other files go on',
      );
      return;
    }
    await quarantine.quarantine(failure);
    quarantined++;
    logger.error(
      { file, attempts: failure.attempts, reason },
      'pipeline: a landing file failed its last attempt and was moved to the quarantine',
    );
  };

  const commit = async (group: Array<{ name: string; content: string }>) => {
    const names = group.map((g) => g.name);
    const params = {
      files: names,
      contents: group.map((g) => g.content),
      first_batch_no: nextBatch,
      load_ts: clock.now().toISOString(),
    };
    await db.transaction(async (tx) => {
      await tx.script(batchSql, params);
      // A file that failed an earlier run and goes through now is no longer failing.
      await tx.run('DELETE FROM landing_failures WHERE file IN (SELECT unnest(CAST(:files AS VARCHAR[])))', {
        files: names,
      });
    });
    nextBatch += names.length;
  };

  let at = 0;
  while (at < pending.length) {
    const group: Array<{ name: string; content: string }> = [];
    let bytes = 0;
    while (at < pending.length && group.length < deps.groupFiles && bytes < GROUP_BYTES) {
      const name = pending[at++] as string;
      let raw: Buffer;
      try {
        raw = await readFile(join(deps.landingRoot, name));
      } catch (err) {
        await isolate(name, `cannot be read: ${readError(err)}`);
        continue;
      }
      group.push({ name, content: decoder.decode(raw) });
      bytes += raw.length;
    }
    if (group.length === 0) continue;
    try {
      await commit(group);
    } catch (err) {
      if (isSystemic(err)) throw err;
      if (group.length === 1) {
        await isolate(group[0]?.name as string, engineError(err));
      } else {
        logger.warn(
          { files: group.length, err: firstLine(err) },
          'pipeline: a group failed in the engine; trying its files one at a time',
        );
        for (const one of group) {
          try {
            await commit([one]);
          } catch (oneErr) {
            if (isSystemic(oneErr)) throw oneErr;
            await isolate(one.name, engineError(oneErr));
          }
        }
      }
    }
    logger.debug({ files: group.length, done: at, pending: pending.length }, 'pipeline group committed');
  }
  const processed = nextBatch - firstBatch;
  const run = await summarise(db, firstBatch, nextBatch - 1, processed);
  return failed > 0 ? { ...run, failed, quarantined } : run;
}

/**
 * Errors of the database itself rather than of a file's data (a full disk, an invalidated
 * database, memory): every file would fail alike, so the run stops and nothing is held against
 * the files.
 */
function isSystemic(err: unknown): boolean {
  return /^(IO|FATAL|INTERNAL|Out of Memory|TransactionContext|Connection) Error|database has been invalidated/im.test(
    err instanceof Error ? err.message : String(err),
  );
}

function engineError(err: unknown): string {
  return `its micro-batch failed in the engine: ${firstLine(err)}`;
}

/** The read error without the absolute path Node puts in it (the file is named beside it). */
function readError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = firstLine(err).replace(/, \w+ '.*'$/, '');
  if (e.code === 'ENOENT') return `${message} (a symbolic link to nothing?)`;
  return message;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

async function unprocessed(db: Db, files: string[]): Promise<string[]> {
  const rows = await db.all<{ f: string }>(
    `SELECT f FROM unnest(CAST(:files AS VARCHAR[])) AS t(f)
     WHERE f NOT IN (SELECT file FROM pipeline_files) ORDER BY f`,
    { files },
  );
  return rows.map((r) => r.f);
}

const EMPTY: StageCounts = {
  rows_in: 0,
  rows_out: 0,
  rescued: 0,
  dropped_missing: 0,
  dropped_bounds: 0,
  dropped_future: 0,
  dropped_late: 0,
  dropped_duplicate: 0,
  windows_emitted: 0,
};

async function summarise(db: Db, from: number, to: number, files: number): Promise<PipelineRun> {
  const run: PipelineRun = { files, bronze: { ...EMPTY }, silver: { ...EMPTY }, gold: { ...EMPTY } };
  if (files === 0) return run;
  const rows = await db.all<StageCounts & { stage: 'bronze' | 'silver' | 'gold' }>(
    `SELECT stage, sum(rows_in) AS rows_in, sum(rows_out) AS rows_out, sum(rescued) AS rescued,
       sum(dropped_missing) AS dropped_missing, sum(dropped_bounds) AS dropped_bounds,
       sum(dropped_future) AS dropped_future, sum(dropped_late) AS dropped_late,
       sum(dropped_duplicate) AS dropped_duplicate, sum(windows_emitted) AS windows_emitted
     FROM pipeline_metrics WHERE batch_no BETWEEN :from AND :to GROUP BY stage`,
    { from, to },
  );
  for (const { stage, ...counts } of rows) run[stage] = counts;
  return run;
}
