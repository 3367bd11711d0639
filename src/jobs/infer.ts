import { describeInfer } from '../domain/summaries.js';
import { engineOf } from '../platform/capabilities.js';
import type { InferRequest, InferResult } from '../platform/port.js';
import { type JobDeps, recordRun } from './record-run.js';

/** Scores the Gold windows not scored yet and MERGEs them into anomalies (the 10-minute job). */
export function runInfer(deps: JobDeps, request: Omit<InferRequest, 'now'> = {}): Promise<InferResult> {
  return recordRun(
    'infer',
    deps,
    () => engineOf(deps.platform, 'inference').infer({ ...request, now: deps.clock.now() }),
    describeInfer,
  );
}
