import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { createAccess } from '../../src/chat/access.js';
import type { Clock } from '../../src/clock.js';
import { type LocalSlack, startLocalSlack } from '../../src/slack/local-slack/index.js';
import { slackUsergroup } from '../../src/slack/ops-group.js';
import { memoryLogger } from '../support/memory-logger.js';
import {
  CHANNEL,
  type Harness,
  OPS,
  SECRET,
  startHarness,
  TOKEN,
  VIEWER,
} from '../support/slack-bot-harness.js';
import { slowPlatform } from '../support/slow-platform.js';
import { until } from '../support/until.js';

/** ops-carol: in the ops user group @crypto-ops, like OPS, and in no ops user list. */
const CAROL = 'U0OPS02';
const GROUP = 'S0CRYPTOOPS';
const GROUP_WARNING = 'could not read the ops user group';

describe('ops actions through the bot, with the ops team given as a user group', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** The harness's bot over a counting platform; ops are the members of @crypto-ops only. */
  async function setup() {
    h = await startHarness({ hours: 3, start: false });
    const counted = slowPlatform(h.lake.platform, 0);
    const bot = await h.make(counted.platform);
    await bot.start();
    h.slack.setBotEventsUrl(`http://127.0.0.1:${bot.port()}/slack/events`);
    counted.calls.length = 0;
    return { ...h, calls: counted.calls };
  }

  const groupReads = (slack: LocalSlack) => slack.calls.filter((c) => c.method === 'usergroups.users.list');
  const refusal = (slack: LocalSlack, user: string, text: RegExp) =>
    until(() => slack.ephemeral(user).find((m) => text.test(JSON.stringify(m))));

  it('refuses a group member retrain and provision while the group cannot be read: no platform call, a warning', async () => {
    const { slack, calls, logLines, audits } = await setup();
    slack.fault('usergroups.users.list', { kind: 'error', error: 'internal_error' });
    await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'retrain' });
    await refusal(slack, OPS, /Only the ops team can retrain/);

    slack.fault('usergroups.users.list', { kind: 'error', error: 'fatal_error' });
    await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'provision' });
    await refusal(slack, OPS, /Only the ops team can provision/);

    expect(calls).toEqual([]);
    expect(groupReads(slack).map((c) => c.status)).toHaveLength(2);
    expect(JSON.stringify(slack.ephemeral(OPS))).not.toMatch(/retrain_confirm/);
    const warnings = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === GROUP_WARNING);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ level: 40, usergroup: GROUP });
    expect(warnings[0].err).toMatch(/internal_error/);
    expect(audits().map((a) => [a.who, a.what, a.result])).toEqual([
      [OPS, 'retrain (request)', 'refused: not an ops user'],
      [OPS, 'provision (plan)', 'refused: not an ops user'],
    ]);
  });

  it('lets a group member in once the group answers again (a failed read is not remembered)', async () => {
    const { slack } = await setup();
    slack.fault('usergroups.users.list', { kind: 'error', error: 'internal_error' });
    await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'retrain' });
    await refusal(slack, OPS, /Only the ops team can retrain/);
    await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'retrain' });
    await until(() => slack.ephemeral(OPS).find((m) => JSON.stringify(m).includes('retrain_confirm')));
  });

  it('refuses a viewer, in no list and no group, with no platform call', async () => {
    const { slack, calls } = await setup();
    await slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text: 'provision apply' });
    await refusal(slack, VIEWER, /Only the ops team can provision/);
    expect(calls).toEqual([]);
  });

  it('trusts the group’s members for 60 s: a member removed is refused once that has passed', async () => {
    const { slack, lake } = await setup();
    const start = lake.clock.now().getTime();
    await slack.slashCommand({ userId: CAROL, channelId: CHANNEL, text: 'retrain' });
    await until(() => slack.ephemeral(CAROL).find((m) => JSON.stringify(m).includes('retrain_confirm')));
    expect(groupReads(slack)).toHaveLength(1);

    slack.setUsergroupUsers(GROUP, [OPS]);
    lake.setNow(new Date(start + 59_999).toISOString());
    await slack.slashCommand({ userId: CAROL, channelId: CHANNEL, text: 'retrain' });
    await until(
      () => slack.ephemeral(CAROL).filter((m) => JSON.stringify(m).includes('retrain_confirm')).length === 2,
    );
    expect(groupReads(slack)).toHaveLength(1);

    lake.setNow(new Date(start + 60_000).toISOString());
    await slack.slashCommand({ userId: CAROL, channelId: CHANNEL, text: 'retrain' });
    await refusal(slack, CAROL, /Only the ops team can retrain/);
    expect(groupReads(slack)).toHaveLength(2);
  });
});

