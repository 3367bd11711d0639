import cron, { type ScheduledTask } from 'node-cron';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

export interface ScheduledJob {
  name: string;
  /** Cron expression, evaluated in UTC. */
  cron: string;
  run(): Promise<unknown>;
}

export interface Scheduler {
  start(): void;
  /**
   * Changes a job's schedule at once, without a restart: a new cron replaces its trigger; while
   * paused its triggers are skipped (a run by hand still runs), until `pausedUntil` when given.
   */
  update(name: string, schedule: { cron: string; paused: boolean; pausedUntil?: Date }): void;
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
export function createScheduler(
  jobs: readonly ScheduledJob[],
  deps: { logger: Logger; clock?: Clock },
): Scheduler {
  const running = new Map<string, Promise<unknown>>();
  const tasks = new Map<string, ScheduledTask>();
  const crons = new Map(jobs.map((j) => [j.name, j.cron]));
  /** Paused jobs, and when each pause ends (undefined: until resumed). */
  const paused = new Map<string, Date | undefined>();
  let started = false;
  let stopped = false;

  function isPaused(name: string): boolean {
    if (!paused.has(name)) return false;
    const until = paused.get(name);
    if (until && until.getTime() <= (deps.clock?.now() ?? new Date()).getTime()) {
      paused.delete(name);
      return false;
    }
    return true;
  }

  function plan(job: ScheduledJob): void {
    tasks.get(job.name)?.destroy();
    const task = cron.schedule(
      crons.get(job.name) ?? job.cron,
      () => {
        if (isPaused(job.name)) {
          deps.logger.debug({ job: job.name }, `${job.name} is paused; this trigger is skipped`);
          return;
        }
        return trigger(job);
      },
      { name: job.name, timezone: 'UTC', noOverlap: true },
    );
    tasks.set(job.name, task);
  }

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
      started = true;
      for (const job of jobs) plan(job);
    },
    update(name, schedule) {
      const job = jobs.find((j) => j.name === name);
      if (!job || stopped) return;
      if (schedule.paused) paused.set(name, schedule.pausedUntil);
      else paused.delete(name);
      if (crons.get(name) === schedule.cron) return;
      crons.set(name, schedule.cron);
      if (started) plan(job);
    },
    runNow(name) {
      const job = jobs.find((j) => j.name === name);
      if (!job) return Promise.reject(new Error(`no job named ${name}`));
      return trigger(job);
    },
    async stop() {
      stopped = true;
      await Promise.all([...tasks.values()].map((t) => t.destroy()));
      await Promise.all(running.values());
    },
  };
}
