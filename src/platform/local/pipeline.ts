import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import { sqlFile } from '../../sql-files.js';
import type { PipelineRun, StageCounts } from '../port.js';
import type { Db } from './db.js';

export interface PipelineDeps {
  db: Db;
  landingRoot: string;
  /** Files per transaction at most. */
  groupFiles: number;
  listLanding(): Promise<string[]>;
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
 */
export async function runLocalPipeline(deps: PipelineDeps): Promise<PipelineRun> {
  const { db, clock, logger } = deps;
  const files = await deps.listLanding();
  const pending = files.length === 0 ? [] : await unprocessed(db, files);
  const [first] = await db.all<{ next: number }>(
    'SELECT coalesce(max(batch_no), 0) + 1 AS next FROM pipeline_files',
  );
  const firstBatch = first?.next ?? 1;
  const batchSql = sqlFile('local/pipeline_batch');
  const decoder = new TextDecoder('utf-8'); // invalid bytes become U+FFFD: such a line is rescued, not fatal
  let done = 0;
  while (done < pending.length) {
    const names: string[] = [];
    const contents: string[] = [];
    let bytes = 0;
    while (done + names.length < pending.length && names.length < deps.groupFiles && bytes < GROUP_BYTES) {
      const name = pending[done + names.length] as string;
      const raw = await readFile(join(deps.landingRoot, name));
      names.push(name);
      contents.push(decoder.decode(raw));
      bytes += raw.length;
    }
    const params = {
      files: names,
      contents,
      first_batch_no: firstBatch + done,
      load_ts: clock.now().toISOString(),
    };
    await db.transaction((tx) => tx.script(batchSql, params));
    logger.debug(
      { files: names.length, done: done + names.length, pending: pending.length },
      'pipeline group committed',
    );
    done += names.length;
  }
  return summarise(db, firstBatch, firstBatch + pending.length - 1, pending.length);
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
  dropped_future: 0,
  dropped_late: 0,
  dropped_duplicate: 0,
  price_warnings: 0,
  windows_emitted: 0,
};

async function summarise(db: Db, from: number, to: number, files: number): Promise<PipelineRun> {
  const run: PipelineRun = { files, bronze: { ...EMPTY }, silver: { ...EMPTY }, gold: { ...EMPTY } };
  if (files === 0) return run;
  const rows = await db.all<StageCounts & { stage: 'bronze' | 'silver' | 'gold' }>(
    `SELECT stage, sum(rows_in) AS rows_in, sum(rows_out) AS rows_out, sum(rescued) AS rescued,
       sum(dropped_missing) AS dropped_missing, sum(dropped_future) AS dropped_future,
       sum(dropped_late) AS dropped_late, sum(dropped_duplicate) AS dropped_duplicate,
       sum(price_warnings) AS price_warnings, sum(windows_emitted) AS windows_emitted
     FROM pipeline_metrics WHERE batch_no BETWEEN :from AND :to GROUP BY stage`,
    { from, to },
  );
  for (const { stage, ...counts } of rows) run[stage] = counts;
  return run;
}
