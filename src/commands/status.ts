import { formatAge, formatCount, formatDuration, formatPercent, formatTime } from '../domain/format.js';
import type { DataIncident } from '../domain/incidents.js';
import type { Reply } from '../domain/reply.js';
import type { Schedules } from '../jobs/schedules.js';
import type { Platform, RetrainRun, StageStatus, StatusReport } from '../platform/port.js';
import { dashboardLink } from './dashboard.js';

/**
 * Health of every stage, freshness, the last run of each job, anomalies in the last 24 h, and the
 * open data incidents (the chat bot's store; the command line has none).
 */
export async function statusCommand(deps: {
  platform: Platform;
  now: Date;
  openIncidents?: () => Promise<DataIncident[]>;
  consoleDashboardUrl?: string;
  schedules?: Schedules;
}): Promise<Reply> {
  const report = await deps.platform.reads.status(deps.now);
  // The dashboard's link, where there is one; a workspace that does not answer it leaves it out.
  const dashboard = await dashboardLink(deps).catch(() => undefined);
  // Precision on the windows the channel labelled (👍 Real / 👎 Noise on feed messages), where read back.
  const labelled = deps.platform.reads.labelPrecision
    ? await deps.platform.reads.labelPrecision()
    : undefined;
  const incidents = deps.openIncidents ? await deps.openIncidents() : [];
  const simulated = report.assets.filter((a) => a.simulated).map((a) => a.asset);
  const stage = (name: StageStatus['stage']) => report.stages.find((s) => s.stage === name);
  const notes: string[] = [];
  const landing = stage('landing');
  if (report.platform === 'local' && (!landing || landing.rows === 0)) {
    notes.push('No market data has landed yet: run `crypto-risk ingest`.');
  } else if (landing && (landing.counters.pending_files ?? 0) > 0) {
    notes.push(
      `${landing.counters.pending_files} landing file(s) wait for the pipeline: run \`crypto-risk pipeline\`.`,
    );
  }
  if (report.databricks?.freshness_note) notes.push(report.databricks.freshness_note);
  // Jobs paused or re-scheduled from chat: why a stage may be quiet.
  for (const s of deps.schedules ? await deps.schedules.effective() : []) {
    if (!s.changed) continue;
    const what = s.paused
      ? `paused ${s.paused_until ? `until ${formatTime(s.paused_until)}` : 'until resumed'}`
      : `on \`${s.cron}\` instead of \`${s.default_cron}\``;
    notes.push(`Schedule: ${s.job} is ${what} (by ${s.set_by ?? '?'}; \`schedule\` lists them).`);
  }
  const quarantine = describeQuarantine(report.quarantine);
  if (quarantine) notes.push(quarantine);
  const gold = stage('gold');
  if (gold && (gold.counters.open_windows ?? 0) > 0) {
    notes.push(
      `${gold.counters.open_windows} Gold window(s) stay open until the 2-minute watermark passes their end (new data moves it).`,
    );
  }
  if (!labelled)
    notes.push(
      'Labels from the feed (👍 Real / 👎 Noise) are kept in the volume’s labels folder and the pipeline’s `labels` table; precision per model version is read only while the SQL warehouse runs (status never starts it).',
    );
  return {
    title: `Pipeline status (${report.platform})`,
    badge:
      simulated.length > 0
        ? `SIMULATED DATA: ${simulated.join(', ')} come from the market simulator`
        : undefined,
    fields: [
      {
        label: 'Assets',
        value:
          report.assets.length === 0
            ? 'none yet'
            : report.assets.map((a) => `${a.asset} (${a.sources.join('+')})`).join(', '),
      },
      { label: 'Silver watermark', value: formatTime(report.watermarks.silver) },
      { label: 'Gold watermark', value: formatTime(report.watermarks.gold) },
      ...(report.databricks
        ? [
            { label: 'SQL warehouse', value: report.databricks.warehouse },
            {
              label: 'Pipeline',
              value: report.databricks.pipeline
                ? `${report.databricks.pipeline.state}; last update ${report.databricks.pipeline.last_update ?? 'none'}` +
                  (report.databricks.pipeline.last_update_at
                    ? ` at ${formatTime(report.databricks.pipeline.last_update_at)}`
                    : '')
                : 'not provisioned (run `crypto-risk provision --apply`)',
            },
          ]
        : []),
      { label: 'Champion model', value: describeChampion(report, deps.now) },
      ...(dashboard ? [{ label: 'Dashboard', value: dashboard }] : []),
      { label: 'Anomalies, last 24 h', value: formatCount(report.anomalies_24h) },
      {
        label: 'Data incidents',
        value: deps.openIncidents
          ? incidents.length === 0
            ? 'none open'
            : `${formatCount(incidents.length)} open (table below)`
          : 'kept by the chat bot (ask it `status`)',
      },
      ...(report.quarantine
        ? [
            {
              label: 'Landing quarantine',
              value: `${formatCount(report.quarantine.quarantined)} quarantined, ${formatCount(report.quarantine.failing)} failing (retried)`,
            },
          ]
        : []),
    ],
    tables: [
      ...(incidents.length > 0
        ? [
            {
              title: 'Open data incidents',
              columns: [{ header: 'since' }, { header: 'kind' }, { header: 'asset' }, { header: 'what' }],
              rows: incidents.map((i) => [formatTime(i.since), i.kind, i.asset ?? 'all', i.detail]),
            },
          ]
        : []),
      {
        title: 'Stages',
        columns: [
          { header: 'stage' },
          { header: 'rows', align: 'right' },
          { header: 'newest' },
          { header: 'age', align: 'right' },
          { header: 'details' },
        ],
        rows: report.stages.map((s) => [
          s.stage,
          formatCount(s.rows),
          formatTime(s.latest),
          formatAge(s.age_seconds),
          describeCounters(s.counters),
        ]),
      },
      ...(labelled && labelled.length > 0
        ? [
            {
              title: 'Labels',
              columns: [
                { header: 'model version' },
                { header: 'labelled windows', align: 'right' as const },
                { header: 'real', align: 'right' as const },
                { header: 'noise', align: 'right' as const },
                { header: 'precision', align: 'right' as const },
              ],
              rows: labelled.map((l) => [
                `v${l.model_version}`,
                formatCount(l.windows),
                formatCount(l.real),
                formatCount(l.noise),
                l.precision === null ? '—' : formatPercent(l.precision, 1),
              ]),
            },
          ]
        : []),
      {
        title: 'Jobs (last run)',
        columns: [
          { header: 'job' },
          { header: 'finished' },
          { header: 'result' },
          { header: 'took', align: 'right' },
          { header: 'summary' },
        ],
        rows: report.jobs.map((j) => [
          j.job,
          formatTime(j.finished_at),
          j.result,
          formatDuration(j.duration_ms),
          j.summary,
        ]),
      },
    ],
    notes,
    data: report,
  };
}

