import { formatCount } from '../domain/format.js';
import type { Reply } from '../domain/reply.js';
import { describePipelineRun } from '../domain/summaries.js';
import { ExitCode, UserError } from '../errors.js';
import { runPipeline } from '../jobs/pipeline.js';
import type { JobDeps } from '../jobs/record-run.js';
import type { StageCounts, WatermarkStage } from '../platform/port.js';

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
                  `dropped: missing fields ${run.silver.dropped_missing}, out of bounds ${run.silver.dropped_bounds}, ` +
                    `future ${run.silver.dropped_future}, late ${run.silver.dropped_late}, ` +
                    `duplicates ${run.silver.dropped_duplicate}`,
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

/**
 * `pipeline --rewind <stage> <time>`: sets the stage's watermark back (src/platform/local/watermarks.ts
 * says what that re-admits). An ops action: one audit line, who (the OS user), what, old → new,
 * also when it is refused (then nothing changes).
 */
export async function pipelineRewindCommand(
  deps: JobDeps & { who: string; now: Date },
  args: string[],
): Promise<Reply> {
  const what = `pipeline rewind ${args.join(' ')}`;
  try {
    const [stage, time] = args;
    if (args.length !== 2 || (stage !== 'silver' && stage !== 'gold')) {
      throw new UserError('--rewind takes a stage and a time: --rewind silver|gold 2025-01-07T12:00:00Z', {
        exitCode: ExitCode.Usage,
      });
    }
    if (!deps.platform.engine) {
      throw new UserError(
        'rewinding a watermark is for the embedded pipeline; on Databricks, run a full refresh of the pipeline',
        { exitCode: ExitCode.Usage },
      );
    }
    const r = await deps.platform.engine.rewindWatermark(stage as WatermarkStage, time as string, deps.now);
    audit(deps, what, `${r.stage} watermark ${r.from} → ${r.to}`);
    return {
      title: `${r.stage} watermark rewound`,
      summary:
        `The ${r.stage} watermark went from ${r.from} back to ${r.to}: the next runs accept rows down to it ` +
        '(an event already in Silver and a Gold window already emitted are never taken twice).',
      data: { rewind: r },
    };
  } catch (err) {
    audit(deps, what, `refused: ${err instanceof UserError ? err.message : 'failed'}`);
    throw err;
  }
}

function audit(
  deps: { logger: JobDeps['logger']; who: string; now: Date },
  what: string,
  result: string,
): void {
  deps.logger.info(
    { audit: { who: deps.who, what, when: deps.now.toISOString(), result } },
    `audit: ${deps.who} ${what}: ${result}`,
  );
}
