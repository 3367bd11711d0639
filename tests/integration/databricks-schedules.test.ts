import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { scheduleListReply } from '../../src/commands/schedule.js';
import { SCHEDULES_KEY } from '../../src/domain/schedules.js';
import { createSchedules, type Schedules } from '../../src/jobs/schedules.js';
import { JOB_NAMES } from '../../src/platform/databricks/resources.js';
import { type DatabricksHarness, startDatabricksHarness } from '../support/databricks-harness.js';
import { testConfig } from '../support/lakehouse.js';

/**
 * Schedules on Databricks: a change goes to the job through the Jobs API (jobs/update with the
 * cron as Quartz and the pause as pause_status), is stored in the volume, and `provision --apply`
 * keeps it (its plan names it, with who set it when); a cron Quartz cannot express is refused with
 * a sentence before anything is called; the pipeline has no schedule of its own there.
 */

let h: DatabricksHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const schedulesOf = (harness: DatabricksHarness, platform = harness.platform): Schedules =>
  createSchedules({ platform, schedule: testConfig().schedule, clock: systemClock, logger: harness.logger });

const scheduleOfJob = (harness: DatabricksHarness, name: string) =>
  harness.api.jobs().find((j) => j.settings.name === name)?.settings.schedule as
    | { quartz_cron_expression?: string; timezone_id?: string; pause_status?: string }
    | undefined;

const updates = (harness: DatabricksHarness, since: number) =>
  harness.api.calls.slice(since).filter((c) => c.method === 'POST' && c.path === '/api/2.2/jobs/update');

