import { durationSchema, formatDurationSpec } from '../domain/duration.js';
import { formatTime } from '../domain/format.js';
import { quartzToCron } from '../domain/quartz.js';
import type { Mention, Reply } from '../domain/reply.js';
import {
  type EffectiveSchedule,
  SCHEDULE_JOBS,
  type ScheduleChange,
  scheduleJobOf,
} from '../domain/schedules.js';
import type { ScheduleRequest, ScheduleRow, Schedules } from '../jobs/schedules.js';
import { type Parsed, parsed, problem } from './slash.js';

/**
 * `schedule`: every job's schedule (everyone), and the ops team's changes: `schedule pause <job>
 * [duration]`, `resume <job>`, `set <job> <cron>`, `reset <job>`. A change is confirmed first (the
 * chat's confirmation, `--yes` on the command line); the preview shows what it makes of the job and,
 * for a new cron, its next three runs.
 */

/** `schedule` alone lists; a verb asks for a change. */
export type ScheduleArgs = { list: true } | { list: false; request: ScheduleRequest };

/** The longest pause with a duration (a pause without one lasts until resumed). */
export const MAX_PAUSE_MS = 30 * 86_400_000;

const JOBS_TEXT = `${SCHEDULE_JOBS.join(', ')} (infer is score)`;
export const SCHEDULE_USAGE =
  'schedule [pause <job> [30m|2h|1d…] | resume <job> | set <job> <cron> | reset <job>]';

export function scheduleTokens(tokens: readonly string[]): Parsed<ScheduleArgs> {
  if (tokens.length === 0) return parsed({ list: true });
  const [verbToken = '', jobToken, ...rest] = tokens;
  const verb = verbToken.toLowerCase();
  if (!['pause', 'resume', 'set', 'reset'].includes(verb))
    return problem(
      `\`schedule\` takes pause, resume, set or reset (or nothing, to list them); \`${verbToken.slice(0, 20)}\` is none of them.`,
    );
  if (!jobToken) return problem(`\`schedule ${verb}\` needs a job: ${JOBS_TEXT}.`);
  const job = scheduleJobOf(jobToken);
  if (!job)
    return problem(`\`${jobToken.slice(0, 20)}\` is not a job with a schedule; the jobs are ${JOBS_TEXT}.`);
  const request = (r: ScheduleRequest) => parsed<ScheduleArgs>({ list: false, request: r });
  switch (verb) {
    case 'pause': {
      if (rest.length > 1)
        return problem(
          '`schedule pause <job> [duration]` takes at most a duration after the job, e.g. `2h`.',
        );
      if (rest.length === 0) return request({ action: 'pause', job });
      const duration = durationSchema.safeParse(rest[0]);
      if (!duration.success || duration.data > MAX_PAUSE_MS)
        return problem(
          `The duration must be like 30m, 2h or 1d, at most ${formatDurationSpec(MAX_PAUSE_MS)}; \`${String(rest[0]).slice(0, 20)}\` is not. Without one the job stays paused until \`schedule resume ${job}\`.`,
        );
      return request({ action: 'pause', job, durationMs: duration.data });
    }
    case 'set':
      if (rest.length === 0)
        return problem(
          `\`schedule set ${job}\` needs a cron expression (UTC), e.g. \`schedule set ${job} */15 * * * *\`.`,
        );
      return request({ action: 'set', job, cron: rest.join(' ') });
    default:
      if (rest.length > 0) return problem(`\`schedule ${verb} <job>\` takes nothing after the job.`);
      return request({ action: verb as 'resume' | 'reset', job });
  }
}

function pausedText(s: EffectiveSchedule): string {
  return s.paused_until ? `paused until ${formatTime(s.paused_until)}` : 'paused until resumed';
}

function mentionOf(user: string): string | Mention {
  return /^[UW][A-Z0-9]+$/.test(user) || /^29:/.test(user) ? { user } : user;
}

