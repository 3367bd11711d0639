import cron from 'node-cron';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cronToQuartz, quartzToCron } from '../../src/domain/quartz.js';

/** The next `count` UTC run times of a cron expression, as node-cron (the scheduler) reckons them. */
function nextRuns(expr: string, count = 20): string[] {
  const task = cron.createTask(expr, () => undefined, { timezone: 'UTC' });
  try {
    return task.getNextRuns(count).map((d) => d.toISOString());
  } finally {
    task.destroy();
  }
}

function quartzOf(expr: string): string {
  const result = cronToQuartz(expr);
  if (!result.ok) throw new Error(`expected a Quartz expression for ${expr}: ${result.problem}`);
  return result.quartz;
}

function cronOf(expr: string): string {
  const result = quartzToCron(expr);
  if (!result.ok) throw new Error(`expected a cron expression for ${expr}: ${result.problem}`);
  return result.cron;
}

function problemOf(result: { ok: true } | { ok: false; problem: string }): string {
  if (result.ok) throw new Error('expected a refusal');
  return result.problem;
}

describe('cronToQuartz', () => {
  it.each([
    ['*/2 * * * *', '0 0/2 * * * ?'],
    ['* * * * *', '0 * * * * ?'],
    ['*/10 * * * *', '0 0/10 * * * ?'],
    ['0 3 * * *', '0 0 3 * * ?'],
    ['0 9 * * 1-5', '0 0 9 ? * 2-6'],
    ['0 0 * * 0', '0 0 0 ? * 1'],
    ['0 0 * * 7', '0 0 0 ? * 1'],
    ['0 0 * * MON-FRI', '0 0 0 ? * 2-6'],
    ['0 0 * * mon-fri', '0 0 0 ? * 2-6'],
    ['0 0 * * 0,6', '0 0 0 ? * 1,7'],
    ['0 0 * * 5-7', '0 0 0 ? * 1,6-7'],
    ['0 0 * * FRI-SUN', '0 0 0 ? * 1,6-7'],
    ['0 0 * * */2', '0 0 0 ? * 1,3,5,7'],
    ['0 0 * * 1-5/2', '0 0 0 ? * 2,4,6'],
    ['0 0 * * 0-6', '0 0 0 * * ?'],
    ['15,45 8-18 * * *', '0 15,45 8-18 * * ?'],
    ['5-50/15 */3 * * *', '0 5-50/15 0/3 * * ?'],
    ['30 6 */5 * *', '0 30 6 1/5 * ?'],
    ['0 12 1,15 * *', '0 0 12 1,15 * ?'],
    ['0 0 1 */3 *', '0 0 0 1 1/3 ?'],
    ['0 0 1 jan,Jul *', '0 0 0 1 JAN,JUL ?'],
    ['0 0 * JAN-3 *', '0 0 0 * 1-3 ?'],
    ['  0   3 * * *  ', '0 0 3 * * ?'],
  ])('%s → %s', (input, quartz) => {
    expect(cronToQuartz(input)).toEqual({ ok: true, quartz });
  });

  it('refuses a day of the month together with a weekday, in a sentence', () => {
    const problem = problemOf(cronToQuartz('0 9 1 * 1'));
    expect(problem).toMatch(
      /^Databricks \(Quartz\) schedules cannot restrict both the day of the month and the weekday: /,
    );
    expect(problem).toContain('`0 9 1 * 1`');
    expect(problem).toMatch(/\.$/);
  });

  it('refuses 6 fields (a seconds field), asking for 5', () => {
    const problem = problemOf(cronToQuartz('0 */2 * * * *'));
    expect(problem).toContain('6 fields');
    expect(problem).toContain('5 fields');
  });

  it.each([
    ['60 * * * *', 'minute', 'out of range'],
    ['0 24 * * *', 'hour', 'out of range'],
    ['0 0 0 * *', 'day-of-month', 'out of range'],
    ['0 0 32 * *', 'day-of-month', 'out of range'],
    ['0 0 * 13 *', 'month', 'out of range'],
    ['0 0 * * 8', 'day-of-week', 'out of range'],
    ['*/0 * * * *', 'minute', 'step of 0'],
    ['*/60 * * * *', 'minute', 'step of 60'],
    ['5/15 * * * *', 'minute', 'single value'],
    ['30-10 * * * *', 'minute', 'starts after it ends'],
    ['0 0 * * FUNDAY', 'day-of-week', 'not understood'],
    ['0 0 L * *', 'day-of-month', 'not understood'],
    ['0 0 * * 5#2', 'day-of-week', 'not understood'],
    ['a b c d e', 'minute', 'not understood'],
    ['1-*/2 * * * *', 'minute', 'not understood'],
    ['0 0 1,,2 * *', 'day-of-month', 'not understood'],
  ])('refuses %s naming the %s field (%s)', (input, field, why) => {
    const problem = problemOf(cronToQuartz(input));
    expect(problem).toContain(`The ${field} field`);
    expect(problem).toContain(why);
    expect(problem).toMatch(/^[A-Z].*\.$/);
  });

  it.each(['', 'garbage', '* * * *', '@daily', '* * * * * * *'])('refuses %j as not 5 fields', (input) => {
    expect(problemOf(cronToQuartz(input))).toMatch(/5 fields.*\.$/);
  });
});

