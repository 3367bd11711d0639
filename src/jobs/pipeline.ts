import { describePipelineRun } from '../domain/summaries.js';
import { engineOf } from '../platform/capabilities.js';
import type { PipelineRun } from '../platform/port.js';
import { type JobDeps, recordRun } from './record-run.js';

/** Bronze → Silver → Gold once, over the landing files not processed yet. */
export function runPipeline(deps: JobDeps): Promise<PipelineRun> {
  return recordRun(
    'pipeline',
    deps,
    () => engineOf(deps.platform, 'the pipeline').runPipeline(),
    describePipelineRun,
  );
}