/** The listing: each job's cron (UTC), paused or not, who changed it, its last and next runs. */
export function scheduleListReply(rows: readonly ScheduleRow[], platform: 'local' | 'databricks'): Reply {
  const changed = rows.filter((r) => r.changed);
  const notes = [
    'Times are UTC. Ops: `schedule pause <job> [2h]`, `schedule resume <job>`, `schedule set <job> <cron>`, `schedule reset <job>`.',
  ];
  if (platform === 'databricks') {
    notes.push(
      'On Databricks the pipeline runs as the first task of every score run; ingest and feed run in the bot.',
    );
    for (const r of rows) {
      if (!r.databricks) continue;
      const quartz = r.databricks.quartz_cron_expression;
      const asCron = quartzToCron(quartz);
      const paused = r.databricks.pause_status === 'PAUSED';
      const differs = !asCron.ok || asCron.cron !== r.cron || paused !== r.paused;
      const shown = asCron.ok ? `\`${asCron.cron}\` (Quartz \`${quartz}\`)` : `Quartz \`${quartz}\``;
      notes.push(
        `${r.job} on Databricks now: ${shown}, ${paused ? 'paused' : 'running'}` +
          (differs ? ': not as set here (edited in the workspace?); `provision --apply` puts it back.' : '.'),
      );
    }
  }
  return {
    title: '🗓️ Schedules',
    summary:
      changed.length === 0
        ? 'Every job runs on its configured schedule.'
        : `${changed.length} job${changed.length === 1 ? '' : 's'} differ${changed.length === 1 ? 's' : ''} from the configured schedule: ${changed.map((r) => r.job).join(', ')}.`,
    tables: [
      {
        columns: [
          { header: 'job' },
          { header: 'cron (UTC)' },
          { header: 'state' },
          { header: 'last run' },
          { header: 'next runs' },
        ],
        rows: rows.map((r) => [
          r.job,
          r.cron === r.default_cron ? r.cron : `${r.cron} (default ${r.default_cron})`,
          r.paused
            ? `${pausedText(r)}, by ${r.set_by ?? '?'}`
            : r.changed
              ? `running, set by ${r.set_by ?? '?'}`
              : 'running',
          r.last_run ? `${formatTime(r.last_run.at)} ${r.last_run.result}` : '—',
          r.next_runs.length > 0 ? r.next_runs.map((t) => formatTime(t).slice(11, 16)).join(', ') : '—',
        ]),
      },
    ],
    notes,
    data: rows,
  };
}

/** What a change asks for, in words (the confirmation's question and the audit line's `what`). */
export function requestText(request: ScheduleRequest): string {
  switch (request.action) {
    case 'pause':
      return `pause ${request.job}${request.durationMs !== undefined ? ` for ${formatDurationSpec(request.durationMs)}` : ''}`;
    case 'set':
      return `set ${request.job} to ${request.cron.trim().split(/\s+/).join(' ')}`;
    default:
      return `${request.action} ${request.job}`;
  }
}

/** The confirmation's question: the job after the change and, when it runs, its next three runs. */
export function schedulePreviewReply(
  request: ScheduleRequest,
  after: EffectiveSchedule,
  next: string[],
): Reply {
  const state = after.paused ? pausedText(after) : `runs on \`${after.cron}\` (UTC)`;
  return {
    title: `Schedule: ${requestText(request)}?`,
    summary: `After this, ${after.job} ${state}.`,
    ...(next.length > 0 ? { fields: [{ label: 'Next runs', value: next.map(formatTime).join(', ') }] } : {}),
    notes: [
      'The change is stored as the desired state: `provision --apply` keeps it, and the feed channel is told.',
    ],
    data: { request, after, next_runs: next },
  };
}

/** The answer once a change is made. */
export function scheduleChangedReply(
  change: ScheduleChange,
  after: EffectiveSchedule,
  next: string[],
  /** What the person should know besides (a Databricks job not there yet, a Jobs API that failed). */
  note?: string,
): Reply {
  return {
    title: `🗓️ ${change.job}: ${change.action === 'set' ? 'new schedule' : change.action === 'reset' ? 'back to its default' : change.action === 'pause' ? 'paused' : 'resumed'}`,
    summary: [
      ...scheduleChangeText(change),
      ...(after.paused && change.action === 'set' ? [` It is still ${pausedText(after)}.`] : []),
    ],
    ...(next.length > 0 ? { fields: [{ label: 'Next runs', value: next.map(formatTime).join(', ') }] } : {}),
    ...(note ? { notes: [note] } : {}),
    data: { change, after, next_runs: next },
  };
}

/** A change in a sentence (the answer, and the feed's announcement). */
export function scheduleChangeText(change: ScheduleChange): Array<string | Mention> {
  const by: Array<string | Mention> = [' by ', mentionOf(change.by), '.'];
  switch (change.action) {
    case 'pause':
      return [
        `${change.job} paused ${change.until ? `until ${formatTime(change.until)} (it resumes on its own)` : 'until resumed'}`,
        ...by,
      ];
    case 'resume':
      return [`${change.job} resumed`, ...by];
    case 'set':
      return [`${change.job} now runs on \`${change.cron}\` (UTC)`, ...by];
    case 'reset':
      return [`${change.job} is back on its configured schedule \`${change.cron}\``, ...by];
  }
}

/** `schedule` with no verb: the listing (the chat's and the command line's). */
export async function scheduleListCommand(ctx: {
  schedules?: Schedules;
  platform: { kind: 'local' | 'databricks' };
}): Promise<Reply> {
  if (!ctx.schedules) throw new Error('schedule: no schedules were given to this surface');
  return scheduleListReply(await ctx.schedules.list(), ctx.platform.kind);
}
