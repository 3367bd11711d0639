import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { createSilences } from '../../src/commands/silences.js';
import type { TestLakehouse } from '../support/lakehouse.js';
import {
  ask,
  CHANNEL,
  type Harness,
  OPS,
  startHarness,
  VIEWER,
  windowsIn,
} from '../support/slack-bot-harness.js';
import {
  startTeamsHarness,
  TEAM,
  OPS as TEAMS_OPS,
  VIEWER as TEAMS_VIEWER,
  type TeamsHarness,
} from '../support/teams-bot-harness.js';
import { personalConversationId, type StoredMessage } from '../support/teams-emulator.js';
import { until } from '../support/until.js';

let h: Harness | undefined;
let t: TeamsHarness | undefined;
afterEach(async () => {
  await h?.close();
  await t?.close();
  h = undefined;
  t = undefined;
});

/** An anomalous window of an asset, scored at `scoredAt` (what the feed reads next). */
async function addAnomaly(lake: TestLakehouse, asset: string, windowEnd: string, scoredAt: string) {
  await lake.platform.db.run(
    `INSERT INTO anomalies (asset, symbol, window_end, price_avg, price_vol, ret_window, vol_sum, ret_prev,
       anomaly_score, is_anomaly, model_version, scored_at)
     VALUES (:asset, :symbol, CAST(:end AS TIMESTAMP), 100, 1, 0.02, 1000, 0, -0.2, 1, 1, CAST(:at AS TIMESTAMP))`,
    { asset, symbol: asset.slice(0, 3), end: windowEnd, at: scoredAt },
  );
}

/** A harness whose lakehouse has no anomalies yet: each test adds the ones it needs. */
async function slack() {
  h = await startHarness({ hours: 3 });
  await h.lake.platform.db.run('DELETE FROM anomalies');
  return h;
}

/** The feed channel's silence announcements (their key in the message metadata), oldest first. */
const announcements = (harness: Harness) =>
  harness.slack
    .channelMessages(CHANNEL)
    .filter((m) => String(m.metadata?.event_payload.incident ?? '').startsWith('silence|'));

const silenceRows = (lake: TestLakehouse) => lake.table('SELECT * FROM silences');