describe('quartzToCron', () => {
  it.each([
    ['0 0/2 * * * ?', '*/2 * * * *'],
    ['0 * * * * ?', '* * * * *'],
    ['0 0/10 * * * ?', '*/10 * * * *'],
    ['0 0 3 * * ?', '0 3 * * *'],
    ['0 0 9 ? * 2-6', '0 9 * * 1-5'],
    ['0 0 0 ? * 1', '0 0 * * 0'],
    ['0 0 0 ? * 7', '0 0 * * 6'],
    ['0 0 0 ? * MON-FRI', '0 0 * * MON-FRI'],
    ['0 0 0 ? * sun,sat', '0 0 * * SUN,SAT'],
    ['0 0 0 ? * 1,6-7', '0 0 * * 0,5-6'],
    ['0 0 0 ? * 2/2', '0 0 * * 1-6/2'],
    ['0 0 0 ? * 1/3', '0 0 * * */3'],
    ['0 0 0 ? * MON/2', '0 0 * * MON-SAT/2'],
    ['0 5/15 * * * ?', '5-59/15 * * * *'],
    ['0 0 2/6 * * ?', '0 2-23/6 * * *'],
    ['0 0 0 1/5 * ?', '0 0 */5 * *'],
    ['0 0 0 3/5 * ?', '0 0 3-31/5 * *'],
    ['0 0 0 1 1/3 ?', '0 0 1 */3 *'],
    ['0 0 0 1 2/3 ?', '0 0 1 2-12/3 *'],
    ['0 0 0 1 JAN,JUL ?', '0 0 1 JAN,JUL *'],
    ['0 0 0 * * ?', '0 0 * * *'],
    ['0 0 0 ? * *', '0 0 * * *'],
    ['0 */5 * * * ?', '*/5 * * * *'],
    ['0 0 12 * * ? *', '0 12 * * *'],
    ['00 0 12 * * ?', '0 12 * * *'],
  ])('%s → %s', (input, expected) => {
    expect(quartzToCron(input)).toEqual({ ok: true, cron: expected });
    expect(cron.validate(expected)).toBe(true);
  });

  it.each([
    ['0 0 0 L * ?', 'L, W or #'],
    ['0 0 0 LW * ?', 'L, W or #'],
    ['0 0 0 15W * ?', 'L, W or #'],
    ['0 0 0 L-3 * ?', 'L, W or #'],
    ['0 0 0 ? * 6L', 'L, W or #'],
    ['0 0 0 ? * FRI#2', 'L, W or #'],
    ['0 0 0 ? * 2#1', 'L, W or #'],
    ['30 0 12 * * ?', 'second `30`'],
    ['*/10 * * * * ?', 'minute resolution'],
    ['0 0 12 * * ? 2030', 'year `2030`'],
    ['0 0 12 * * * ?', 'year `?`'],
    ['0 0 12 1 * 2', 'exactly one of day-of-month and day-of-week'],
    ['0 0 12 ? * ?', 'exactly one of day-of-month and day-of-week'],
    ['0 0 12 ? * 0', 'The day-of-week field `0` is out of range'],
    ['0 0 12 ? * 8', 'The day-of-week field `8` is out of range'],
    ['0 60 12 * * ?', 'The minute field `60` is out of range'],
    ['0 0 0 0/2 * ?', 'The day-of-month field `0/2` is out of range'],
    ['0 0 22-2 * * ?', 'starts after it ends'],
    ['0 0 12 * *', '6 or 7 fields'],
    ['garbage', '6 or 7 fields'],
    ['0 x 12 * * ?', 'The minute field `x` is not understood'],
  ])('refuses %s (%s)', (input, why) => {
    const problem = problemOf(quartzToCron(input));
    expect(problem).toContain(why);
    expect(problem).toMatch(/^[A-Z`].*\.$/);
  });
});

describe('round trips keep the run times', () => {
  beforeAll(() => {
    // A fixed clock: both expressions' next runs are reckoned from the same instant, just before a leap day.
    vi.useFakeTimers({ now: new Date('2028-02-28T23:58:30Z'), toFake: ['Date'] });
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  it.each([
    '*/2 * * * *',
    '* * * * *',
    '*/10 * * * *',
    '0 3 * * *',
    '0 9 * * 1-5',
    '0 0 * * 0',
    '0 0 * * 7',
    '0 0 * * MON-FRI',
    '0 22 * * 5-7',
    '0 0 * * FRI-SUN',
    '0 6 * * */2',
    '0 8 * * 1-5/2',
    '15,45 8-18 * * *',
    '5-50/15 */3 * * *',
    '30 6 */5 * *',
    '0 12 1,15 * *',
    '0 0 29 2 *',
    '10 4 10-20/3 */2 *',
    '0 0 * MAR-NOV/2 sun',
    '0 0 1 jan,jul *',
    '0 0 1 * 0-6',
  ])('%s', (expr) => {
    const back = cronOf(quartzOf(expr));
    expect(cron.validate(back)).toBe(true);
    const runs = nextRuns(expr);
    expect(runs).toHaveLength(20);
    expect(nextRuns(back)).toEqual(runs);
  });

  it('sees a difference in run times (the comparison can fail)', () => {
    expect(nextRuns('0 9 * * 1-5')).not.toEqual(nextRuns('0 9 * * 2-6'));
  });
});
