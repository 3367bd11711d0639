import type { InferRequest, InferResult } from '../platform/port.js';
import { formatCount, formatScore, formatTime } from '../render/format.js';
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

export function describeInfer(r: InferResult): string {
  if (r.scored === 0) return `infer: no new windows (model v${r.model_version})`;
  const worst = r.new_anomalies[0];
  return (
    `infer: ${formatCount(r.scored)} windows scored with model v${r.model_version} (${formatCount(r.inserted)} new, ${formatCount(r.updated)} re-scored), ` +
    `${formatCount(r.new_anomalies.length)} new anomal${r.new_anomalies.length === 1 ? 'y' : 'ies'}` +
    (worst
      ? `; worst ${worst.asset} ${formatTime(worst.window_end)} (score ${formatScore(worst.anomaly_score)})`
      : '')
  );
}