describe('silences in Slack', () => {
  it('keep a muted asset out of the feed while top still lists it, and announce the start once', async () => {
    const harness = await slack();
    const answer = await ask(harness, OPS, 'mute bitcoin 2h exchange maintenance', 'muted until');
    expect(answer).toContain('bitcoin muted until 2025-02-01 02:00 UTC');
    expect(harness.audits()).toContainEqual(
      expect.objectContaining({
        who: OPS,
        what: 'mute bitcoin 2h',
        result: expect.stringMatching(/^bitcoin muted/),
      }),
    );

    // A second mute of the same asset changes nothing while the first lasts.
    expect(await ask(harness, OPS, 'mute bitcoin 1d', 'Nothing was changed')).toContain('already muted');
    expect(await silenceRows(harness.lake)).toHaveLength(1);

    await addAnomaly(harness.lake, 'bitcoin', '2025-02-01T00:30:00Z', '2025-02-01T00:35:00Z');
    await addAnomaly(harness.lake, 'ethereum', '2025-02-01T00:30:00Z', '2025-02-01T00:35:00Z');
    harness.lake.setNow('2025-02-01T00:40:00Z');
    const first = await harness.bot.feed.runOnce();
    expect(first.windows).toBe(1);
    expect(windowsIn(harness.feedMessages()).map((w) => w.asset)).toEqual(['ethereum']);
    const [start, ...others] = announcements(harness);
    expect(others).toEqual([]);
    expect(start?.text).toBe(
      '🔕 Muted: bitcoin muted until 2025-02-01 02:00 UTC by @U0OPS01: exchange maintenance',
    );
    expect(JSON.stringify(start?.blocks)).toContain('by <@U0OPS01>: exchange maintenance');

    // The next cycle, and a restarted bot on the same store, announce nothing again.
    await harness.bot.feed.runOnce();
    const restarted = await harness.make(harness.lake.platform);
    await restarted.feed.runOnce();
    expect(announcements(harness)).toHaveLength(1);
    expect(windowsIn(harness.feedMessages()).map((w) => w.asset)).toEqual(['ethereum']);

    // Muted is not hidden: top lists the window and marks it; mutes shows the silence to anyone.
    const top = await ask(harness, VIEWER, 'top 10 24h bitcoin', 'Top anomalies');
    expect(top).toContain('🔕 muted');
    const mutes = await ask(harness, VIEWER, 'mutes', 'Silences');
    expect(mutes).toContain('2025-02-01 02:00 UTC');
    expect(mutes).toContain('exchange maintenance');
    expect(mutes).toContain(OPS);
  });

  it('end on time across a restart: the next anomaly posts and the end is announced once', async () => {
    const harness = await slack();
    await ask(harness, OPS, 'mute bitcoin 1h', 'muted until');
    await harness.bot.feed.runOnce();
    expect(announcements(harness)).toHaveLength(1);

    // A window inside the silence is never posted, even once it is over.
    await addAnomaly(harness.lake, 'bitcoin', '2025-02-01T00:30:00Z', '2025-02-01T00:35:00Z');
    harness.lake.setNow('2025-02-01T00:40:00Z');
    await harness.bot.feed.runOnce();

    // The store answers by the clock: the window at 00:30 was muted, one at 01:00 would not be.
    const store = createSilences(harness.lake.platform.db);
    expect(await store.mutedAt('bitcoin', '2025-02-01T00:30:00.000Z')).toMatchObject({ asset: 'bitcoin' });
    expect(await store.mutedAt('bitcoin', '2025-02-01T01:00:00.000Z')).toBeUndefined();
    expect(await store.mutedAt('ethereum', '2025-02-01T00:30:00.000Z')).toBeUndefined();

    const restarted = await harness.make(harness.lake.platform);
    harness.lake.setNow('2025-02-01T01:10:00Z');
    await addAnomaly(harness.lake, 'bitcoin', '2025-02-01T01:05:00Z', '2025-02-01T01:07:00Z');
    const result = await restarted.feed.runOnce();
    expect(result.windows).toBe(1);
    expect(windowsIn(harness.feedMessages())).toEqual([
      expect.objectContaining({ asset: 'bitcoin', window_end: '2025-02-01T01:05:00.000Z' }),
    ]);
    const [, end] = announcements(harness);
    expect(end?.text).toContain('bitcoin unmuted (expired at 2025-02-01 01:00 UTC)');
    await restarted.feed.runOnce();
    expect(announcements(harness)).toHaveLength(2);
    const mutes = await ask(harness, VIEWER, 'mutes', 'Silences');
    expect(mutes).toContain('Nothing is muted');
  });

  it('end by unmute, announced once with who; a reason is shown as text, never a mention', async () => {
    const harness = await slack();
    await ask(harness, OPS, 'mute all 1d <!channel> deploy', 'muted until');
    await harness.bot.feed.runOnce();
    const [start] = announcements(harness);
    expect(start?.text).toContain('all assets muted until 2025-02-02 00:00 UTC');
    expect(JSON.stringify(start)).not.toContain('<!channel>');

    harness.lake.setNow('2025-02-01T00:20:00Z');
    expect(await ask(harness, OPS, 'unmute bitcoin', 'Nothing was changed')).toContain('unmute all');
    expect(await ask(harness, OPS, 'unmute all', 'unmuted')).toContain('1 silence(s) ended');
    expect(harness.audits()).toContainEqual(
      expect.objectContaining({
        who: OPS,
        what: 'unmute all',
        result: expect.stringMatching(/^all assets unmuted/),
      }),
    );
    await addAnomaly(harness.lake, 'bitcoin', '2025-02-01T00:25:00Z', '2025-02-01T00:27:00Z');
    harness.lake.setNow('2025-02-01T00:30:00Z');
    expect((await harness.bot.feed.runOnce()).windows).toBe(1);
    await harness.bot.feed.runOnce();
    const [, end, ...more] = announcements(harness);
    expect(end?.text).toBe('🔔 Unmuted: all assets unmuted by @U0OPS01.');
    expect(JSON.stringify(end?.blocks)).toContain('all assets unmuted by <@U0OPS01>');
    expect(more).toEqual([]);
    expect(await ask(harness, OPS, 'unmute all', 'Nothing was changed')).toContain('not muted');
  });

  it("refuse a viewer's mute and unmute with an audit line, and change nothing", async () => {
    const harness = await slack();
    expect(await ask(harness, VIEWER, 'mute bitcoin 2h', 'Only the ops team')).toBeDefined();
    expect(await ask(harness, VIEWER, 'unmute all', 'Only the ops team')).toBeDefined();
    expect(harness.audits()).toEqual([
      expect.objectContaining({ who: VIEWER, what: 'mute bitcoin 2h', result: 'refused: not an ops user' }),
      expect.objectContaining({ who: VIEWER, what: 'unmute all', result: 'refused: not an ops user' }),
    ]);
    expect(harness.calls).toEqual([]);
    expect(await silenceRows(harness.lake)).toEqual([]);
  });

  it('answer a bad duration, asset or reason with a sentence, and change nothing', async () => {
    const harness = await slack();
    const bad: Array<[string, string]> = [
      ['mute bitcoin 8d', 'at most 7d (7 days)'],
      ['mute bitcoin soon', 'The duration must be like 30m, 2h or 1d'],
      ['mute bitcoin', 'needs an asset (or all) and a duration'],
      ['mute dogecoinn 1h', 'There is no data for'],
      ['mute Bit$coin 1h', 'The asset must be a CoinGecko id'],
      [`mute bitcoin 1h ${'x'.repeat(121)}`, 'at most 120 fit'],
      ['unmute', '`unmute` takes an asset'],
    ];
    for (const [text, sentence] of bad) expect(await ask(harness, OPS, text, sentence), text).toBeDefined();
    expect(await silenceRows(harness.lake)).toEqual([]);
  });
});