describe('createAccess against the local Slack Web API', () => {
  let slack: LocalSlack | undefined;
  afterEach(async () => {
    await slack?.close();
    slack = undefined;
  });

  async function setup(settings: { opsUsers?: string[]; opsUsergroup?: string } = {}) {
    slack = await startLocalSlack({ signingSecret: SECRET, botToken: TOKEN });
    let now = Date.parse('2025-02-01T00:00:00.000Z');
    const clock: Clock = { now: () => new Date(now) };
    const log = memoryLogger();
    const client = new WebClient(TOKEN, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    const usergroup = 'opsUsergroup' in settings ? settings.opsUsergroup : GROUP;
    const access = createAccess({
      opsUsers: settings.opsUsers ?? [],
      ...(usergroup ? { group: slackUsergroup({ usergroup, client, clock }) } : {}),
      clock,
      logger: log.logger,
    });
    const reads = () => (slack as LocalSlack).calls.filter((c) => c.method === 'usergroups.users.list');
    return { slack, access, reads, log, advance: (ms: number) => (now += ms) };
  }

  it('lets in the listed users without asking Slack, and the group’s members by asking once', async () => {
    const { access, reads } = await setup({ opsUsers: [VIEWER] });
    expect(await access.isOps(VIEWER)).toBe(true);
    expect(reads()).toHaveLength(0);
    expect(await access.isOps(OPS)).toBe(true);
    expect(await access.isOps(CAROL)).toBe(true);
    expect(await access.isOps('U0STRANGER')).toBe(false);
    expect(reads()).toHaveLength(1);
    expect(reads()[0]?.args).toMatchObject({ usergroup: GROUP });
  });

  it('lets nobody in through a group when none is configured, and never asks Slack', async () => {
    const { access, reads, log } = await setup({ opsUsers: [VIEWER], opsUsergroup: undefined });
    expect(await access.isOps(OPS)).toBe(false);
    expect(await access.isOps(VIEWER)).toBe(true);
    expect(reads()).toHaveLength(0);
    expect(log.entries()).toEqual([]);
  });

  it('fails closed on every kind of failed read, and reads again next time', async () => {
    const { slack, access, reads, log } = await setup();
    slack.fault(
      'usergroups.users.list',
      { kind: 'error', error: 'missing_scope' },
      { kind: 'http', status: 500 },
      { kind: 'drop' },
    );
    expect(await access.isOps(OPS)).toBe(false);
    expect(await access.isOps(OPS)).toBe(false);
    expect(await access.isOps(OPS)).toBe(false);
    const warnings = log.entries().filter((e) => e.msg === GROUP_WARNING);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatchObject({
      level: 40,
      usergroup: GROUP,
      err: expect.stringMatching(/missing_scope/),
    });
    expect(await access.isOps(OPS)).toBe(true);
    expect(reads()).toHaveLength(4);
  });

  it('refuses everyone for a group Slack does not know', async () => {
    const { access, log } = await setup({ opsUsergroup: 'S0NOSUCHGROUP' });
    expect(await access.isOps(OPS)).toBe(false);
    expect(log.entries().filter((e) => e.msg === GROUP_WARNING)).toHaveLength(1);
  });

  it('keeps the members for 60 s exactly, then reads them again', async () => {
    const { slack, access, reads, advance } = await setup();
    expect(await access.isOps(CAROL)).toBe(true);
    slack.setUsergroupUsers(GROUP, [OPS]);
    advance(59_999);
    expect(await access.isOps(CAROL)).toBe(true);
    expect(reads()).toHaveLength(1);
    advance(1);
    expect(await access.isOps(CAROL)).toBe(false);
    expect(await access.isOps(OPS)).toBe(true);
    expect(reads()).toHaveLength(2);
    advance(59_999);
    slack.setUsergroupUsers(GROUP, [CAROL]);
    expect(await access.isOps(CAROL)).toBe(false);
    advance(1);
    expect(await access.isOps(CAROL)).toBe(true);
    expect(reads()).toHaveLength(3);
  });

  it('writes one audit line: who, what, when and the result', async () => {
    const { access, log } = await setup();
    access.audit({ who: OPS, what: 'retrain (confirm)', result: 'started', detail: { run: 'r1' } });
    expect(log.entries()).toEqual([
      expect.objectContaining({
        level: 30,
        msg: `audit: ${OPS} retrain (confirm): started`,
        audit: {
          who: OPS,
          what: 'retrain (confirm)',
          when: '2025-02-01T00:00:00.000Z',
          result: 'started',
          run: 'r1',
        },
      }),
    ]);
  });
});
