import { describe, expect, it } from 'vitest';
import { scheduleTokens } from '../../src/commands/schedule.js';
import {
  EMPTY_SCHEDULE_STATE,
  effectiveSchedule,
  endedPauses,
  type ScheduleChange,
  type ScheduleState,
  scheduleJobOf,
  scheduleStateOf,
  withChange,
} from '../../src/domain/schedules.js';

const at = (iso: string) => new Date(iso);
let n = 0;
const change = (c: Omit<ScheduleChange, 'id' | 'by'> & { by?: string }): ScheduleChange => ({
  id: `c${++n}`,
  by: 'U0OPS01',
  ...c,
});

describe('the desired schedules', () => {
  it('follow the default until changed, and say who changed them when', () => {
    expect(
      effectiveSchedule('score', '*/10 * * * *', EMPTY_SCHEDULE_STATE, at('2025-01-01T00:00:00Z')),
    ).toEqual({
      job: 'score',
      cron: '*/10 * * * *',
      default_cron: '*/10 * * * *',
      paused: false,
      paused_until: null,
      changed: false,
      set_by: null,
      set_at: null,
    });
    const set = withChange(
      EMPTY_SCHEDULE_STATE,
      change({ job: 'score', action: 'set', cron: '*/5 * * * *', at: '2025-01-01T00:00:00.000Z' }),
    );
    expect(effectiveSchedule('score', '*/10 * * * *', set, at('2025-01-01T01:00:00Z'))).toMatchObject({
      cron: '*/5 * * * *',
      changed: true,
      paused: false,
      set_by: 'U0OPS01',
      set_at: '2025-01-01T00:00:00.000Z',
    });
  });

  it('keep a set cron through a pause and its resume; reset drops both', () => {
    let s: ScheduleState = EMPTY_SCHEDULE_STATE;
    s = withChange(
      s,
      change({ job: 'train', action: 'set', cron: '0 4 * * *', at: '2025-01-01T00:00:00.000Z' }),
    );
    s = withChange(s, change({ job: 'train', action: 'pause', at: '2025-01-01T00:10:00.000Z' }));
    const now = at('2025-01-02T00:00:00Z');
    expect(effectiveSchedule('train', '0 3 * * *', s, now)).toMatchObject({
      cron: '0 4 * * *',
      paused: true,
      paused_until: null,
    });
    s = withChange(s, change({ job: 'train', action: 'resume', at: '2025-01-02T00:00:00.000Z' }));
    expect(effectiveSchedule('train', '0 3 * * *', s, now)).toMatchObject({
      cron: '0 4 * * *',
      paused: false,
    });
    s = withChange(
      s,
      change({ job: 'train', action: 'reset', cron: '0 3 * * *', at: '2025-01-02T00:01:00.000Z' }),
    );
    expect(s.overrides).toEqual({});
    expect(effectiveSchedule('train', '0 3 * * *', s, now)).toMatchObject({
      cron: '0 3 * * *',
      changed: false,
    });
    expect(s.changes.map((c) => c.action)).toEqual(['set', 'pause', 'resume', 'reset']);
  });

  it('end a timed pause at its time, and count it as ended only when nothing ended it before', () => {
    let s: ScheduleState = EMPTY_SCHEDULE_STATE;
    s = withChange(
      s,
      change({
        job: 'score',
        action: 'pause',
        until: '2025-01-01T02:00:00.000Z',
        at: '2025-01-01T00:00:00.000Z',
      }),
    );
    expect(effectiveSchedule('score', '*/10 * * * *', s, at('2025-01-01T01:59:00Z')).paused).toBe(true);
    expect(endedPauses(s, at('2025-01-01T01:59:00Z'))).toEqual([]);
    expect(effectiveSchedule('score', '*/10 * * * *', s, at('2025-01-01T02:00:00Z')).paused).toBe(false);
    expect(endedPauses(s, at('2025-01-01T02:00:00Z')).map((c) => c.job)).toEqual(['score']);
    // Resumed by hand before its time: not an end of its own.
    const resumed = withChange(s, change({ job: 'score', action: 'resume', at: '2025-01-01T01:00:00.000Z' }));
    expect(endedPauses(resumed, at('2025-01-01T03:00:00Z'))).toEqual([]);
  });

  it('reads a stored document of another shape as no changes', () => {
    expect(scheduleStateOf(undefined)).toEqual(EMPTY_SCHEDULE_STATE);
    expect(scheduleStateOf('garbage')).toEqual(EMPTY_SCHEDULE_STATE);
    expect(scheduleStateOf({ overrides: 3, changes: 'x' })).toEqual(EMPTY_SCHEDULE_STATE);
  });

  it('keeps the latest 50 changes', () => {
    let s: ScheduleState = EMPTY_SCHEDULE_STATE;
    for (let i = 0; i < 60; i++)
      s = withChange(
        s,
        change({ job: 'feed', action: 'pause', at: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString() }),
      );
    expect(s.changes).toHaveLength(50);
    expect(s.changes[0]?.at).toBe('2025-01-01T00:10:00.000Z');
  });
});

describe('the schedule grammar', () => {
  it('reads each verb, its job (infer is score) and its argument', () => {
    expect(scheduleTokens([])).toEqual({ ok: true, args: { list: true } });
    expect(scheduleTokens(['pause', 'infer', '2h'])).toEqual({
      ok: true,
      args: { list: false, request: { action: 'pause', job: 'score', durationMs: 7_200_000 } },
    });
    expect(scheduleTokens(['PAUSE', 'Train'])).toEqual({
      ok: true,
      args: { list: false, request: { action: 'pause', job: 'train' } },
    });
    expect(scheduleTokens(['set', 'ingest', '*/5', '*', '*', '*', '*'])).toEqual({
      ok: true,
      args: { list: false, request: { action: 'set', job: 'ingest', cron: '*/5 * * * *' } },
    });
    expect(scheduleTokens(['reset', 'feed'])).toEqual({
      ok: true,
      args: { list: false, request: { action: 'reset', job: 'feed' } },
    });
    expect(scheduleJobOf('pipeline')).toBe('pipeline');
  });

  it('answers a sentence for anything else', () => {
    const problemOf = (tokens: string[]) => {
      const r = scheduleTokens(tokens);
      return r.ok ? undefined : r.problem;
    };
    expect(problemOf(['stop', 'score'])).toMatch(/pause, resume, set or reset/);
    expect(problemOf(['pause'])).toMatch(/needs a job/);
    expect(problemOf(['pause', 'model'])).toMatch(/not a job with a schedule/);
    expect(problemOf(['pause', 'score', 'forever'])).toMatch(/like 30m, 2h or 1d/);
    expect(problemOf(['pause', 'score', '31d'])).toMatch(/at most 30d/);
    expect(problemOf(['set', 'score'])).toMatch(/needs a cron expression/);
    expect(problemOf(['resume', 'score', 'now'])).toMatch(/takes nothing after the job/);
  });
});
