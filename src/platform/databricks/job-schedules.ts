import type { Config } from '../../config.js';
import { cronToQuartz } from '../../domain/quartz.js';
import { type EffectiveSchedule, effectiveSchedule, type ScheduleState } from '../../domain/schedules.js';
import type { DatabricksJobSchedule } from '../port.js';
import { JOB_NAMES, type JobSchedules } from './resources.js';
import type { DatabricksRest } from './rest.js';

/**
 * The Databricks jobs' schedules: what the stored desired state (src/domain/schedules.ts) makes of
 * the configured defaults, for `provision` to create and keep them so; and the Jobs API calls that
 * read and change one job's schedule in place (https://docs.databricks.com/api/workspace/jobs/update:
 * `new_settings` replaces the top-level fields it names, here only `schedule`).
 */

function quartzOf(cron: string): string {
  const q = cronToQuartz(cron);
  if (!q.ok) throw new Error(`the schedule ${cron} has no Quartz form: ${q.problem}`);
  return q.quartz;
}

/**
 * The jobs' schedules under the state: score (SCHEDULE_INFER) and train as set from chat, the
 * optional ingest job on SCHEDULE_INGEST and paused (the bot ingests); and the schedules that
 * differ from their defaults, for the plan.
 */
export function jobSchedulesOf(
  state: ScheduleState,
  defaults: Config['schedule'],
  now: Date,
): { schedules: JobSchedules; changed: EffectiveSchedule[] } {
  const score = effectiveSchedule('score', defaults.infer, state, now);
  const train = effectiveSchedule('train', defaults.train, state, now);
  const of = (s: EffectiveSchedule): DatabricksJobSchedule => ({
    quartz_cron_expression: quartzOf(s.cron),
    pause_status: s.paused ? 'PAUSED' : 'UNPAUSED',
  });
  return {
    schedules: {
      ingest: { quartz_cron_expression: quartzOf(defaults.ingest), pause_status: 'PAUSED' },
      score: of(score),
      train: of(train),
    },
    changed: [score, train].filter((s) => s.changed),
  };
}

interface ListedJob {
  job_id: number;
  settings: { name: string; schedule?: { quartz_cron_expression: string; pause_status?: string } };
}

export function createJobScheduleApi(rest: DatabricksRest) {
  async function find(job: 'score' | 'train'): Promise<ListedJob | undefined> {
    const name = JOB_NAMES[job];
    const res = await rest.get<{ jobs?: ListedJob[] }>('/api/2.2/jobs/list', { name, limit: 25 });
    return res.jobs?.find((j) => j.settings.name === name);
  }
  const scheduleOf = (found: ListedJob): DatabricksJobSchedule | null => {
    const s = found.settings.schedule;
    if (!s) return null;
    // The reference's CronSchedule: pause_status is UNPAUSED when it is not given.
    return {
      quartz_cron_expression: s.quartz_cron_expression,
      pause_status: s.pause_status === 'PAUSED' ? 'PAUSED' : 'UNPAUSED',
    };
  };
  return {
    async scheduleOf(job: 'score' | 'train'): Promise<DatabricksJobSchedule | null> {
      const found = await find(job);
      return found ? scheduleOf(found) : null;
    },
    async applySchedule(job: 'score' | 'train', schedule: DatabricksJobSchedule): Promise<boolean> {
      const found = await find(job);
      if (!found) return false;
      const now = scheduleOf(found);
      if (
        now?.quartz_cron_expression === schedule.quartz_cron_expression &&
        now.pause_status === schedule.pause_status
      )
        return true;
      // Setting the same schedule twice gives the same job: safe to retry.
      await rest.post(
        '/api/2.2/jobs/update',
        { job_id: found.job_id, new_settings: { schedule: { ...schedule, timezone_id: 'UTC' } } },
        { idempotent: true },
      );
      return true;
    },
  };
}
