import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { signSlackRequest } from '../../src/slack/local-slack/index.js';
import { countPixels, decodePng } from '../support/png.js';
import {
  addAnomalyBurst,
  CHANNEL,
  type Harness,
  OPS,
  onlyOneAnomaly,
  SECRET,
  startHarness,
  TOKEN,
  VIEWER,
  windowsIn,
} from '../support/slack-bot-harness.js';
import { sleep, until } from '../support/until.js';

/** How Slack reaches the bot: signed HTTP requests to its Request URL, or Socket Mode envelopes. */
const MODES = ['http', 'socket'] as const;
type Mode = (typeof MODES)[number];

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/**
 * A lakehouse with 30 simulated hours of five assets, a model and its scores; the local Slack
 * workspace; and the bot between them, over loopback: Slack's requests signed over HTTP, or as
 * envelopes over the bot's Socket Mode connection.
 */
async function setup(mode: Mode, options: { delayMs?: number; hours?: number } = {}) {
  h = await startHarness({ mode, ...options });
  if (mode === 'socket') expect(h.slack.socketMode.openConnections()).toBe(1);
  return h;
}

const feedMessages = () => (h as Harness).feedMessages();

describe.each(MODES)('over %s', (mode) => {
  describe('slash commands', () => {
    it('acknowledge within Slack’s 3 s while every platform call takes 5 s, then answer', async () => {
      const { slack } = await setup(mode, { delayMs: 5_000 });
      const ack = await slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text: 'status' });
      expect(ack.status).toBe(200);
      expect(ack.ms).toBeLessThan(1_000);
      const answer = await until(
        () => slack.ephemeral(VIEWER).find((m) => JSON.stringify(m).includes('Pipeline status')),
        30_000,
      );
      expect(JSON.stringify(answer)).toMatch(/SIMULATED DATA/);
    }, 60_000);

    it('answer /crypto top with the leaderboard and a chart whose PNG shows red anomaly markers', async () => {
      const { slack } = await setup(mode);
      await slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text: 'top 5 24h' });
      const answer = await until(() =>
        slack.ephemeral(VIEWER).find((m) => JSON.stringify(m).includes('Top anomalies')),
      );
      const blocks =
        (answer as { blocks?: Array<{ type: string; slack_file?: { id: string } }> }).blocks ?? [];
      expect(blocks[0]?.type).toBe('header');
      const image = blocks.find((b) => b.type === 'image');
      expect(image?.slack_file?.id).toBeDefined();
      const png = decodePng(slack.file(image?.slack_file?.id as string)?.bytes as Buffer);
      expect(countPixels(png, (p) => p.r > 180 && p.g < 90 && p.b < 90)).toBeGreaterThan(50);
    });

    it('keep `top 500` within Block Kit limits (the workspace rejects anything over them)', async () => {
      const { slack, lake } = await setup(mode, { hours: 3 });
      await lake.platform.db.run(
        `INSERT INTO anomalies
       SELECT 'asset-' || (i % 50), 'A' || (i % 50), TIMESTAMP '2025-01-31 00:00:00' + INTERVAL (i // 50 * 5) MINUTE,
         100, 1, 0.01, 1000, 0, -0.1 - i / 10000, 1, 1, TIMESTAMP '2025-02-01 00:00:00', NULL, NULL
       FROM range(600) AS t(i)`,
      );
      await slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text: 'top 500 7d' });
      const answer = await until(() =>
        slack.ephemeral(VIEWER).find((m) => JSON.stringify(m).includes('Top anomalies')),
      );
      expect(JSON.stringify(answer)).toMatch(/more rows/);
      const responses = slack.calls.filter((c) => c.method === 'response_url');
      expect(responses.every((c) => c.status === 200)).toBe(true);
    });

    it('answer hostile arguments with the usage text or a clean answer, and change nothing', async () => {
      const { slack, lake } = await setup(mode);
      const [before] = await lake.table<{ n: number }>('SELECT count(*) AS n FROM anomalies');
      const hostile = [
        `top 5 ' OR 1=1; DROP TABLE anomalies;--`,
        'top "bitcoin"',
        'chart <@U0OPS01> <!channel>',
        'top 5 🚀🚀',
        'chart bitcoin; DELETE FROM metrics_gold',
        `top ${'x'.repeat(10_000)}`,
        'frobnicate --all',
        'top -1',
        'chart dogecoinn',
      ];
      for (const text of hostile) {
        const ack = await slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text });
        expect(ack.status, text.slice(0, 40)).toBe(200);
      }
      await until(() => slack.ephemeral(VIEWER).length >= hostile.length);
      const answers = slack.ephemeral(VIEWER).map((m) => JSON.stringify(m));
      expect(answers.every((a) => /That command did not work|crypto-risk-monitor commands/.test(a))).toBe(
        true,
      );
      expect(answers.join('')).not.toMatch(/<!channel>|<@U0OPS01>/); // escaped, never a ping
      expect(answers.find((a) => a.includes('dogecoinn'))).toMatch(/Assets with data: bitcoin, cardano/);
      const [after] = await lake.table<{ n: number }>('SELECT count(*) AS n FROM anomalies');
      expect(after).toEqual(before);
    });

    it('publish the App Home status when it is opened', async () => {
      const { slack } = await setup(mode);
      await slack.openHome(VIEWER);
      const view = (await until(() => slack.homeView(VIEWER))) as { type: string; blocks: unknown[] };
      expect(view.type).toBe('home');
      expect(JSON.stringify(view.blocks)).toMatch(/Pipeline status \(local\)/);
      expect(view.blocks.length).toBeLessThanOrEqual(100);
    });
  });

  describe('retrain (an ops action)', () => {
    it('refuses a user who is not ops, with zero platform calls and an audit line', async () => {
      const { slack, calls, logLines } = await setup(mode);
      await slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text: 'retrain' });
      const refusal = await until(() =>
        slack.ephemeral(VIEWER).find((m) => JSON.stringify(m).includes('Only the ops team')),
      );
      expect(refusal).toBeDefined();
      expect(calls).toEqual([]);
      const audit = logLines.map((l) => JSON.parse(l)).find((l) => l.audit);
      expect(audit.audit).toMatchObject({
        who: VIEWER,
        what: 'retrain (request)',
        result: 'refused: not an ops user',
      });
      expect(audit.audit.when).toMatch(/^\d{4}-\d\d-\d\dT/);
    });

    it('asks an ops user to confirm; two quick confirmations start one run, whose thread ends with the new version', async () => {
      const { slack, lake } = await setup(mode);
      await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'retrain' });
      await until(() => slack.ephemeral(OPS).find((m) => JSON.stringify(m).includes('retrain_confirm')));
      // Both clicks carry the pressed button's own value, as Slack sends it.
      const [first, second] = await Promise.all([
        slack.clickButton({
          userId: OPS,
          channelId: CHANNEL,
          actionId: 'retrain_confirm',
          ephemeral: true,
        }),
        slack.clickButton({
          userId: OPS,
          channelId: CHANNEL,
          actionId: 'retrain_confirm',
          ephemeral: true,
        }),
      ]);
      expect([first.status, second.status]).toEqual([200, 200]);
      const roots = await until(() => {
        const found = slack?.channelMessages(CHANNEL).filter((m) => m.text.startsWith('🔁 Model retrain'));
        return found && found.length > 0 ? found : undefined;
      });
      expect(roots).toHaveLength(1);
      const linked = await until(() =>
        slack.ephemeral(OPS).find((m) => JSON.stringify(m).includes('already')),
      );
      // The other click is told so, with a link to the running retrain's thread.
      expect(JSON.stringify(linked)).toMatch(/archives\/C0CRYPTO1\/p/);
      const done = await until(() =>
        slack
          .channelMessages(CHANNEL)
          .find(
            (m) =>
              m.thread_ts === roots[0]?.ts &&
              m.ts !== roots[0]?.ts &&
              JSON.stringify(m.blocks ?? []).includes('trained'),
          ),
      );
      expect(done.edited).toBeDefined(); // the progress reply was updated in place
      expect(JSON.stringify(done.blocks)).toMatch(/Champion moved: v1 → v2/);
      const versions = await lake.platform.pipeline.models();
      expect(versions.versions.map((v) => v.version)).toEqual([2, 1]);
      const updates = slack.calls.filter((c) => c.method === 'chat.update' && c.args.ts === done.ts);
      expect(updates.length).toBeGreaterThanOrEqual(1);
    });
  });

  describe('anomaly feed', () => {
    it('posts every anomaly once, in a bounded number of messages, with metadata, and nothing on the next cycle', async () => {
      const { bot, lake } = await setup(mode, { hours: 3 });
      await addAnomalyBurst(lake);
      const result = await bot.feed.runOnce();
      const messages = feedMessages();
      expect(result.posted).toBe(messages.length);
      expect(messages.length).toBeLessThanOrEqual(6);
      const windows = windowsIn(messages).filter((w) => w.asset.startsWith('asset-'));
      expect(windows).toHaveLength(200);
      expect(new Set(windows.map((w) => `${w.asset}|${w.window_end}`)).size).toBe(200);
      for (const m of messages) {
        expect(m.metadata?.event_payload).toMatchObject({
          delivery_id: expect.any(String),
          model_version: 1,
          score: expect.any(Number),
        });
      }
      const again = await bot.feed.runOnce();
      expect(again).toMatchObject({ posted: 0, updated: 0 });
      expect(feedMessages()).toHaveLength(messages.length);
    });

    it('waits out a 429 (Retry-After) and posts', async () => {
      const { bot, slack } = await setup(mode, { hours: 30 });
      slack.fault('chat.postMessage', { kind: 'rate_limited', retryAfter: 1 });
      const started = Date.now();
      const result = await bot.feed.runOnce();
      expect(result.posted).toBeGreaterThan(0);
      const posts = slack.calls.filter((c) => c.method === 'chat.postMessage');
      expect(posts[0]?.status).toBe(429);
      expect(posts[1]?.status).toBe(200);
      expect(posts[1]?.at ?? 0).toBeGreaterThanOrEqual((posts[0]?.at ?? 0) + 1_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    });

    it('updates the message of a re-scored window instead of posting a new one', async () => {
      const { bot, lake } = await setup(mode, { hours: 30 });
      await bot.feed.runOnce();
      const before = feedMessages();
      expect(before.length).toBeGreaterThan(0);
      const first = windowsIn(before)[0] as { asset: string; window_end: string };
      await lake.platform.db.run(
        `UPDATE anomalies SET anomaly_score = -0.4242, model_version = 2, scored_at = TIMESTAMP '2025-02-01 00:05:00'
       WHERE asset = :asset AND window_end = CAST(:window_end AS TIMESTAMP)`,
        first,
      );
      const result = await bot.feed.runOnce();
      expect(result).toMatchObject({ posted: 0, updated: 1 });
      const after = feedMessages();
      expect(after).toHaveLength(before.length);
      const updated = after.find((m) => JSON.stringify(m.metadata).includes('-0.4242'));
      expect(updated?.edited).toBeDefined();
      expect(JSON.stringify(updated?.blocks)).toMatch(/-0\.424/);
    });

    it('leaves a re-scored window alone when its message was deleted from the channel, and moves on', async () => {
      const { bot, lake, slack, logLines } = await setup(mode, { hours: 30 });
      await bot.feed.runOnce();
      const target = feedMessages()[0] as { ts: string };
      const first = windowsIn([target as ReturnType<typeof feedMessages>[number]])[0] as {
        asset: string;
        window_end: string;
      };
      await new WebClient(TOKEN, { slackApiUrl: slack.apiUrl }).chat.delete({
        channel: CHANNEL,
        ts: target.ts,
      });
      await lake.platform.db.run(
        `UPDATE anomalies SET anomaly_score = -0.4242, model_version = 2, scored_at = TIMESTAMP '2025-02-01 00:05:00'
       WHERE asset = :asset AND window_end = CAST(:window_end AS TIMESTAMP)`,
        first,
      );
      const count = feedMessages().length;
      expect(await bot.feed.runOnce()).toMatchObject({ posted: 0, updated: 0 });
      expect(feedMessages()).toHaveLength(count);
      expect(logLines.join('')).toContain('a re-scored message was deleted from the channel');
      // the cursor moved past it: the next cycle has nothing to do
      expect(await bot.feed.runOnce()).toMatchObject({ posted: 0, updated: 0, windows: 0 });
    });

    it('after a crash between posting and recording, a restarted feed finds the message instead of posting it again', async () => {
      const { bot, slack, log, make, lake } = await setup(mode, { hours: 3 });
      await onlyOneAnomaly(lake);
      // The post reaches Slack but its answer never comes back: the process "dies" waiting for it.
      slack.fault('chat.postMessage', { kind: 'stall', ms: 3_000 });
      const crashed = bot.feed.runOnce();
      await until(() => feedMessages().length > 0);
      const posted = feedMessages();
      expect(await log.pending('C0CRYPTO1')).toHaveLength(1); // reserved, not confirmed
      // A new bot (a restart) over the same delivery log; the old one's late answer is ignored.
      const restarted = await make(lake.platform);
      const result = await restarted.feed.runOnce();
      expect(result).toMatchObject({ recovered: 1, posted: 0 });
      expect(feedMessages()).toEqual(posted);
      expect(await log.pending('C0CRYPTO1')).toEqual([]);
      await crashed.catch(() => undefined);
    });
  });
});

// About Slack's HTTP requests themselves: signing, and /healthz beside the Request URL.
describe('over HTTP only', () => {
  it('reject a forged signature and a stale timestamp with 401, running nothing', async () => {
    const { slack, calls } = await setup('http');
    const body = new URLSearchParams({
      command: '/crypto',
      text: 'status',
      user_id: VIEWER,
      channel_id: CHANNEL,
    }).toString();
    const forged = await slack.sendToBot(body, 'application/x-www-form-urlencoded', {
      ...signSlackRequest('not-the-secret', body, Math.floor(Date.now() / 1000)),
    });
    const stale = await slack.sendToBot(body, 'application/x-www-form-urlencoded', {
      ...signSlackRequest(SECRET, body, Math.floor(Date.now() / 1000) - 600),
    });
    expect([forged.status, stale.status]).toEqual([401, 401]);
    await sleep(200);
    expect(calls).toEqual([]);
  });

  it('serve /healthz on the same port', async () => {
    const { bot } = await setup('http', { hours: 3 });
    const res = await fetch(`http://127.0.0.1:${bot.port()}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', platform: 'local' });
  });
});
