import type { InferResult, PipelineRun, TrainResult } from '../platform/port.js';
import { formatCount, formatScore, formatTime } from './format.js';
import type { FeedResult, IngestResult } from './results.js';

/** One-line summaries of job runs: for the live account of `run`, job_runs and logs. */

export function describeIngest(r: IngestResult): string {
  if (r.records === 0) {
    const dropped = r.dropped?.count ? ` (${formatCount(r.dropped.count)} bad source record(s) dropped)` : '';
    return `ingest: nothing new from ${r.source}${dropped}`;
  }
  return (
    `ingest: ${formatCount(r.records)} records in ${r.batches.length} file(s) from ${r.source}` +
    (r.events > 0 ? `, ${r.events} injected event(s) recorded` : '') +
    (r.dropped?.count ? `, ${formatCount(r.dropped.count)} bad source record(s) dropped` : '')
  );
}

export function describePipelineRun(r: PipelineRun): string {
  if (r.files === 0) return 'pipeline: no new landing files';
  const dropped =
    r.silver.dropped_missing +
    r.silver.dropped_bounds +
    r.silver.dropped_future +
    r.silver.dropped_late +
    r.silver.dropped_duplicate;
  return (
    `pipeline: ${formatCount(r.files)} file(s), ${formatCount(r.bronze.rows_in)} lines → ${formatCount(r.silver.rows_out)} Silver rows ` +
    `(${formatCount(dropped)} dropped, ${formatCount(r.bronze.rescued)} rescued) → ${formatCount(r.gold.windows_emitted)} Gold windows`
  );
}

export function describeTrain(r: TrainResult): string {
  const v = r.version;
  const flagged = (v.metrics.train_flagged_share * 100).toFixed(1);
  const champion = r.promoted
    ? `champion v${v.version}${r.previous_champion ? ` (was v${r.previous_champion.version})` : ''}`
    : `champion stays ${r.champion ? `v${r.champion.version}` : 'unset'} (${r.refused ? 'clearly worse on the labels' : 'manual promotion'})`;
  const l = r.labels;
  const labels =
    l && l.windows > 0
      ? `; on ${formatCount(l.windows)} labelled windows precision ${percent(l.candidate.precision)}, recall ${percent(l.candidate.recall)}` +
        (l.champion
          ? ` (champion v${l.champion.version}: ${percent(l.champion.precision)}, ${percent(l.champion.recall)})`
          : '')
      : '';
  return `train: model v${v.version} (${v.feature_set} features) on ${formatCount(v.training.train_rows)} windows, ${flagged} % flagged; ${champion}${labels}`;
}

function percent(ratio: number | null): string {
  return ratio === null ? '—' : `${(ratio * 100).toFixed(0)} %`;
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

export function describeFeed(r: FeedResult): string {
  const parts = [
    `${formatCount(r.posted)} message(s) with ${formatCount(r.windows)} anomalous window(s) posted`,
  ];
  if (r.updated > 0) parts.push(`${formatCount(r.updated)} updated after a re-score`);
  if (r.recovered > 0) parts.push(`${formatCount(r.recovered)} found already posted after a restart`);
  return `feed: ${parts.join(', ')}`;
}
