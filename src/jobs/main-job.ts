import type { Config } from '../config.js';
import type { EffectiveSchedule, ScheduleJob } from '../domain/schedules.js';
import { describeInfer, describeIngest, describePipelineRun, describeTrain } from '../domain/summaries.js';
import { UserError } from '../errors.js';
import type { MarketSource } from '../market/sources.js';
import type { Metrics } from '../metrics.js';
import { runInfer } from './infer.js';
import { runIngest } from './ingest.js';
import type { JobHealth } from './job-health.js';
import { countIngest, countPipeline } from './job-metrics.js';
import { runPipeline } from './pipeline.js';
import type { JobDeps } from './record-run.js';
import { followRetrain } from './retrain.js';
import { createScheduler } from './scheduler.js';
import type { Schedules } from './schedules.js';

export interface MainJobDeps extends JobDeps {
  source: MarketSource;
  schedule: Config['schedule'];
  /** One line of the live account (the caller prints it). */
  print(line: string): void;
  /** More jobs on the same scheduler (the Slack feed); `run` returns its line of the account, if any. */
  extraJobs?: Array<{ name: string; cron: string; run(): Promise<string | undefined> }>;
  /** Every run's outcome and duration (for /readyz and the metrics). */
  health?: JobHealth;
  /** What the runs did (records landed, rows in and out, drops), when `run` serves metrics. */
  metrics?: Metrics;
  /** The schedules as set from chat: applied at start and whenever they change. */
  schedules?: Schedules;
}

/** The scheduler's name of each job with a schedule (the score job is `infer` here). */
const SCHEDULER_NAME: Record<ScheduleJob, string> = {
  ingest: 'ingest',
  pipeline: 'pipeline',
  score: 'infer',
  train: 'train',
  feed: 'feed',
};

/** How often the stored schedules are read again (changes made elsewhere, timed pauses that ended). */
const SCHEDULES_REFRESH_MS = 15_000;

/** After a new champion, the windows of this last stretch are scored again with it. */
const RESCORE_AFTER_PROMOTION_MS = 24 * 3_600_000;

/**
 * The main job (`crypto-risk run`, `npm start`): ingest, pipeline, infer and train on their
 * schedules (on Databricks only ingest: the rest are Databricks jobs), and the Slack feed when
 * configured, with a one-line account of every run. It starts with one round
 * at once (ingest with its backfill, pipeline, a first model when there is none, inference), so
 * a new user sees anomalies within a minute or two. `stop()` lets the jobs in flight finish.
 */
export async function startMainJob(deps: MainJobDeps): Promise<{ stop(): Promise<void> }> {
  const { platform, clock, print } = deps;
  const stamp = () => clock.now().toISOString().slice(11, 19);
  let rescoreSince: Date | undefined;

  const job =
    <T>(
      name: string,
      work: () => Promise<T>,
      describe: (result: T) => string,
      quiet?: (result: T) => boolean,
      count?: (metrics: Metrics, result: T) => void,
    ) =>
    async () => {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const result = await work();
        deps.health?.finished(name, true, seconds());
        if (deps.metrics) count?.(deps.metrics, result);
        if (!quiet?.(result)) print(`${stamp()} ${describe(result)}`);
        return result;
      } catch (err) {
        deps.health?.finished(name, false, seconds());
        print(`${stamp()} ${name} FAILED: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      }
    };

  // On Databricks the pipeline, inference and training are Databricks jobs; this process ingests.
  // The pipeline and inference run here only where the engine is in this process (the embedded default).
  const local = platform.engine !== undefined;
  const lakehouseJobs = [
    {
      name: 'pipeline',
      cron: deps.schedule.pipeline,
      run: job(
        'pipeline',
        () => runPipeline(deps),
        describePipelineRun,
        (r) => r.files === 0,
        countPipeline,
      ),
    },
    {
      name: 'infer',
      cron: deps.schedule.infer,
      run: job(
        'infer',
        async () => {
          const since = rescoreSince;
          const result = await runInfer(deps, since ? { rescoreSince: since } : {});
          if (rescoreSince === since) rescoreSince = undefined;
          return result;
        },
        describeInfer,
        (r) => r.scored === 0,
      ),
    },
    {
      name: 'train',
      cron: deps.schedule.train,
      run: job(
        'train',
        async () => {
          // Through the platform's retrain, so that a retrain asked for in Slack and the daily one
          // never run at once (the second joins the first).
          const { run } = await platform.pipeline.retrain({ requestedBy: 'schedule' });
          const done = await followRetrain(platform, run.id, { pollMs: 250 });
          if (!done.result) throw new UserError(done.error ?? 'training failed');
          if (done.result.promoted)
            rescoreSince = new Date(clock.now().getTime() - RESCORE_AFTER_PROMOTION_MS);
          return done.result;
        },
        describeTrain,
      ),
    },
  ];
  const scheduler = createScheduler(
    [
      {
        name: 'ingest',
        cron: deps.schedule.ingest,
        run: job('ingest', () => runIngest(deps), describeIngest, undefined, countIngest),
      },
      ...(local ? lakehouseJobs : []),
      ...(deps.extraJobs ?? []).map((extra) => ({
        name: extra.name,
        cron: extra.cron,
        run: job(
          extra.name,
          () => extra.run(),
          (line) => line ?? '',
          (line) => line === undefined,
        ),
      })),
    ],
    deps,
  );

  // The schedules set from chat, applied now and whenever they change (without a restart).
  const pausedNow = new Set<string>();
  let started = false;
  const applySchedules = (schedules: EffectiveSchedule[]) => {
    const before = new Set(pausedNow);
    pausedNow.clear();
    for (const s of schedules) {
      const name = SCHEDULER_NAME[s.job];
      if (s.paused) pausedNow.add(name);
      // The feed announces schedule changes: one more cycle tells the channel it is paused.
      if (started && s.paused && name === 'feed' && !before.has(name))
        void scheduler.runNow(name).catch(() => false);
      scheduler.update(name, {
        cron: s.cron,
        paused: s.paused,
        ...(s.paused_until ? { pausedUntil: new Date(s.paused_until) } : {}),
      });
    }
  };
  let refresher: NodeJS.Timeout | undefined;
  if (deps.schedules) {
    const schedules = deps.schedules;
    applySchedules(await schedules.effective());
    schedules.watch(applySchedules);
    refresher = setInterval(() => {
      schedules
        .refresh()
        .catch((err: unknown) =>
          deps.logger.warn({ err: String(err) }, 'schedules: could not read or apply them; retried soon'),
        );
    }, SCHEDULES_REFRESH_MS);
    refresher.unref();
  }

  // The first round, at once (a paused job waits): failures are reported and the schedule carries on.
  const first = async (name: string) =>
    pausedNow.has(name) ? false : scheduler.runNow(name).catch(() => false);
  await first('ingest');
  if (local) {
    await first('pipeline');
    if ((await platform.pipeline.models()).versions.length === 0) await first('train');
    await first('infer');
  }
  for (const extra of deps.extraJobs ?? []) await first(extra.name);
  scheduler.start();
  started = true;
  print(`${stamp()} first round done; the jobs now run on their schedules`);
  return {
    stop: () => {
      clearInterval(refresher);
      return scheduler.stop();
    },
  };
}
