import { randomUUID } from 'node:crypto';
import type { LandingRecord } from '../market/record.js';
import type { LandingBatch } from './port.js';

/**
 * Landing files as both platforms write them: `date=YYYY-MM-DD/hour=HH/<batch>.jsonl` under the
 * landing root (a folder here, the Unity Catalog volume on Databricks), one JSON record per line,
 * each stamped with `ingest_ts` and `ingest_source`.
 */

/** `date=…/hour=…/<UTC stamp>-<seq>-<source>-<random>.jsonl`; seq orders batches of one ingest. */
export function landingName(batch: LandingBatch): string {
  const stamp = batch.ingestTs.toISOString(); // 2025-01-07T00:01:00.000Z
  const date = stamp.slice(0, 10);
  const hour = stamp.slice(11, 13);
  const compact = stamp.replace(/[-:]/g, '').replace('.', '');
  const seq = String(batch.seq).padStart(3, '0');
  return `date=${date}/hour=${hour}/${compact}-${seq}-${batch.source}-${randomUUID().slice(0, 8)}.jsonl`;
}

export function toJsonLines(batch: LandingBatch): string {
  const ingest_ts = batch.ingestTs.toISOString();
  let out = '';
  for (const record of batch.records) {
    const line: LandingRecord = { ...record, ingest_ts, ingest_source: batch.source };
    out += `${JSON.stringify(line)}\n`;
  }
  return out;
}
