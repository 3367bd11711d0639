import type { IngestResult } from '../domain/results.js';
import { describeIngest } from '../domain/summaries.js';
import { addDrops, noDrops } from '../market/drops.js';
import type { MarketSource } from '../market/sources.js';
import { type JobDeps, recordRun } from './record-run.js';

/**
 * The platform state key of the ingest time of the newest batch that landed records: the feed tells
 * stale ingestion from it (src/chat/data-incidents.ts).
 */
export const LANDED_AT_KEY = 'ingest.landed_at';

/**
 * Fetches everything new from the market source and lands it, one landing file per batch, in
 * order. The source's progress is committed only after its batch has landed, so a failure lands
 * nothing partial and the next run fetches the same data again (Silver drops any repeat). Records
 * the source dropped one by one are counted in the result (and so in job_runs) and logged.
 */
export function runIngest(deps: JobDeps & { source: MarketSource }): Promise<IngestResult> {
  const { source, platform, clock, logger } = deps;
  return recordRun(
    'ingest',
    deps,
    async () => {
      const ingestTs = clock.now();
      const batches = await source.poll(ingestTs);
      const result: IngestResult = {
        source: source.description,
        simulated: source.simulated,
        batches: [],
        records: 0,
        events: 0,
        dropped: noDrops(),
      };
      for (const [seq, batch] of batches.entries()) {
        if (batch.dropped) addDrops(result.dropped, batch.dropped);
        if (batch.records.length === 0) {
          await batch.commit();
          continue;
        }
        const written = await platform.pipeline.landing.write({
          records: batch.records,
          source: source.kind,
          ingestTs,
          seq,
        });
        await platform.pipeline.recordGroundTruth(batch.events);
        await batch.commit();
        result.batches.push({ label: batch.label, file: written.file, records: written.records });
        result.records += written.records;
        result.events += batch.events.length;
      }
      if (result.records > 0) await platform.pipeline.state.set(LANDED_AT_KEY, ingestTs.toISOString());
      if (result.dropped.count > 0) {
        const { count, reasons, sample } = result.dropped;
        logger.warn(
          { dropped: count, reasons, sample },
          `ingest: dropped ${count} bad source record(s) and landed the rest`,
        );
      }
      return result;
    },
    describeIngest,
  );
}
