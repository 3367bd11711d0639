/**
 * The jobs' schedules as the chat sets them: the desired state (`schedule pause|resume|set|reset`),
 * stored as one JSON document (the platform's state store, key `schedules`) and applied over the
 * configured defaults (SCHEDULE_*). Pure: what a schedule is now, what a change makes of it.
 * Crons are 5-field Unix cron in UTC; a pause may have an end, after which the job runs again
 * on its own (computed from the stored end, so it holds across a restart).
 */

/** The jobs a schedule can be seen and changed for (`infer` is another name for `score`). */
export const SCHEDULE_JOBS = ['ingest', 'pipeline', 'score', 'train', 'feed'] as const;
export type ScheduleJob = (typeof SCHEDULE_JOBS)[number];

/** The key of the desired state in the platform's state store. */
export const SCHEDULES_KEY = 'schedules';

/** How many changes the state keeps (for the feed's announcements and `provision --plan`). */
const KEPT_CHANGES = 50;

/** The job a word names, or undefined. */
export function scheduleJobOf(word: string): ScheduleJob | undefined {
  const name = word.toLowerCase();
  if (name === 'infer') return 'score';
  return (SCHEDULE_JOBS as readonly string[]).includes(name) ? (name as ScheduleJob) : undefined;
}

/** What a person set for one job; absent fields follow the default. */
export interface ScheduleOverride {
  /** The cron set with `schedule set` (absent: the configured default). */
  cron?: string;
  /** Paused by `schedule pause`: until an instant (ISO-8601 UTC), or until resumed (null). */
  paused_until?: string | null;
  set_by: string;
  set_at: string;
}

export type ScheduleAction = 'pause' | 'resume' | 'set' | 'reset';

/** One change, as announced in the feed channel (once) and listed by `provision --plan`. */
export interface ScheduleChange {
  id: string;
  job: ScheduleJob;
  action: ScheduleAction;
  /** `set`: the new cron; `reset`: the default it went back to. */
  cron?: string;
  /** `pause` with a duration: when it ends. */
  until?: string;
  by: string;
  at: string;
}

export interface ScheduleState {
  overrides: Partial<Record<ScheduleJob, ScheduleOverride>>;
  /** The latest changes, oldest first. */
  changes: ScheduleChange[];
}

export const EMPTY_SCHEDULE_STATE: ScheduleState = { overrides: {}, changes: [] };

/** A job's schedule now: the cron it runs on, whether it is paused, and who made it differ. */
export interface EffectiveSchedule {
  job: ScheduleJob;
  cron: string;
  default_cron: string;
  paused: boolean;
  /** When a timed pause ends (ISO-8601 UTC); null for a pause until resumed or no pause. */
  paused_until: string | null;
  /** Whether it differs from the configured default (a cron set, or paused). */
  changed: boolean;
  set_by: string | null;
  set_at: string | null;
}

/** The state as stored, or the empty state for nothing or a document of another shape. */
export function scheduleStateOf(stored: unknown): ScheduleState {
  if (!stored || typeof stored !== 'object') return EMPTY_SCHEDULE_STATE;
  const s = stored as Partial<ScheduleState>;
  return {
    overrides: s.overrides && typeof s.overrides === 'object' ? s.overrides : {},
    changes: Array.isArray(s.changes) ? s.changes : [],
  };
}

export function effectiveSchedule(
  job: ScheduleJob,
  defaultCron: string,
  state: ScheduleState,
  now: Date,
): EffectiveSchedule {
  const o = state.overrides[job];
  const until = o?.paused_until;
  const paused =
    o !== undefined && until !== undefined && (until === null || Date.parse(until) > now.getTime());
  const cron = o?.cron ?? defaultCron;
  return {
    job,
    cron,
    default_cron: defaultCron,
    paused,
    paused_until: paused ? (until ?? null) : null,
    changed: paused || cron !== defaultCron,
    set_by: o && (paused || o.cron !== undefined) ? o.set_by : null,
    set_at: o && (paused || o.cron !== undefined) ? o.set_at : null,
  };
}

/** The state after a change (the change appended to the kept ones). */
export function withChange(state: ScheduleState, change: ScheduleChange): ScheduleState {
  const before = state.overrides[change.job];
  const who = { set_by: change.by, set_at: change.at };
  let after: ScheduleOverride | undefined;
  switch (change.action) {
    case 'pause':
      after = { ...before, ...who, paused_until: change.until ?? null };
      break;
    case 'resume':
      // the cron set before (if any) stays; without one nothing differs from the default any more
      after = before?.cron !== undefined ? { cron: before.cron, ...who } : undefined;
      break;
    case 'set':
      after = { ...before, ...who, cron: change.cron as string };
      break;
    case 'reset':
      after = undefined;
      break;
  }
  const overrides = { ...state.overrides };
  if (after) overrides[change.job] = after;
  else delete overrides[change.job];
  return { overrides, changes: [...state.changes, change].slice(-KEPT_CHANGES) };
}

/**
 * The timed pauses that have ended by `now`: the pause change that set each (the job runs again
 * on its own; the feed announces it once).
 */
export function endedPauses(state: ScheduleState, now: Date): ScheduleChange[] {
  const ended: ScheduleChange[] = [];
  for (const change of state.changes) {
    if (change.action !== 'pause' || !change.until || Date.parse(change.until) > now.getTime()) continue;
    // ended by its time, not by a resume, reset or another pause before that time
    const later = state.changes.find(
      (c) =>
        c.job === change.job &&
        c.at > change.at &&
        c.action !== 'set' &&
        Date.parse(c.at) < Date.parse(change.until as string),
    );
    if (!later) ended.push(change);
  }
  return ended;
}

/**
 * When a job last started running on its schedule again after a pause (ms): a resume, a reset, or
 * the end of a timed pause; undefined when it never was paused.
 */
export function lastResumed(state: ScheduleState, job: ScheduleJob, now: Date): number | undefined {
  let latest: number | undefined;
  const later = (t: number) => {
    if (latest === undefined || t > latest) latest = t;
  };
  for (const c of state.changes) {
    if (c.job !== job) continue;
    if (c.action === 'resume' || c.action === 'reset') later(Date.parse(c.at));
  }
  for (const p of endedPauses(state, now)) if (p.job === job) later(Date.parse(p.until as string));
  return latest;
}
