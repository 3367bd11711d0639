import type { PipelineRun } from '../platform/port.js';
import { formatCount } from '../render/format.js';
import { type JobDeps, recordRun } from './record-run.js';

/** Bronze → Silver → Gold once, over the landing files not processed yet. */
export function runPipeline(deps: JobDeps): Promise<PipelineRun> {
  return recordRun('pipeline', deps, () => deps.platform.runPipeline(), describePipelineRun);
}

export function describePipelineRun(r: PipelineRun): string {
  if (r.files === 0) return 'pipeline: no new landing files';
  const dropped =
    r.silver.dropped_missing + r.silver.dropped_future + r.silver.dropped_late + r.silver.dropped_duplicate;
  return (
    `pipeline: ${formatCount(r.files)} file(s), ${formatCount(r.bronze.rows_in)} lines → ${formatCount(r.silver.rows_out)} Silver rows ` +
    `(${formatCount(dropped)} dropped, ${formatCount(r.bronze.rescued)} rescued) → ${formatCount(r.gold.windows_emitted)} Gold windows`
  );
}