describe('schedules on Databricks', () => {
  it('pauses, sets and resets the jobs through the Jobs API, and a second provision --apply keeps them', async () => {
    h = await startDatabricksHarness();
    await h.platform.deployment.provision(true);
    expect(scheduleOfJob(h, JOB_NAMES.score)).toMatchObject({
      quartz_cron_expression: '0 0/10 * * * ?',
      pause_status: 'UNPAUSED',
    });
    const schedules = schedulesOf(h);
    expect(schedules.jobs).toEqual(['ingest', 'score', 'train', 'feed']);

    let since = h.api.calls.length;
    await schedules.change({ action: 'pause', job: 'score', durationMs: 2 * 3_600_000 }, 'U0OPS01');
    expect(updates(h, since)).toHaveLength(1);
    expect(scheduleOfJob(h, JOB_NAMES.score)).toEqual({
      quartz_cron_expression: '0 0/10 * * * ?',
      timezone_id: 'UTC',
      pause_status: 'PAUSED',
    });
    since = h.api.calls.length;
    await schedules.change({ action: 'set', job: 'train', cron: '30 4 * * 1-5' }, 'U0OPS01');
    expect(updates(h, since)).toHaveLength(1);
    expect(scheduleOfJob(h, JOB_NAMES.train)).toEqual({
      quartz_cron_expression: '0 30 4 ? * 2-6',
      timezone_id: 'UTC',
      pause_status: 'UNPAUSED',
    });
    // The listing shows what the Jobs API has, as cron.
    const listed = scheduleListReply(await schedules.list(), 'databricks');
    expect(listed.notes).toContain(
      'train on Databricks now: `30 4 * * 1-5` (Quartz `0 30 4 ? * 2-6`), running.',
    );
    expect(listed.notes).toContain(
      'score on Databricks now: `*/10 * * * *` (Quartz `0 0/10 * * * ?`), paused.',
    );
    const rows = await schedules.list();
    expect(rows.find((r) => r.job === 'train')?.databricks).toEqual({
      quartz_cron_expression: '0 30 4 ? * 2-6',
      pause_status: 'UNPAUSED',
    });
    // Stored in the volume, where the command line (another process) finds it.
    expect(await h.newPlatform().pipeline.state.get(SCHEDULES_KEY)).toMatchObject({
      overrides: { score: { set_by: 'U0OPS01' }, train: { cron: '30 4 * * 1-5' } },
    });

    // provision (the command line's own platform, started afresh) keeps both and says who set them.
    const fresh = h.newPlatform();
    const plan = await fresh.deployment.provision(false);
    expect(plan.items.filter((i) => i.kind === 'job').map((i) => i.action)).toEqual([
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    const kept = plan.items.filter((i) => i.kind === 'schedule');
    expect(kept.map((i) => i.name)).toEqual(['score', 'train']);
    expect(kept[0]?.detail).toMatch(/paused until \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC, by U0OPS01 at /);
    expect(kept[1]?.detail).toContain('runs on 30 4 * * 1-5 (default 0 3 * * *), by U0OPS01');
    since = h.api.calls.length;
    await fresh.deployment.provision(true);
    expect(h.api.calls.slice(since).filter((c) => c.path === '/api/2.2/jobs/reset')).toEqual([]);
    expect(scheduleOfJob(h, JOB_NAMES.score)?.pause_status).toBe('PAUSED');
    expect(scheduleOfJob(h, JOB_NAMES.train)?.quartz_cron_expression).toBe('0 30 4 ? * 2-6');

    // A schedule edited in the UI is drift: apply puts the chat's back.
    await fetch(`${h.api.url}/api/2.2/jobs/update`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        job_id: h.api.jobs().find((j) => j.settings.name === JOB_NAMES.train)?.job_id,
        new_settings: { schedule: { quartz_cron_expression: '0 0 5 * * ?', timezone_id: 'UTC' } },
      }),
    });
    expect(scheduleListReply(await schedules.list(), 'databricks').notes).toContain(
      'train on Databricks now: `0 5 * * *` (Quartz `0 0 5 * * ?`), running: not as set here (edited in the workspace?); `provision --apply` puts it back.',
    );
    await fresh.deployment.provision(true);
    expect(scheduleOfJob(h, JOB_NAMES.train)?.quartz_cron_expression).toBe('0 30 4 ? * 2-6');

    // Resume and reset: back to the defaults, and provision lists nothing as set from chat.
    await schedules.change({ action: 'resume', job: 'score' }, 'U0OPS02');
    await schedules.change({ action: 'reset', job: 'train' }, 'U0OPS02');
    expect(scheduleOfJob(h, JOB_NAMES.score)?.pause_status).toBe('UNPAUSED');
    expect(scheduleOfJob(h, JOB_NAMES.train)?.quartz_cron_expression).toBe('0 0 3 * * ?');
    const after = await h.newPlatform().deployment.provision(false);
    expect(after.items.filter((i) => i.kind === 'schedule')).toEqual([]);
    expect(after.items.filter((i) => i.kind === 'job').every((i) => i.action === 'unchanged')).toBe(true);
  }, 120_000);

  it('refuses a cron Quartz cannot express, and the pipeline, with a sentence and no call', async () => {
    h = await startDatabricksHarness();
    await h.platform.deployment.provision(true);
    const schedules = schedulesOf(h);
    const since = h.api.calls.length;
    await expect(
      schedules.change({ action: 'set', job: 'train', cron: '0 3 1 * 1' }, 'U0OPS01'),
    ).rejects.toThrow(/cannot restrict both the day of the month and the weekday/);
    await expect(schedules.change({ action: 'pause', job: 'pipeline' }, 'U0OPS01')).rejects.toThrow(
      /first task of every score run/,
    );
    expect(h.api.calls.slice(since).filter((c) => c.method !== 'GET')).toEqual([]);
    expect(await h.platform.pipeline.state.get(SCHEDULES_KEY)).toBeUndefined();
  }, 60_000);

  it('keeps a change the Jobs API refused for now, says so, and applies it on the next refresh', async () => {
    h = await startDatabricksHarness();
    await h.platform.deployment.provision(true);
    const schedules = schedulesOf(h);
    h.api.fault('POST /api/2.2/jobs/update', {
      kind: 'status',
      status: 403,
      errorCode: 'PERMISSION_DENIED',
      message: 'User does not have Can Manage on job',
    });
    const made = await schedules.change({ action: 'pause', job: 'train' }, 'U0OPS01');
    expect(made.note).toMatch(/^The change is stored, but the Databricks job could not be updated yet/);
    expect(scheduleOfJob(h, JOB_NAMES.train)?.pause_status).toBe('UNPAUSED');
    expect((await schedules.effective()).find((s) => s.job === 'train')?.paused).toBe(true);
    await schedules.refresh();
    expect(scheduleOfJob(h, JOB_NAMES.train)?.pause_status).toBe('PAUSED');
  }, 60_000);

  it('ends a timed pause on the Jobs API once it is over (the bot refreshes the schedules)', async () => {
    let now = new Date('2025-02-01T00:00:00Z');
    h = await startDatabricksHarness({ clock: { now: () => now } });
    await h.platform.deployment.provision(true);
    const schedules = createSchedules({
      platform: h.platform,
      schedule: testConfig().schedule,
      clock: { now: () => now },
      logger: h.logger,
    });
    await schedules.change({ action: 'pause', job: 'score', durationMs: 30 * 60_000 }, 'U0OPS01');
    expect(scheduleOfJob(h, JOB_NAMES.score)?.pause_status).toBe('PAUSED');
    await schedules.refresh();
    expect(scheduleOfJob(h, JOB_NAMES.score)?.pause_status).toBe('PAUSED');
    now = new Date('2025-02-01T00:31:00Z');
    // A restarted bot (a new Schedules) refreshes too.
    const restarted = createSchedules({
      platform: h.newPlatform(),
      schedule: testConfig().schedule,
      clock: { now: () => now },
      logger: h.logger,
    });
    await restarted.refresh();
    expect(scheduleOfJob(h, JOB_NAMES.score)?.pause_status).toBe('UNPAUSED');
  }, 60_000);
});
