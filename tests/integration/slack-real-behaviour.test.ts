import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { RETRAIN_CONFIRM } from '../../src/chat/retrain.js';
import { UserError } from '../../src/errors.js';
import { signSlackRequest } from '../../src/slack/local-slack/index.js';
import { countPixels, decodePng } from '../support/png.js';
import {
  addAnomalyBurst,
  CHANNEL,
  type Harness,
  type HarnessOptions,
  OPS,
  onlyOneAnomaly,
  SECRET,
  startHarness,
  TOKEN,
  windowsIn,
} from '../support/slack-bot-harness.js';
import { until } from '../support/until.js';

/**
 * What real Slack does that a kinder stand-in would hide: asynchronous file processing,
 * membership, private channels, mentions, busy channels, rate limits, lost answers and replays.
 * Each test fails on the bot as it was before it learnt the behaviour.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  h = await startHarness(options);
  return h;
}

type Block = { type: string; slack_file?: { id: string }; text?: { text?: string } };
const blocksOf = (m: { blocks?: unknown[] }) => (m.blocks ?? []) as Block[];
const imageOf = (m: { blocks?: unknown[] }) => blocksOf(m).find((b) => b.type === 'image');

describe('charts and Slack’s asynchronous file processing', () => {
  it('answers at once without the image while Slack processes the file, then sends the chart as a follow-up', async () => {
    const { slack } = await harness({ slack: { fileProcessingMs: 5_000 } });
    await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'top 5' });
    const first = await until(() => slack.ephemeral(OPS).find((m) => m.text.includes('nomal')));
    expect(imageOf(first)).toBeUndefined();
    expect(JSON.stringify(first.blocks)).toContain('The chart follows in a moment.');
    const followUp = await until(() => slack.ephemeral(OPS).find((m) => imageOf(m) !== undefined), 20_000);
    const png = decodePng(slack.file(imageOf(followUp)?.slack_file?.id as string)?.bytes as Buffer);
    expect(countPixels(png, (p) => p.r > 180 && p.g < 90 && p.b < 90)).toBeGreaterThan(0);
    // no post was ever refused for naming an unprocessed file
    const refused = slack.calls.filter(
      (c) => (c.response as { error?: string } | undefined)?.error === 'invalid_blocks',
    );
    expect(refused).toEqual([]);
  });

  it('shows the chart in the answer itself when Slack processes it within a moment', async () => {
    const { slack } = await harness({ slack: { fileProcessingMs: 300 } });
    await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'top 5' });
    const answer = await until(() => slack.ephemeral(OPS).find((m) => m.text.includes('nomal')));
    expect(imageOf(answer)?.slack_file?.id).toBeDefined();
    expect(slack.ephemeral(OPS)).toHaveLength(1);
  });

  it('posts a feed message without the image while the file is processed, and adds the image by chat.update', async () => {
    const { bot, lake, feedMessages } = await harness({
      hours: 3,
      slack: { fileProcessingMs: 6_000 },
    });
    await onlyOneAnomaly(lake);
    const result = await bot.feed.runOnce();
    expect(result.posted).toBe(1);
    const [posted] = feedMessages();
    expect(posted && imageOf(posted)).toBeUndefined();
    const updated = await until(() => {
      const m = feedMessages()[0];
      return m && imageOf(m) ? m : undefined;
    }, 20_000);
    expect(updated.ts).toBe(posted?.ts);
    expect(updated.metadata).toEqual(posted?.metadata);
    expect(feedMessages()).toHaveLength(1);
  });

  it('answers and posts without a chart when the upload fails, failing neither the command nor the feed', async () => {
    const { slack, bot, lake, feedMessages } = await harness({ hours: 3 });
    await onlyOneAnomaly(lake);
    slack.fault('files.getUploadURLExternal', { kind: 'error', error: 'internal_error' });
    slack.fault('files.getUploadURLExternal', { kind: 'error', error: 'internal_error' });
    await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'chart bitcoin' });
    const answer = await until(() => slack.ephemeral(OPS)[0]);
    expect(JSON.stringify(answer.blocks)).toContain('The chart could not be made this time');
    expect(await bot.feed.runOnce()).toMatchObject({ posted: 1 });
    expect(feedMessages()).toHaveLength(1);
  });
});

describe('where the bot may post', () => {
  const channels = [
    { id: CHANNEL, name: 'crypto-alerts' },
    { id: 'C0NOBOT01', name: 'trading-desk', botMember: false },
    { id: 'D0PEOPLE1', kind: 'im' as const, members: [OPS, 'U0VIEW01'], botMember: false },
  ];

  for (const [where, channelId] of [
    ['a channel the bot is not in', 'C0NOBOT01'],
    ['a DM between people', 'D0PEOPLE1'],
  ] as const) {
    it(`runs a retrain asked for in ${where} with its progress thread in the feed channel, linked back`, async () => {
      const { slack, audits } = await harness({ slack: { channels } });
      await slack.slashCommand({ userId: OPS, channelId, text: 'retrain' });
      await until(() => slack.ephemeral(OPS).find((m) => JSON.stringify(m).includes(RETRAIN_CONFIRM)));
      await slack.clickButton({ userId: OPS, channelId, actionId: RETRAIN_CONFIRM, ephemeral: true });
      const root = await until(() => slack.channelMessages(CHANNEL).find((m) => m.text.startsWith('🔁')));
      expect(root.text).toContain('a conversation the bot is not in');
      const link = await until(() => slack.ephemeral(OPS).find((m) => m.text.startsWith('Retrain started')));
      expect(link.text).toContain(`archives/${CHANNEL}/p`);
      expect(link.text).toContain('in the feed channel');
      const done = await until(
        () => audits().find((a) => a.what === 'retrain' && a.result.startsWith('succeeded')),
        20_000,
      );
      expect(done.who).toBe(OPS);
      const refusals = slack.calls.filter(
        (c) => c.method === 'chat.postMessage' && (c.response as { ok?: boolean }).ok === false,
      );
      expect(refusals).toEqual([]);
    });
  }

  it('finds a private feed channel by name and posts there', async () => {
    const { bot, lake, feedMessages } = await harness({
      hours: 3,
      feedChannel: 'crypto-private',
      slack: {
        channels: [
          { id: CHANNEL, name: 'crypto-alerts' },
          { id: 'G0PRIVATE1', name: 'crypto-private', private: true },
        ],
      },
    });
    await onlyOneAnomaly(lake);
    expect(await bot.feed.runOnce()).toMatchObject({ posted: 1 });
    expect(feedMessages('G0PRIVATE1')).toHaveLength(1);
  });

  it('says at start-up, in one sentence, to invite the bot when it is not in the feed channel', async () => {
    const { bot } = await harness({
      start: false,
      slack: { channels: [{ id: CHANNEL, name: 'crypto-alerts', botMember: false }] },
    });
    const failure = await bot.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as Error).message).toMatch(/not in the feed channel #crypto-alerts.*\/invite @/);
  });

  it('says at start-up that a feed channel it cannot see was not found (a private one it is not in)', async () => {
    const { bot } = await harness({
      start: false,
      feedChannel: 'crypto-private',
      slack: {
        channels: [
          { id: CHANNEL, name: 'crypto-alerts' },
          { id: 'G0PRIVATE1', name: 'crypto-private', private: true, botMember: false },
        ],
      },
    });
    await expect(bot.start()).rejects.toThrow(/#crypto-private was not found.*\/invite @/);
  });
});

describe('mentions', () => {
  it('mentions the requester in the progress reply (a mention the bot writes)', async () => {
    const { slack } = await harness();
    await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'retrain' });
    await until(() => slack.ephemeral(OPS).find((m) => JSON.stringify(m).includes(RETRAIN_CONFIRM)));
    await slack.clickButton({ userId: OPS, channelId: CHANNEL, actionId: RETRAIN_CONFIRM, ephemeral: true });
    const root = await until(() => slack.channelMessages(CHANNEL).find((m) => m.text.startsWith('🔁')));
    const progress = (
      await until(() =>
        slack.calls.find(
          (c) => c.method === 'chat.postMessage' && c.args.thread_ts === root.ts && c.status === 200,
        ),
      )
    ).args.blocks as Block[];
    expect(JSON.stringify(progress)).toContain(`<@${OPS}>`);
    expect(JSON.stringify(progress)).not.toContain(`&lt;@${OPS}&gt;`);
  });
});

describe('crash recovery and lost answers', () => {
  it('finds a message posted before a crash even when many newer messages fill the channel', async () => {
    const { slack, bot, lake, log, make, feedMessages } = await harness({
      hours: 3,
      slack: { postsPerSecond: 1_000, postBurst: 1_000, fileProcessingMs: 0 },
    });
    await onlyOneAnomaly(lake);
    // The post reaches Slack but its answer never comes back: the process "dies" waiting for it.
    slack.fault('chat.postMessage', { kind: 'stall', ms: 4_000 });
    const crashed = bot.feed.runOnce().catch(() => undefined);
    await until(() => feedMessages().length > 0);
    // People talk in the channel: the lost message is far from the newest page of history.
    const other = new WebClient(TOKEN, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    for (let i = 0; i < 250; i++) await other.chat.postMessage({ channel: CHANNEL, text: `chatter ${i}` });
    const restarted = await make(lake.platform);
    await restarted.start();
    expect(await restarted.feed.runOnce()).toMatchObject({ recovered: 1, posted: 0 });
    expect(feedMessages()).toHaveLength(1);
    expect(await log.pending(CHANNEL)).toEqual([]);
    await crashed;
  });

  it('never posts twice when a post’s answer is lost: the next cycle finds it in the channel', async () => {
    const { slack, bot, lake, feedMessages } = await harness({ hours: 3 });
    await onlyOneAnomaly(lake);
    slack.fault('chat.postMessage', { kind: 'drop' });
    await expect(bot.feed.runOnce()).rejects.toThrow(/answer to a post was lost/);
    expect(feedMessages()).toHaveLength(1);
    expect(await bot.feed.runOnce()).toMatchObject({ recovered: 1, posted: 0 });
    expect(await bot.feed.runOnce()).toMatchObject({ posted: 0 });
    expect(feedMessages()).toHaveLength(1);
    expect(windowsIn(feedMessages())).toHaveLength(1);
    expect(slack.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(1);
  });
});

describe('rate limits stay in their lane', () => {
  it('answers a command with its chart while the feed waits out a 429', async () => {
    const { slack, bot } = await harness({ hours: 30, slack: { fileProcessingMs: 100 } });
    slack.fault('chat.postMessage', { kind: 'rate_limited', retryAfter: 6 });
    const feed = bot.feed.runOnce();
    await until(() => slack.calls.find((c) => c.method === 'chat.postMessage' && c.status === 429));
    const asked = Date.now();
    await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'top 5' });
    const answer = await until(() => slack.ephemeral(OPS).find((m) => imageOf(m) !== undefined), 10_000);
    const answeredAfter = Date.now() - asked;
    expect(answer).toBeDefined();
    expect(answeredAfter).toBeLessThan(5_000);
    expect((await feed).posted).toBeGreaterThan(0);
  });

  it('paces a burst of feed messages to the channel’s limit instead of running into it', async () => {
    const { slack, bot, lake, feedMessages } = await harness({ hours: 3, slack: { fileProcessingMs: 0 } });
    await addAnomalyBurst(lake);
    const result = await bot.feed.runOnce();
    expect(result.posted).toBeGreaterThan(1);
    const posts = slack.calls.filter((c) => c.method === 'chat.postMessage');
    expect(posts.every((p) => p.status === 200)).toBe(true);
    for (let i = 1; i < posts.length; i++) {
      expect((posts[i]?.at ?? 0) - (posts[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(950);
    }
    expect(windowsIn(feedMessages()).filter((w) => w.asset.startsWith('asset-'))).toHaveLength(200);
  });
});

describe('clicks and requests cannot be replayed', () => {
  it('honours a retrain confirmation once; a replay and a crafted click are refused and audited', async () => {
    const { slack, lake, audits } = await harness();
    const confirmation = async () => {
      await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'retrain' });
      return until(() =>
        slack.ephemeral(OPS).find((m) => JSON.stringify(m.blocks ?? []).includes(RETRAIN_CONFIRM)),
      );
    };
    const first = await confirmation();
    const token = JSON.stringify(first.blocks).match(/"value":"([0-9a-f]{32})"/)?.[1] as string;
    expect(token).toBeDefined();
    await slack.clickButton({ userId: OPS, channelId: CHANNEL, actionId: RETRAIN_CONFIRM, ephemeral: true });
    await until(() => audits().find((a) => a.what === 'retrain' && a.result.startsWith('succeeded')), 20_000);
    // The same click sent again (a captured payload, freshly signed): its token was used.
    const replay = {
      type: 'block_actions',
      user: { id: OPS },
      team: { id: slack.teamId },
      api_app_id: slack.appId,
      channel: { id: CHANNEL },
      container: { type: 'message', message_ts: first.ts, channel_id: CHANNEL, is_ephemeral: true },
      trigger_id: '1.2.replayed',
      actions: [
        { action_id: RETRAIN_CONFIRM, block_id: 'b', value: token, type: 'button', action_ts: '1.2' },
      ],
    };
    const body = new URLSearchParams({ payload: JSON.stringify(replay) }).toString();
    expect((await slack.sendToBot(body, 'application/x-www-form-urlencoded')).status).toBe(200);
    // A click on a new confirmation whose value was forged.
    await confirmation();
    await slack.clickButton({
      userId: OPS,
      channelId: CHANNEL,
      actionId: RETRAIN_CONFIRM,
      value: 'retrain',
      ephemeral: true,
    });
    const refused = await until(() => {
      const found = audits().filter((a) => a.what === 'retrain (confirm)' && a.result.startsWith('refused'));
      return found.length === 2 ? found : undefined;
    });
    expect(refused.map((a) => a.result)).toEqual([
      expect.stringMatching(/^refused: confirmation already used \(run .+\)$/),
      'refused: confirmation expired or not issued to this user',
    ]);
    const said = await until(() =>
      slack.ephemeral(OPS).find((m) => m.text.startsWith('This confirmation has expired or is not yours')),
    );
    expect(said.text).toContain('nothing was started');
    expect((await lake.platform.pipeline.models()).versions).toHaveLength(2); // v1, and the one retrain
    expect(slack.channelMessages(CHANNEL).filter((m) => m.text.startsWith('🔁'))).toHaveLength(1);
  });

  it('rejects a request dated more than 5 minutes in the future, like a stale one, running nothing', async () => {
    const { slack, calls } = await harness();
    const body = slack.slashCommandBody({ userId: OPS, channelId: CHANNEL, text: 'status' });
    const future = Date.now() / 1000 + 6 * 60;
    const res = await slack.sendToBot(
      body,
      'application/x-www-form-urlencoded',
      signSlackRequest(SECRET, body, future),
    );
    expect(res.status).toBe(401);
    const nearFuture = Date.now() / 1000 + 60;
    const ok = await slack.sendToBot(
      body,
      'application/x-www-form-urlencoded',
      signSlackRequest(SECRET, body, nearFuture),
    );
    expect(ok.status).toBe(200);
    await until(() => calls.length > 0);
    expect(calls).toContain('reads.status');
  });
});
