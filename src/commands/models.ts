import { formatAge, formatCount, formatPercent, formatScore, formatTime } from '../domain/format.js';
import type { Reply, Table } from '../domain/reply.js';
import type { ModelVersion, Platform, TrainResult } from '../platform/port.js';

/** The model versions with their metrics, and which is champion. */
export async function modelsCommand(deps: { platform: Platform; now: Date }): Promise<Reply> {
  const report = await deps.platform.pipeline.models();
  return {
    title: 'Models',
    summary:
      report.versions.length === 0
        ? 'No model yet: run `crypto-risk train` (the daily job trains one too).'
        : `${report.versions.length} version(s); champion ${report.champion === null ? 'unset (inference uses the latest version)' : `v${report.champion}`}.`,
    tables: report.versions.length === 0 ? [] : [versionsTable(report.versions, deps.now)],
    data: report,
  };
}

export function versionsTable(versions: readonly ModelVersion[], now: Date): Table {
  return {
    columns: [
      { header: 'version' },
      { header: 'trained' },
      { header: 'age', align: 'right' },
      { header: 'features' },
      { header: 'windows', align: 'right' },
      { header: 'flagged train', align: 'right' },
      { header: 'flagged holdout', align: 'right' },
      { header: 'holdout mean±std', align: 'right' },
      { header: 'aliases' },
    ],
    rows: versions.map((v) => [
      `v${v.version}`,
      formatTime(v.created_at),
      formatAge((now.getTime() - Date.parse(v.created_at)) / 1000),
      v.feature_set,
      formatCount(v.training.rows),
      formatPercent(v.metrics.train_flagged_share, 1),
      formatPercent(v.metrics.holdout_flagged_share, 1),
      v.metrics.holdout_mean === null
        ? '—'
        : `${formatScore(v.metrics.holdout_mean)}±${formatScore(v.metrics.holdout_std)}`,
      v.aliases.join(', '),
    ]),
  };
}

/**
 * A retrain's candidate beside the champion on the channel's labelled windows (TrainResult.labels),
 * or a note where there is nothing to show: no labels yet, or a run that did not compare them.
 */
export function labelsTable(result: TrainResult): { table?: Table; note?: string } {
  const labels = result.labels;
  if (!labels)
    return {
      note: 'No labels compared for this retrain (its training run reported no comparison: the workspace has no labels table yet).',
    };
  if (labels.windows === 0) {
    return {
      note: 'No labelled windows yet (👍 Real / 👎 Noise on the feed), so the labels were not compared.',
    };
  }
  const row = (name: string, s: { precision: number | null; recall: number | null }) => [
    name,
    formatCount(labels.windows),
    formatPercent(s.precision, 1),
    formatPercent(s.recall, 1),
  ];
  return {
    table: {
      title: `On the channel's labels (${labels.real} real, ${labels.noise} noise)`,
      columns: [
        { header: 'model' },
        { header: 'labelled windows', align: 'right' },
        { header: 'precision', align: 'right' },
        { header: 'recall', align: 'right' },
      ],
      rows: [
        row(`v${result.version.version} (new)`, labels.candidate),
        ...(labels.champion ? [row(`v${labels.champion.version} (champion before)`, labels.champion)] : []),
      ],
    },
    ...(labels.rule_applies || !labels.champion
      ? {}
      : { note: `Too few labels for the promotion rule. ${labels.rule}` }),
  };
}