describe('silences in Teams', () => {
  const personal = (harness: TeamsHarness, user = TEAMS_VIEWER) =>
    personalConversationId(harness.settings.credentials?.clientId ?? '', user);
  const text = (m: StoredMessage) => JSON.stringify(m.activity);
  const answer = (harness: TeamsHarness, conversation: string, needle: string) =>
    until(() => harness.teams.botMessages(conversation).find((m) => text(m).includes(needle)));

  it("mute: an ops user's silence keeps the asset's anomalies out of the feed; a viewer's is refused", async () => {
    t = await startTeamsHarness({ hours: 3 });
    const harness = t;
    await harness.install();
    await harness.lake.platform.db.run('DELETE FROM anomalies');

    await harness.teams.send(
      harness.teams.activities.personalMessage(TEAMS_OPS, 'mute bitcoin 2h maintenance'),
    );
    expect(text(await answer(harness, personal(harness, TEAMS_OPS), 'muted until'))).toContain(
      'bitcoin muted until 2025-02-01 02:00 UTC',
    );
    await harness.teams.send(harness.teams.activities.personalMessage(TEAMS_VIEWER, 'mute ethereum 1h'));
    await answer(harness, personal(harness), 'Only the ops team');
    expect(harness.audits()).toContainEqual(
      expect.objectContaining({
        who: TEAMS_VIEWER.aadObjectId,
        what: 'mute ethereum 1h',
        result: 'refused: not an ops user',
      }),
    );
    expect(await harness.lake.table('SELECT asset FROM silences')).toEqual([{ asset: 'bitcoin' }]);

    await addAnomaly(harness.lake, 'bitcoin', '2025-02-01T00:30:00Z', '2025-02-01T00:35:00Z');
    await addAnomaly(harness.lake, 'ethereum', '2025-02-01T00:30:00Z', '2025-02-01T00:35:00Z');
    harness.lake.setNow('2025-02-01T00:40:00Z');
    expect((await harness.bot.feed.runOnce()).windows).toBe(1);
    await harness.bot.feed.runOnce();
    expect(
      await harness.lake.platform.db.all('SELECT asset FROM feed_windows WHERE channel = :c', { c: TEAM.id }),
    ).toEqual([{ asset: 'ethereum' }]);
    const starts = harness.teams.botMessages(TEAM.id).filter((m) => text(m).includes('bitcoin muted until'));
    expect(starts).toHaveLength(1);
  });
});

describe('silences on the command line', () => {
  it('are chat commands: mute, unmute and mutes say so, with exit code 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crm-silences-'));
    try {
      for (const args of [['mute', 'bitcoin', '2h'], ['unmute', 'all'], ['mutes']]) {
        let stderr = '';
        const code = await runCli(args, {
          env: { DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' },
          cwd: dir,
          stdout: () => {},
          stderr: (text) => {
            stderr += text;
          },
        });
        expect(code, args.join(' ')).toBe(2);
        expect(stderr).toContain(`\`${args[0]}\` is a chat command`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
