import type { IngestResult } from '../domain/results.js';
import type { Metrics } from '../metrics.js';
import type { PipelineRun, StageCounts } from '../platform/port.js';

const DROP_REASONS = ['missing', 'bounds', 'future', 'late', 'duplicate'] as const;

/** What an ingest run landed and dropped, into the metrics. */
export function countIngest(metrics: Metrics, result: IngestResult): void {
  metrics.ingestedRecords.inc(result.records);
  metrics.ingestDropped.inc(result.dropped.count);
}

/** A pipeline run's rows in and out of each stage, its drops by reason, its quarantined files. */
export function countPipeline(metrics: Metrics, run: PipelineRun): void {
  const stages: Array<[string, StageCounts]> = [
    ['bronze', run.bronze],
    ['silver', run.silver],
    ['gold', run.gold],
  ];
  for (const [stage, counts] of stages) {
    metrics.pipelineRows.inc({ stage, direction: 'in' }, counts.rows_in);
    metrics.pipelineRows.inc({ stage, direction: 'out' }, counts.rows_out);
    for (const reason of DROP_REASONS) {
      const dropped = counts[`dropped_${reason}`];
      if (dropped > 0) metrics.pipelineDropped.inc({ stage, reason }, dropped);
    }
  }
  if (run.quarantined) metrics.pipelineQuarantined.inc(run.quarantined);
}
