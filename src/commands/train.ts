import { formatTime } from '../domain/format.js';
import type { Reply } from '../domain/reply.js';
import { describeTrain } from '../domain/summaries.js';
import type { JobDeps } from '../jobs/record-run.js';
import { runTrain } from '../jobs/train.js';
import { labelsTable, versionsTable } from './models.js';

/** Trains a model version now (the daily job, by hand), with the challenger beside the champion. */
export async function trainCommand(
  deps: JobDeps,
  options: { featureSet?: 'seed' | 'default' },
): Promise<Reply> {
  const result = await runTrain(deps, options.featureSet ? { featureSet: options.featureSet } : {});
  const v = result.version;
  const shown = [
    v,
    ...(result.previous_champion && result.previous_champion.version !== v.version
      ? [result.previous_champion]
      : []),
  ];
  const labels = labelsTable(result);
  return {
    title: `Model v${v.version} trained`,
    summary: describeTrain(result).replace(/^train: /, ''),
    fields: [
      { label: 'Period', value: `${formatTime(v.training.since)} – ${formatTime(v.training.until)}` },
      {
        label: 'Windows',
        value: `${v.training.rows} (train ${v.training.train_rows}, holdout ${v.training.holdout_rows}) over ${v.training.assets.join(', ')}`,
      },
      {
        label: 'Params',
        value: `${v.params.trees} trees, ψ=${v.params.max_samples}, contamination ${v.params.contamination}, seed ${v.params.seed}`,
      },
    ],
    tables: [
      {
        ...versionsTable(shown, deps.clock.now()),
        title: result.promoted ? 'New champion and the one before' : 'Challenger and champion',
      },
      ...(labels.table ? [labels.table] : []),
    ],
    notes: [...(result.refused ? [result.refused] : []), ...(labels.note ? [labels.note] : [])],
    data: result,
  };
}
