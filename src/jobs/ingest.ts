import type { MarketSource } from '../market/sources.js';
import { describeIngest } from '../render/summaries.js';
import { type JobDeps, recordRun } from './record-run.js';

export interface IngestResult {
  source: string;
  simulated: boolean;
  batches: Array<{ label: string; file: string; records: number }>;
  records: number;
  events: number;
}

/**
 * Fetches everything new from the market source and lands it, one landing file per batch, in
 * order. The source's progress is committed only after its batch has landed, so a failure lands
 * nothing partial and the next run fetches the same data again (Silver drops any repeat).
 */
export function runIngest(deps: JobDeps & { source: MarketSource }): Promise<IngestResult> {
  const { source, platform, clock } = deps;
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
      };
      for (const [seq, batch] of batches.entries()) {
        if (batch.records.length === 0) {
          await batch.commit();
          continue;
        }
        const written = await platform.landing.write({
          records: batch.records,
          source: source.kind,
          ingestTs,
          seq,
        });
        await platform.recordGroundTruth(batch.events);
        await batch.commit();
        result.batches.push({ label: batch.label, file: written.file, records: written.records });
        result.records += written.records;
        result.events += batch.events.length;
      }
      return result;
    },
    describeIngest,
  );
}
