import { describeTrain } from '../domain/summaries.js';
import type { TrainRequest, TrainResult } from '../platform/port.js';
import { type JobDeps, recordRun } from './record-run.js';

/** Fits a new model version on the Gold lookback ending at the clock (the daily job). */
export function runTrain(deps: JobDeps, request: Omit<TrainRequest, 'now'> = {}): Promise<TrainResult> {
  return recordRun(
    'train',
    deps,
    () => deps.platform.pipeline.train({ ...request, now: deps.clock.now() }),
    describeTrain,
  );
}
