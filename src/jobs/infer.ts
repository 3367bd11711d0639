import type { InferRequest, InferResult } from '../platform/port.js';
import { describeInfer } from '../render/summaries.js';
import { type JobDeps, recordRun } from './record-run.js';

/** Scores the Gold windows not scored yet and MERGEs them into anomalies (the 10-minute job). */
export function runInfer(deps: JobDeps, request: Omit<InferRequest, 'now'> = {}): Promise<InferResult> {
  return recordRun(
    'infer',
    deps,
    () => deps.platform.infer({ ...request, now: deps.clock.now() }),
    describeInfer,
  );
}
