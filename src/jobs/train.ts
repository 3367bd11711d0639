import type { TrainRequest, TrainResult } from '../platform/port.js';
import { formatCount } from '../render/format.js';
import { type JobDeps, recordRun } from './record-run.js';

/** Fits a new model version on the Gold lookback ending at the clock (the daily job). */
export function runTrain(deps: JobDeps, request: Omit<TrainRequest, 'now'> = {}): Promise<TrainResult> {
  return recordRun(
    'train',
    deps,
    () => deps.platform.train({ ...request, now: deps.clock.now() }),
    describeTrain,
  );
}

export function describeTrain(r: TrainResult): string {
  const v = r.version;
  const flagged = (v.metrics.train_flagged_share * 100).toFixed(1);
  const champion = r.promoted
    ? `champion v${v.version}${r.previous_champion ? ` (was v${r.previous_champion.version})` : ''}`
    : `champion stays ${r.champion ? `v${r.champion.version}` : 'unset'} (manual promotion)`;
  return `train: model v${v.version} (${v.feature_set} features) on ${formatCount(v.training.train_rows)} windows, ${flagged} % flagged; ${champion}`;
}
