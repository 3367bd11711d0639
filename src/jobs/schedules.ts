import { randomUUID } from 'node:crypto';
import cron from 'node-cron';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { cronToQuartz } from '../domain/quartz.js';
import {
  type EffectiveSchedule,
  effectiveSchedule,
  SCHEDULE_JOBS,
  SCHEDULES_KEY,
  type ScheduleAction,
  type ScheduleChange,
  type ScheduleJob,
  type ScheduleState,
  scheduleStateOf,
  withChange,
} from '../domain/schedules.js';
import { ExitCode, UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DatabricksJobSchedule, Platform } from '../platform/port.js';

/**
 * The jobs' schedules from chat and the command line: what each job runs on now, and the changes
 * of `schedule pause|resume|set|reset`. The desired state lives in the platform's state store (the
 * local DuckDB; on Databricks a file in the volume, which the bot and the command line both reach)
 * and is applied where the job runs: this process's scheduler (subscribed with `watch`) and, for
 * the jobs that are Databricks jobs (score, train), the Jobs API (`schedule.quartz_cron_expression`,
 * `pause_status`). `provision --apply` applies the same state, so it never undoes a change.
 */

/** A change asked for: the verb and its job, and what `pause` and `set` take. */
export type ScheduleRequest =
  | { action: 'pause'; job: ScheduleJob; durationMs?: number }
  | { action: 'resume'; job: ScheduleJob }
  | { action: 'set'; job: ScheduleJob; cron: string }
  | { action: 'reset'; job: ScheduleJob };

/** A job's schedule as `schedule` lists it. */
export interface ScheduleRow extends EffectiveSchedule {
  /** Where it runs: this process, or the Databricks job. */
  runs_in: string;
  /** The Databricks job's schedule as the Jobs API has it now (jobs that run there). */
  databricks?: DatabricksJobSchedule | null;
  last_run: { at: string; result: string } | null;
  /** The next runs (UTC), none while paused. */
  next_runs: string[];
}

/** Where each job runs on Databricks (the rest run in the bot's process). */
export const DATABRICKS_JOB_OF: Partial<Record<ScheduleJob, 'score' | 'train'>> = {
  score: 'score',
  train: 'train',
};

/** The names job runs are recorded by (job_runs locally, the Jobs API and the bot on Databricks). */
const RUN_NAMES: Record<ScheduleJob, string[]> = {
  ingest: ['ingest', 'bot ingest'],
  pipeline: ['pipeline'],
  score: ['infer', 'crypto-risk-score'],
  train: ['train', 'crypto-risk-train'],
  feed: ['feed', 'bot feed'],
};

/** The configured default of each job (SCHEDULE_*; the score job's is SCHEDULE_INFER). */
export function defaultCrons(schedule: Config['schedule']): Record<ScheduleJob, string> {
  return {
    ingest: schedule.ingest,
    pipeline: schedule.pipeline,
    score: schedule.infer,
    train: schedule.train,
    feed: schedule.feed,
  };
}

/** The next `count` runs of a cron (UTC), as node-cron, the scheduler here, fires them. */
export function nextRuns(expression: string, count: number): string[] {
  const task = cron.createTask(expression, () => undefined, { timezone: 'UTC' });
  try {
    return task.getNextRuns(count).map((d) => d.toISOString());
  } finally {
    task.destroy();
  }
}

/** Why a cron cannot be a schedule, in a sentence; undefined when it can. */
export function cronProblem(expression: string, platform: Platform['kind']): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 || !cron.validate(expression)) {
    return `\`${expression.slice(0, 60)}\` is not a cron expression: give five fields, minute hour day-of-month month weekday (UTC), e.g. \`*/15 * * * *\` or \`0 3 * * 1-5\`.`;
  }
  if (platform === 'databricks') {
    const quartz = cronToQuartz(expression);
    if (!quartz.ok) return quartz.problem;
  }
  return undefined;
}

/** A request that cannot be made as asked: nothing changed (exit code 2 on the command line). */
const badInput = (sentence: string) => new UserError(sentence, { exitCode: ExitCode.Usage });

export interface Schedules {
  /** The jobs with a schedule on this platform. */
  readonly jobs: readonly ScheduleJob[];
  list(): Promise<ScheduleRow[]>;
  /** The stored desired state. */
  state(): Promise<ScheduleState>;
  /** Each job's schedule now, under the stored state (or this one, read already). */
  effective(state?: ScheduleState): Promise<EffectiveSchedule[]>;
  /** What a request would change, or a sentence saying why it cannot (then nothing changes). */
  check(request: ScheduleRequest): Promise<{ after: EffectiveSchedule; next: string[] }>;
  /** Makes the change: stored, then applied (this process's scheduler, the Jobs API). */
  change(
    request: ScheduleRequest,
    by: string,
  ): Promise<{ change: ScheduleChange; after: EffectiveSchedule; note?: string }>;
  /**
   * Reads the stored state again and applies it where it differs from what was applied (a change
   * made by the command line, a timed pause that ended): what the main job calls now and then.
   */
  refresh(): Promise<void>;
  /** Called with every job's schedule whenever it may have changed (the main job's scheduler). */
  watch(listener: (schedules: EffectiveSchedule[]) => void): void;
}

