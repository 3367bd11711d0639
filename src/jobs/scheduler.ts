import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log.js';

export interface ScheduledJob {
  name: string;
  /** Cron expression, evaluated in UTC. */
  cron: string;
  run(): Promise<unknown>;
}

export interface Scheduler {
  start(): void;
  /** Runs a job now, unless it is already running (then resolves to false without running it). */
  runNow(name: string): Promise<boolean>;
  /** Stops scheduling and waits for the jobs in flight to finish. */
  stop(): Promise<void>;
}

/**
 * The longest time between two runs of a cron schedule (UTC), over its next runs: how long a job on
 * it may rightly be quiet (the feed's stale-data rule counts in these).
 */
export function longestIntervalMs(expression: string): number {
  const task = cron.createTask(expression, () => undefined, { timezone: 'UTC' });
  try {
    const runs = task.getNextRuns(60).map((d) => d.getTime());
    let longest = 0;
    for (let i = 1; i < runs.length; i++)
      longest = Math.max(longest, (runs[i] as number) - (runs[i - 1] as number));
    return longest;
  } finally {
    task.destroy();
  }
}

/**
 * Runs jobs on cron schedules (node-cron, UTC). A job never overlaps with itself: a trigger that
 * comes while the job still runs, scheduled or by hand, is skipped and logged. A failing job is
 * logged and runs again at its next trigger.
 */
export function createScheduler(jobs: readonly ScheduledJob[], deps: { logger: Logger }): Scheduler {
  const running = new Map<string, Promise<unknown>>();
  const tasks: ScheduledTask[] = [];
  let stopped = false;

  function trigger(job: ScheduledJob): Promise<boolean> {
    if (stopped) return Promise.resolve(false);
    if (running.has(job.name)) {
      deps.logger.warn({ job: job.name }, `${job.name} is still running; this trigger is skipped`);
      return Promise.resolve(false);
    }
    const execution = job
      .run()
      // The job reports its own failure (job_runs, the live account); the schedule carries on.
      .catch((err: unknown) => deps.logger.debug({ job: job.name, err: String(err) }, `${job.name} failed`))
      .finally(() => running.delete(job.name));
    running.set(job.name, execution);
    return execution.then(() => true);
  }

  return {
    start() {
      for (const job of jobs) {
        tasks.push(
          cron.schedule(job.cron, () => trigger(job), { name: job.name, timezone: 'UTC', noOverlap: true }),
        );
      }
    },
    runNow(name) {
      const job = jobs.find((j) => j.name === name);
      if (!job) return Promise.reject(new Error(`no job named ${name}`));
      return trigger(job);
    },
    async stop() {
      stopped = true;
      await Promise.all(tasks.map((t) => t.stop()));
      await Promise.all(running.values());
    },
  };
}