function describeChampion(report: StatusReport, now: Date): string {
  const champion = report.model.champion;
  if (!champion) {
    return report.model.versions === 0
      ? noModelYet(report.model.training_run)
      : `none set; ${report.model.versions} version(s)`;
  }
  const age = formatAge((now.getTime() - Date.parse(champion.created_at)) / 1000);
  return (
    `v${champion.version}, trained ${age} ago on ${formatCount(champion.training.rows)} windows (${champion.feature_set} features); ` +
    `flagged ${formatPercent(champion.metrics.train_flagged_share, 1)} in training, ` +
    `${formatPercent(champion.metrics.holdout_flagged_share, 1)} in holdout`
  );
}

/** Landing files the pipeline isolated: how many, and the newest reason, with what to do. */
function describeQuarantine(q: StatusReport['quarantine']): string | undefined {
  if (!q || (q.quarantined === 0 && q.failing === 0)) return undefined;
  const newest = q.newest
    ? ` Newest: ${q.newest.file} ${q.newest.quarantined ? 'quarantined' : 'failed'}${q.newest.at ? ` at ${formatTime(q.newest.at)}` : ''}: ${q.newest.reason}.`
    : '';
  return (
    `${q.quarantined} landing file(s) quarantined, ${q.failing} failing and retried on the next runs.${newest} ` +
    'See `crypto-risk quarantine list`; after fixing a file, `crypto-risk quarantine retry <file>`.'
  );
}

/** No model version at all: what the first training run is doing, or what to do. */
function noModelYet(run: RetrainRun | null | undefined): string {
  if (run?.state === 'queued' || run?.state === 'running') {
    return `no model yet: the first training run is ${run.state}`;
  }
  if (run?.state === 'failed') {
    return `no model yet: the last training run failed (${run.error ?? 'no reason given'}); run \`crypto-risk train\``;
  }
  return 'no model yet: run `crypto-risk train`';
}

const COUNTER_LABELS: Record<string, string> = {
  files: 'files',
  pending_files: 'pending',
  rescued: 'rescued',
  dropped_missing: 'missing fields',
  dropped_bounds: 'out of bounds',
  dropped_future: 'future',
  dropped_late: 'late',
  dropped_duplicate: 'duplicates',
  price_warnings: 'price<=0 warnings (older runs)',
  open_windows: 'open windows',
};

function describeCounters(counters: Record<string, number>): string {
  return Object.entries(counters)
    .filter(([key, n]) => n > 0 || key === 'pending_files' || key === 'rescued')
    .filter(([key]) => key !== 'files')
    .map(([key, n]) => `${COUNTER_LABELS[key] ?? key} ${formatCount(n)}`)
    .join(', ');
}
