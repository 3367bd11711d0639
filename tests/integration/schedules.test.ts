import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cron from 'node-cron';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { SCHEDULES_KEY } from '../../src/domain/schedules.js';
import { startMainJob } from '../../src/jobs/main-job.js';
import { createSchedules, nextRuns, type Schedules } from '../../src/jobs/schedules.js';
import { simulatorSource } from '../../src/market/sources.js';
import { createTestLakehouse, type TestLakehouse, testConfig } from '../support/lakehouse.js';
import { memoryLogger } from '../support/memory-logger.js';
import { ask, CHANNEL, type Harness, OPS, startHarness, VIEWER } from '../support/slack-bot-harness.js';
import {
  startTeamsHarness,
  OPS as TEAMS_OPS,
  VIEWER as TEAMS_VIEWER,
  type TeamsHarness,
} from '../support/teams-bot-harness.js';
import { personalConversationId, type StoredMessage } from '../support/teams-emulator.js';
import { sleep, until } from '../support/until.js';

/**
 * Schedules from chat and the command line on the embedded default: the scheduler really stops and
 * starts a job and takes a new cron without a restart; a timed pause ends on its own, across a
 * restart; each change is confirmed (a one-shot button in Slack and Teams, --yes on the command
 * line), audited and announced once in the feed channel; a viewer is refused before anything runs.
 */

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

describe('the scheduler under the stored schedules (local)', () => {
  // Ingest every second (node-cron's seconds field), so its runs can be counted in a test.
  const config = testConfig({ SCHEDULE_INGEST: '* * * * * *', SIMULATOR_HISTORY_HOURS: '1' });

  async function start(lake: TestLakehouse, schedules: Schedules, lines: string[], feedRuns: string[] = []) {
    const { logger } = memoryLogger();
    const main = await startMainJob({
      platform: lake.platform,
      clock: lake.clock,
      logger,
      source: simulatorSource({
        state: lake.platform.pipeline.state,
        assets: config.market.assets,
        simulator: config.market.simulator,
      }),
      schedule: config.schedule,
      schedules,
      print: (line) => lines.push(line),
      // A feed that only counts its cycles (hourly: it runs by the first round and by hand only).
      extraJobs: [
        {
          name: 'feed',
          cron: '0 * * * *',
          run: async () => {
            feedRuns.push(lake.clock.now().toISOString());
            return undefined;
          },
        },
      ],
    });
    closers.push(() => main.stop());
    return main;
  }
  /** A lakehouse at 2025-02-01 00:00 UTC and the schedules over it. */
  async function newLake() {
    const lake = await createTestLakehouse('2025-02-01T00:00:00Z', config.model);
    closers.push(() => lake.close());
    const { logger } = memoryLogger();
    const schedules = createSchedules({
      platform: lake.platform,
      schedule: config.schedule,
      clock: lake.clock,
      logger,
    });
    return { lake, schedules };
  }
  const ingests = (lines: string[]) => lines.filter((l) => / ingest: /.test(l)).length;
  /** Ingest runs in this many ms (the job runs every second unless paused). */
  async function runsDuring(lines: string[], ms: number): Promise<number> {
    const before = ingests(lines);
    await sleep(ms);
    return ingests(lines) - before;
  }
  const ingestTasks = () =>
    [...cron.getTasks().values()].filter((t) => t.name === 'ingest' && t.getStatus() !== 'destroyed');

  it('stops a paused job, runs it again once resumed, and takes a new cron without a restart', async () => {
    const { lake, schedules } = await newLake();
    const lines: string[] = [];
    await start(lake, schedules, lines);
    await until(() => ingests(lines) >= 2, 10_000);

    await schedules.change({ action: 'pause', job: 'ingest' }, OPS);
    await sleep(1_100); // a run that had started finishes
    expect(await runsDuring(lines, 2_500)).toBe(0);
    expect((await schedules.list()).find((r) => r.job === 'ingest')).toMatchObject({
      paused: true,
      paused_until: null,
      set_by: OPS,
      next_runs: [],
    });

    await schedules.change({ action: 'resume', job: 'ingest' }, OPS);
    expect(await runsDuring(lines, 2_500)).toBeGreaterThanOrEqual(1);

    // A new cron: the every-second trigger is replaced by one on the new schedule.
    await schedules.change({ action: 'set', job: 'ingest', cron: '0 0 1 1 *' }, OPS);
    await sleep(1_100);
    expect(await runsDuring(lines, 2_500)).toBe(0);
    const tasks = ingestTasks();
    expect(tasks.map((t) => t.getPattern())).toEqual(['0 0 1 1 *']);
    expect(tasks[0]?.getNextRun()?.toISOString()).toBe(nextRuns('0 0 1 1 *', 1)[0]);

    // Back to the configured default: every second again.
    await schedules.change({ action: 'reset', job: 'ingest' }, OPS);
    expect(await runsDuring(lines, 2_500)).toBeGreaterThanOrEqual(1);
    expect(ingestTasks().map((t) => t.getPattern())).toEqual(['* * * * * *']);
    expect(await lake.platform.pipeline.state.get(SCHEDULES_KEY)).toMatchObject({ overrides: {} });
  }, 60_000);

  it('runs the feed once more when it is paused, so the channel hears of it', async () => {
    const { lake, schedules } = await newLake();
    const feedRuns: string[] = [];
    await start(lake, schedules, [], feedRuns);
    expect(feedRuns).toHaveLength(1); // the first round
    await schedules.change({ action: 'pause', job: 'feed' }, OPS);
    await until(() => feedRuns.length === 2);
    await schedules.change({ action: 'set', job: 'feed', cron: '*/5 * * * *' }, OPS);
    await sleep(500);
    expect(feedRuns).toHaveLength(2);
  }, 60_000);

  it('ends a timed pause on its own, across a restart', async () => {
    const { lake } = await newLake();
    const { logger } = memoryLogger();
    const schedules = () =>
      createSchedules({ platform: lake.platform, schedule: config.schedule, clock: lake.clock, logger });
    const first: string[] = [];
    const main = await start(lake, schedules(), first);
    await until(() => ingests(first) >= 1, 10_000);
    const paused = schedules();
    await paused.change({ action: 'pause', job: 'ingest', durationMs: 30 * 60_000 }, OPS);
    await main.stop();

    // Restarted during the pause: no first-round ingest, no scheduled one.
    lake.setNow('2025-02-01T00:20:00Z');
    const second: string[] = [];
    const during = await start(lake, schedules(), second);
    expect(await runsDuring(second, 2_500)).toBe(0);
    expect(second.some((l) => / ingest: /.test(l))).toBe(false);
    await during.stop();

    // Restarted after it: ingest runs at once and on its schedule.
    lake.setNow('2025-02-01T00:31:00Z');
    const third: string[] = [];
    await start(lake, schedules(), third);
    expect(ingests(third)).toBeGreaterThanOrEqual(1);
    expect(await runsDuring(third, 2_500)).toBeGreaterThanOrEqual(1);
    expect((await schedules().effective()).find((s) => s.job === 'ingest')).toMatchObject({ paused: false });
  }, 60_000);
});