export function createSchedules(deps: {
  platform: Platform;
  schedule: Config['schedule'];
  clock: Clock;
  logger: Logger;
}): Schedules {
  const { platform, clock } = deps;
  const defaults = defaultCrons(deps.schedule);
  const databricks = platform.kind === 'databricks';
  // On Databricks the pipeline is the score job's first task: it has no schedule of its own.
  const jobs = SCHEDULE_JOBS.filter((j) => !(databricks && j === 'pipeline'));
  const listeners: Array<(schedules: EffectiveSchedule[]) => void> = [];
  let lastSeen = '';

  const read = async () => scheduleStateOf(await platform.pipeline.state.get(SCHEDULES_KEY));
  const effectiveOf = (state: ScheduleState, now = clock.now()) =>
    jobs.map((job) => effectiveSchedule(job, defaults[job], state, now));

  /**
   * The Databricks jobs brought to the state (the Jobs API is called only where they differ);
   * the jobs that do not exist yet, by name.
   */
  async function applyRemote(schedules: EffectiveSchedule[]): Promise<string[]> {
    const deployment = platform.deployment;
    const missing: string[] = [];
    if (!deployment) return missing;
    for (const s of schedules) {
      const remote = DATABRICKS_JOB_OF[s.job];
      if (!remote) continue;
      const quartz = cronToQuartz(s.cron);
      if (!quartz.ok) throw new UserError(quartz.problem);
      const applied = await deployment.applySchedule(remote, {
        quartz_cron_expression: quartz.quartz,
        pause_status: s.paused ? 'PAUSED' : 'UNPAUSED',
      });
      if (!applied) missing.push(remote);
    }
    return missing;
  }

  function notify(schedules: EffectiveSchedule[]): void {
    lastSeen = JSON.stringify(schedules);
    for (const listener of listeners) listener(schedules);
  }

  function jobOf(job: ScheduleJob): ScheduleJob {
    if (jobs.includes(job)) return job;
    throw badInput(
      'On Databricks the pipeline runs as the first task of every score run: change the schedule of `score` instead.',
    );
  }

  function changeOf(request: ScheduleRequest, state: ScheduleState, by: string): ScheduleChange {
    const job = jobOf(request.job);
    const now = clock.now();
    const current = effectiveSchedule(job, defaults[job], state, now);
    const base = {
      id: randomUUID(),
      job,
      action: request.action as ScheduleAction,
      by,
      at: now.toISOString(),
    };
    switch (request.action) {
      case 'pause': {
        const until =
          request.durationMs !== undefined
            ? new Date(now.getTime() + request.durationMs).toISOString()
            : undefined;
        return { ...base, ...(until ? { until } : {}) };
      }
      case 'resume':
        if (!current.paused) throw badInput(`${job} is not paused; nothing was changed.`);
        return base;
      case 'set': {
        const problem = cronProblem(request.cron, platform.kind);
        if (problem) throw badInput(problem);
        const normal = request.cron.trim().split(/\s+/).join(' ');
        if (normal === current.cron)
          throw badInput(`${job} already runs on \`${normal}\`; nothing was changed.`);
        return { ...base, cron: normal };
      }
      case 'reset':
        if (!current.changed && state.overrides[job] === undefined)
          throw badInput(`${job} already runs on its default \`${defaults[job]}\`; nothing was changed.`);
        return { ...base, cron: defaults[job] };
    }
  }

  return {
    jobs,
    state: read,
    effective: async (state) => effectiveOf(state ?? (await read())),

    async list() {
      const now = clock.now();
      const schedules = effectiveOf(await read(), now);
      const runs = (await platform.reads.status(now).catch(() => undefined))?.jobs ?? [];
      const rows: ScheduleRow[] = [];
      for (const s of schedules) {
        const names = RUN_NAMES[s.job];
        const last = runs
          .filter((r) => names.includes(r.job))
          .sort((a, b) => Date.parse(b.finished_at) - Date.parse(a.finished_at))[0];
        const remote = databricks ? DATABRICKS_JOB_OF[s.job] : undefined;
        rows.push({
          ...s,
          runs_in: remote ? `Databricks job ${remote}` : 'the bot',
          ...(remote && platform.deployment
            ? { databricks: await platform.deployment.scheduleOf(remote).catch(() => null) }
            : {}),
          last_run: last ? { at: last.finished_at, result: last.result } : null,
          next_runs: s.paused ? [] : nextRuns(s.cron, 3),
        });
      }
      return rows;
    },

    async check(request) {
      const state = await read();
      const change = changeOf(request, state, 'check');
      const after = effectiveSchedule(
        change.job,
        defaults[change.job],
        withChange(state, change),
        clock.now(),
      );
      return { after, next: after.paused ? [] : nextRuns(after.cron, 3) };
    },

    async change(request, by) {
      const state = await read();
      const change = changeOf(request, state, by);
      const next = withChange(state, change);
      const schedules = effectiveOf(next);
      await platform.pipeline.state.set(SCHEDULES_KEY, next);
      deps.logger.info(
        { job: change.job, action: change.action, by },
        `schedule: ${change.action} ${change.job}`,
      );
      const after = schedules.find((s) => s.job === change.job) as EffectiveSchedule;
      // Stored first: a Jobs API that fails now loses nothing (the next refresh, and provision,
      // apply the stored state), and the person is told so.
      let note: string | undefined;
      try {
        const missing = await applyRemote([after]);
        if (missing.length > 0)
          note = `The Databricks job ${missing.join(', ')} does not exist yet: \`provision --apply\` creates it with this schedule.`;
        notify(schedules);
      } catch (err) {
        deps.logger.warn(
          { job: change.job, err: String(err) },
          'schedule: the Jobs API did not take the change yet',
        );
        note = `The change is stored, but the Databricks job could not be updated yet (${err instanceof Error ? err.message : String(err)}): the bot tries again within a minute, and \`provision --apply\` applies it too.`;
      }
      return { change, after, ...(note ? { note } : {}) };
    },

    async refresh() {
      const schedules = effectiveOf(await read());
      if (JSON.stringify(schedules) === lastSeen) return;
      await applyRemote(schedules);
      notify(schedules);
    },

    watch(listener) {
      listeners.push(listener);
    },
  };
}
