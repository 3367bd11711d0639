import type { Config } from '../config.js';
import type { MarketSource } from '../market/sources.js';
import { describeInfer, runInfer } from './infer.js';
import { describeIngest, runIngest } from './ingest.js';
import { describePipelineRun, runPipeline } from './pipeline.js';
import type { JobDeps } from './record-run.js';
import { createScheduler } from './scheduler.js';
import { describeTrain, runTrain } from './train.js';

export interface MainJobDeps extends JobDeps {
  source: MarketSource;
  schedule: Config['schedule'];
  /** One line of the live account (the caller prints it). */
  print(line: string): void;
}

/** After a new champion, the windows of this last stretch are scored again with it. */
const RESCORE_AFTER_PROMOTION_MS = 24 * 3_600_000;

/**
 * The main job of the embedded default (`crypto-risk run`, `npm start`): ingest, pipeline, infer
 * and train on their schedules, with a one-line account of every run. It starts with one round
 * at once (ingest with its backfill, pipeline, a first model when there is none, inference), so
 * a new user sees anomalies within a minute or two. `stop()` lets the jobs in flight finish.
 */
export async function startMainJob(deps: MainJobDeps): Promise<{ stop(): Promise<void> }> {
  const { platform, clock, print } = deps;
  const stamp = () => clock.now().toISOString().slice(11, 19);
  let rescoreSince: Date | undefined;

  const job =
    <T>(name: string, work: () => Promise<T>, describe: (result: T) => string) =>
    async () => {
      try {
        const result = await work();
        print(`${stamp()} ${describe(result)}`);
        return result;
      } catch (err) {
        print(`${stamp()} ${name} FAILED: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      }
    };

  const scheduler = createScheduler(
    [
      {
        name: 'ingest',
        cron: deps.schedule.ingest,
        run: job('ingest', () => runIngest(deps), describeIngest),
      },
      {
        name: 'pipeline',
        cron: deps.schedule.pipeline,
        run: job('pipeline', () => runPipeline(deps), describePipelineRun),
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
        ),
      },
      {
        name: 'train',
        cron: deps.schedule.train,
        run: job(
          'train',
          async () => {
            const result = await runTrain(deps);
            if (result.promoted) rescoreSince = new Date(clock.now().getTime() - RESCORE_AFTER_PROMOTION_MS);
            return result;
          },
          describeTrain,
        ),
      },
    ],
    deps,
  );

  // The first round, at once: failures are reported and the schedule carries on from there.
  const first = async (name: string) => scheduler.runNow(name).catch(() => false);
  await first('ingest');
  await first('pipeline');
  if ((await platform.models()).versions.length === 0) await first('train');
  await first('infer');
  scheduler.start();
  return { stop: () => scheduler.stop() };
}