describe('schedule in Slack', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const announcements = (harness: Harness) =>
    harness.slack
      .channelMessages(CHANNEL)
      .filter((m) => String(m.metadata?.event_payload.incident ?? '').startsWith('schedule|'));

  it('lists every job to anyone, with its cron, state, last and next runs', async () => {
    h = await startHarness({ hours: 3 });
    const list = await ask(h, VIEWER, 'schedule', 'Schedules');
    for (const job of ['ingest', 'pipeline', 'score', 'train', 'feed']) expect(list).toContain(job);
    expect(list).toContain('*/10 * * * *');
    expect(list).toContain('Every job runs on its configured schedule.');
  });

  it('pauses a job for an ops user after the confirmation: audited, announced once, ended on time', async () => {
    h = await startHarness({ hours: 3 });
    const preview = await ask(h, OPS, 'schedule pause score 2h', 'schedule_confirm');
    expect(preview).toContain('pause score for 2h?');
    expect(preview).toContain('paused until 2025-02-01 02:00 UTC');
    // Asking changed nothing yet.
    expect((await h.schedules.effective()).find((s) => s.job === 'score')?.paused).toBe(false);

    const click = () =>
      h?.slack.clickButton({
        userId: OPS,
        channelId: CHANNEL,
        actionId: 'schedule_confirm',
        ephemeral: true,
      });
    // Two quick clicks of the one button (a double click, a replay): one change.
    const clicks = await Promise.all([click(), click()]);
    expect(clicks.map((c) => c?.status)).toEqual([200, 200]);
    // The answer takes the question's place.
    await until(() => h?.slack.ephemeral(OPS).some((m) => m.text.startsWith('🗓️ score: paused')));
    expect(h.slack.ephemeral(OPS).filter((m) => JSON.stringify(m).includes('schedule_confirm'))).toEqual([]);
    await ask(h, OPS, 'schedule', '1 job differs from the configured schedule: score.');
    // status says why scoring is quiet.
    await ask(h, VIEWER, 'status', 'Schedule: score is paused until 2025-02-01 02:00 UTC (by U0OPS01');
    expect((await h.schedules.effective()).find((s) => s.job === 'score')).toMatchObject({
      paused: true,
      paused_until: '2025-02-01T02:00:00.000Z',
      set_by: OPS,
    });
    expect(h.audits()).toContainEqual(
      expect.objectContaining({
        who: OPS,
        what: 'schedule pause score for 2h',
        result: expect.stringMatching(/^done: /),
      }),
    );
    await until(() => h?.audits().find((a) => /confirmation used, expired/.test(a.result)));
    expect((await h.schedules.state()).changes).toHaveLength(1);

    // The feed channel is told once, also by a restarted bot; the end is told once it has passed.
    await h.bot.feed.runOnce();
    await h.bot.feed.runOnce();
    const restarted = await h.make();
    await restarted.feed.runOnce();
    expect(announcements(h).map((m) => m.text)).toEqual([
      '🗓️ Schedule changed: score paused until 2025-02-01 02:00 UTC (it resumes on its own) by @U0OPS01.',
    ]);
    h.lake.setNow('2025-02-01T02:01:00Z');
    expect((await h.schedules.effective()).find((s) => s.job === 'score')?.paused).toBe(false);
    await h.bot.feed.runOnce();
    await restarted.feed.runOnce();
    expect(announcements(h).map((m) => m.text)).toEqual([
      '🗓️ Schedule changed: score paused until 2025-02-01 02:00 UTC (it resumes on its own) by @U0OPS01.',
      '🗓️ Schedule resumed: score runs on its schedule again: its pause ended at 2025-02-01 02:00 UTC.',
    ]);
  });

  it('does not call a paused ingest stale, and counts its intervals again from the resume', async () => {
    // Ingest every 2 minutes: stale after three intervals.
    h = await startHarness({ hours: 3, staleAfterMs: 6 * 60_000 });
    const stale = () =>
      h?.slack
        .channelMessages(CHANNEL)
        .filter((m) => String(m.metadata?.event_payload.incident ?? '').startsWith('stale|')) ?? [];
    await h.schedules.change({ action: 'pause', job: 'ingest' }, OPS);
    h.lake.setNow('2025-02-01T00:30:00Z');
    await h.bot.feed.runOnce();
    expect(stale()).toEqual([]);
    await h.schedules.change({ action: 'resume', job: 'ingest' }, OPS);
    h.lake.setNow('2025-02-01T00:35:00Z');
    await h.bot.feed.runOnce();
    expect(stale()).toEqual([]);
    // Still nothing lands three intervals after the resume: that is stale.
    h.lake.setNow('2025-02-01T00:37:00Z');
    await h.bot.feed.runOnce();
    expect(stale()).toHaveLength(1);
  });

  it('counts stale ingestion in the intervals of a cron set from chat', async () => {
    h = await startHarness({ hours: 3, staleAfterMs: 6 * 60_000 });
    const stale = () =>
      h?.slack
        .channelMessages(CHANNEL)
        .filter((m) => String(m.metadata?.event_payload.incident ?? '').startsWith('stale|')) ?? [];
    // Hourly instead of every 2 minutes: stale after three hours, not six minutes.
    await h.schedules.change({ action: 'set', job: 'ingest', cron: '0 * * * *' }, OPS);
    h.lake.setNow('2025-02-01T02:00:00Z');
    await h.bot.feed.runOnce();
    expect(stale()).toEqual([]);
    h.lake.setNow('2025-02-01T03:01:00Z');
    await h.bot.feed.runOnce();
    expect(stale()).toHaveLength(1);
  });

  it('shows a new cron’s next three runs before confirming, and refuses a cron that is not one', async () => {
    h = await startHarness({ hours: 3 });
    const preview = await ask(h, OPS, 'schedule set train 30 4 * * 1-5', 'schedule_confirm');
    for (const run of nextRuns('30 4 * * 1-5', 3)) expect(preview).toContain(`${run.slice(0, 10)} 04:30 UTC`);
    await h.slack.clickButton({
      userId: OPS,
      channelId: CHANNEL,
      actionId: 'schedule_confirm',
      ephemeral: true,
    });
    await until(
      async () => (await h?.schedules.effective())?.find((s) => s.job === 'train')?.cron === '30 4 * * 1-5',
    );

    const before = await h.schedules.state();
    const wrong = await ask(h, OPS, 'schedule set train 61 * * * *', 'not a cron expression');
    expect(wrong).toContain('five fields');
    expect(await ask(h, OPS, 'schedule resume train', 'not paused')).toContain('nothing was changed');
    expect(await ask(h, OPS, 'schedule pause nothing', 'not a job')).toContain(
      'ingest, pipeline, score, train, feed',
    );
    expect(await h.schedules.state()).toEqual(before);
  });

  it('refuses a viewer: no confirmation, no change, no platform call, an audit line', async () => {
    h = await startHarness({ hours: 3 });
    const callsBefore = h.calls.length;
    const answer = await ask(h, VIEWER, 'schedule pause ingest', 'Only the ops team');
    expect(answer).not.toContain('schedule_confirm');
    expect(h.calls.slice(callsBefore)).toEqual([]);
    expect((await h.schedules.state()).changes).toEqual([]);
    expect(h.audits()).toContainEqual(
      expect.objectContaining({
        who: VIEWER,
        what: 'schedule pause ingest (request)',
        result: 'refused: not an ops user',
      }),
    );
  });
});

