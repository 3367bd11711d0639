import { runPipeline } from '../jobs/pipeline.js';
import type { JobDeps } from '../jobs/record-run.js';
import type { StageCounts } from '../platform/port.js';
import { formatCount } from '../render/format.js';
import type { Reply } from '../render/reply.js';
import { describePipelineRun } from '../render/summaries.js';

/** Bronze → Silver → Gold once over the new landing files, with the per-stage counts. */
export async function pipelineCommand(deps: JobDeps): Promise<Reply> {
  const run = await runPipeline(deps);
  const row = (stage: string, c: StageCounts, details: string) => [
    stage,
    formatCount(c.rows_in),
    formatCount(c.rows_out),
    details,
  ];
  return {
    title: 'Pipeline run',
    summary: describePipelineRun(run),
    tables:
      run.files === 0
        ? []
        : [
            {
              columns: [
                { header: 'stage' },
                { header: 'in', align: 'right' },
                { header: 'out', align: 'right' },
                { header: 'details' },
              ],
              rows: [
                row('bronze', run.bronze, `rescued ${run.bronze.rescued} malformed line(s)`),
                row(
                  'silver',
                  run.silver,
                  `dropped: missing fields ${run.silver.dropped_missing}, future ${run.silver.dropped_future}, ` +
                    `late ${run.silver.dropped_late}, duplicates ${run.silver.dropped_duplicate}; ` +
                    `price<=0 warnings ${run.silver.price_warnings}`,
                ),
                row(
                  'gold',
                  run.gold,
                  `late ${run.gold.dropped_late}; windows emitted ${run.gold.windows_emitted}`,
                ),
              ],
            },
          ],
    data: run,
  };
}
