import type { PipelineRun } from '../platform/port.js';
import { describePipelineRun } from '../render/summaries.js';
import { type JobDeps, recordRun } from './record-run.js';

/** Bronze → Silver → Gold once, over the landing files not processed yet. */
export function runPipeline(deps: JobDeps): Promise<PipelineRun> {
  return recordRun('pipeline', deps, () => deps.platform.runPipeline(), describePipelineRun);
}