describe('schedule in Teams', () => {
  let t: TeamsHarness | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  const text = (m: StoredMessage) => JSON.stringify(m.activity);

  it('asks an ops user to confirm with an Action.Execute card, and the click answers with the change', async () => {
    t = await startTeamsHarness({ hours: 3 });
    const teams = t.teams;
    const chat = personalConversationId(t.settings.credentials?.clientId ?? '', TEAMS_OPS);
    await teams.send(teams.activities.personalMessage(TEAMS_OPS, 'schedule set score */20 * * * *'));
    const card = await until(() => teams.botMessages(chat).find((m) => text(m).includes('schedule_confirm')));
    const token = /"verb":"schedule_confirm".*?"value":"([0-9a-f]{32})"/.exec(text(card))?.[1];
    expect(token).toBeDefined();
    const res = await teams.send(
      teams.activities.cardAction(
        TEAMS_OPS,
        teams.activities.personalConversation(TEAMS_OPS),
        card.id,
        'schedule_confirm',
        { value: token },
      ),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(JSON.stringify(res.body)).toContain('score now runs on');
    expect((await t.schedules.effective()).find((s) => s.job === 'score')?.cron).toBe('*/20 * * * *');

    // A viewer asking is refused before anything runs.
    const viewerChat = personalConversationId(t.settings.credentials?.clientId ?? '', TEAMS_VIEWER);
    const calls = t.calls.length;
    await teams.send(teams.activities.personalMessage(TEAMS_VIEWER, 'schedule reset score'));
    await until(() => teams.botMessages(viewerChat).find((m) => text(m).includes('Only the ops team')));
    expect(t.calls.slice(calls)).toEqual([]);
    expect((await t.schedules.effective()).find((s) => s.job === 'score')?.cron).toBe('*/20 * * * *');

    // A viewer pressing a confirmation (an ops user's, forged) is refused too, and nothing changes.
    await teams.send(teams.activities.personalMessage(TEAMS_OPS, 'schedule pause ingest'));
    const second = await until(() =>
      teams
        .botMessages(chat)
        .find((m) => text(m).includes('pause ingest?') && text(m).includes('schedule_confirm')),
    );
    const forged = /"verb":"schedule_confirm".*?"value":"([0-9a-f]{32})"/.exec(text(second))?.[1];
    const refused = await teams.send(
      teams.activities.cardAction(
        TEAMS_VIEWER,
        teams.activities.personalConversation(TEAMS_VIEWER),
        second.id,
        'schedule_confirm',
        { value: forged },
      ),
    );
    expect(JSON.stringify(refused.body)).toContain('Only the ops team can change a schedule');
    expect((await t.schedules.effective()).find((s) => s.job === 'ingest')?.paused).toBe(false);
    expect(t.audits()).toContainEqual(
      expect.objectContaining({ what: 'schedule pause ingest', result: 'refused: not an ops user' }),
    );
  });
});

describe('schedule on the command line', () => {
  it('lists, previews without --yes (nothing changes) and changes with --yes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crm-schedule-cli-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const run = async (...argv: string[]) => {
      let out = '';
      const code = await runCli(['--json', ...argv], {
        env: { DATA_DIR: dir, LOG_LEVEL: 'silent' },
        cwd: dir,
        stdout: (s) => {
          out += s;
        },
        stderr: () => {},
      });
      return { code, json: out ? (JSON.parse(out) as Record<string, unknown>) : undefined, out };
    };
    const preview = await run('schedule', 'pause', 'train', '1d');
    expect(preview.code).toBe(0);
    expect(preview.json).toMatchObject({
      request: { action: 'pause', job: 'train' },
      after: { paused: true },
    });
    const listed = await run('schedule');
    expect(
      (listed.json as unknown as Array<{ job: string; paused: boolean }>).find((r) => r.job === 'train')
        ?.paused,
    ).toBe(false);

    const done = await run('schedule', 'pause', 'train', '1d', '--yes');
    expect(done.code).toBe(0);
    expect(done.json).toMatchObject({ change: { action: 'pause', job: 'train' }, after: { paused: true } });
    const after = await run('schedule');
    expect(
      (after.json as unknown as Array<{ job: string; paused: boolean }>).find((r) => r.job === 'train')
        ?.paused,
    ).toBe(true);

    const bad = await run('schedule', 'set', 'train', 'every', 'day', '--yes');
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('not a cron expression');
  }, 60_000);
});
