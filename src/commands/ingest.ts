import { formatCount } from '../domain/format.js';
import type { Reply } from '../domain/reply.js';
import type { IngestResult } from '../domain/results.js';
import { runIngest } from '../jobs/ingest.js';
import type { JobDeps } from '../jobs/record-run.js';
import type { MarketSource } from '../market/sources.js';

/** Lands what the market source has that is new (command line; the scheduler calls the job). */
export async function ingestCommand(
  deps: JobDeps & { source: MarketSource; notice?: string },
): Promise<Reply> {
  const result: IngestResult = await runIngest(deps);
  return {
    title: `Ingest from ${result.source}`,
    badge: result.simulated ? 'SIMULATED DATA: these prices come from the market simulator' : undefined,
    summary:
      result.records === 0
        ? 'Nothing new to land.'
        : `Landed ${formatCount(result.records)} records in ${result.batches.length} file(s)` +
          (result.events > 0 ? `, with ${result.events} injected event(s) recorded as ground truth.` : '.'),
    tables:
      result.batches.length === 0
        ? []
        : [
            {
              columns: [
                { header: 'batch' },
                { header: 'records', align: 'right' },
                { header: 'landing file' },
              ],
              rows: result.batches.map((b) => [b.label, formatCount(b.records), b.file]),
            },
          ],
    notes: [
      ...(deps.notice ? [deps.notice] : []),
      ...(result.records > 0
        ? ['Run `crypto-risk pipeline` to take it through Bronze, Silver and Gold.']
        : []),
    ],
    data: { ...result, notice: deps.notice ?? null },
  };
}
