import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createDeliveryLog } from '../../src/chat/delivery-log.js';
import { silentLogger } from '../../src/log.js';
import { createSlackBot, type SlackBot } from '../../src/slack/bot.js';
import { type LocalSlack, type SocketMessage, startLocalSlack } from '../../src/slack/local-slack/index.js';
import { createTestLakehouse, type TestLakehouse } from '../support/lakehouse.js';
import { sleep, until } from '../support/until.js';

/**
 * Socket Mode between the local Slack and the bot: Bolt's own Socket Mode client (the one the
 * product runs) against the emulator's apps.connections.open and WebSocket endpoint.
 */
const TOKEN = 'xoxb-test-token';
const APP_TOKEN = 'xapp-1-A0CRYPTO-1234567890123-0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f';
const VIEWER = 'U0VIEW01';
const CHANNEL = 'C0CRYPTO1';

let lake: TestLakehouse | undefined;
let slack: LocalSlack | undefined;
let bot: SlackBot | undefined;
afterEach(async () => {
  await bot?.stop();
  await slack?.close();
  await lake?.close();
  bot = undefined;
  slack = undefined;
  lake = undefined;
});

async function setup(options: { botTimeoutMs?: number; appToken?: string } = {}) {
  lake = await createTestLakehouse('2025-02-01T00:00:00.000Z');
  slack = await startLocalSlack({
    signingSecret: 'unused-in-socket-mode',
    botToken: TOKEN,
    appToken: APP_TOKEN,
    ...(options.botTimeoutMs ? { botTimeoutMs: options.botTimeoutMs } : {}),
  });
  const log = createDeliveryLog(lake.platform.db);
  await log.init();
  bot = await createSlackBot({
    settings: {
      botToken: TOKEN,
      appToken: options.appToken ?? APP_TOKEN,
      apiUrl: slack.apiUrl,
      feed: { channel: 'crypto-alerts' },
      opsUsers: [],
      opsUsergroup: 'S0CRYPTOOPS',
    },
    port: 0,
    platform: lake.platform,
    log,
    clock: lake.clock,
    logger: silentLogger(),
  });
  return { slack, bot };
}

const toApp = (messages: SocketMessage[], type: string) =>
  messages.filter((m) => m.direction === 'to_app' && m.message.type === type);
const helpAnswers = (s: LocalSlack) =>
  s.ephemeral(VIEWER).filter((m) => JSON.stringify(m).includes('crypto-risk-monitor commands'));

describe('Socket Mode', () => {
  it('says hello when the bot connects, then sends a command as an envelope; its ack is the answer to Slack', async () => {
    const { slack, bot } = await setup();
    await bot.start();
    const opens = slack.calls.filter((c) => c.method === 'apps.connections.open');
    expect(opens).toHaveLength(1);
    expect(opens[0]?.response).toEqual({
      ok: true,
      url: expect.stringMatching(
        new RegExp(
          `^ws://127\\.0\\.0\\.1:${new URL(slack.baseUrl).port}/link/\\?ticket=[0-9a-f-]{36}&app_id=A0CRYPTO$`,
        ),
      ),
    });
    expect(slack.socketMode.openConnections()).toBe(1);
    expect(slack.socketMode.messages[0]).toMatchObject({
      connection: 1,
      direction: 'to_app',
      message: {
        type: 'hello',
        num_connections: 1,
        debug_info: {
          host: expect.any(String),
          build_number: expect.any(Number),
          approximate_connection_time: 3600,
        },
        connection_info: { app_id: slack.appId },
      },
    });

    const ack = await slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text: 'help' });
    expect(ack).toMatchObject({ status: 200, body: '' });
    expect(ack.ms).toBeLessThan(1_000);
    const [envelope] = toApp(slack.socketMode.messages, 'slash_commands');
    expect(envelope?.message).toMatchObject({
      envelope_id: expect.any(String),
      accepts_response_payload: true,
      retry_attempt: 0,
      retry_reason: '',
      payload: {
        command: '/crypto',
        text: 'help',
        user_id: VIEWER,
        channel_id: CHANNEL,
        team_id: slack.teamId,
      },
    });
    const acks = slack.socketMode.messages.filter((m) => m.direction === 'from_app');
    expect(acks.map((m) => m.message.envelope_id)).toEqual([envelope?.message.envelope_id]);
    await until(() => helpAnswers(slack).length === 1);
  });

  it('refuses the bot token at apps.connections.open and the app-level token everywhere else', async () => {
    const { slack } = await setup();
    const api = (token: string) =>
      new WebClient(token, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    await expect(api(TOKEN).apps.connections.open()).rejects.toMatchObject({
      data: { ok: false, error: 'not_allowed_token_type' },
    });
    await expect(api('xapp-1-A0OTHER-1-ff').apps.connections.open()).rejects.toMatchObject({
      data: { error: 'invalid_auth' },
    });
    await expect(api(APP_TOKEN).chat.postMessage({ channel: CHANNEL, text: 'hi' })).rejects.toMatchObject({
      data: { error: 'not_allowed_token_type' },
    });
    // The token goes in the Authorization header; as a POST parameter it is refused.
    const res = await fetch(`${slack.apiUrl}apps.connections.open`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: APP_TOKEN }).toString(),
    });
    expect(await res.json()).toEqual({ ok: false, error: 'missing_args' });
  });

  it('a bot with an app-level token Slack does not know fails to start, saying why', async () => {
    const { bot } = await setup({ appToken: 'xapp-1-A0CRYPTO-1-not-this-one' });
    await expect(bot.start()).rejects.toThrow(/invalid_auth/);
  });

  it('a refresh_requested disconnect between an envelope and its ack: Bolt reconnects with a new URL, and the command is answered once, after the reconnect', async () => {
    const { slack, bot } = await setup();
    await bot.start();
    slack.socketMode.disconnect('refresh_requested', { afterNextEnvelope: true });
    const ack = await slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text: 'help' });
    expect(ack.status).toBe(200);

    const opens = slack.calls.filter((c) => c.method === 'apps.connections.open');
    expect(opens).toHaveLength(2);
    const urls = opens.map((c) => (c.response as { url: string }).url);
    expect(new Set(urls).size).toBe(2);

    const { messages } = slack.socketMode;
    const [first, second] = toApp(messages, 'slash_commands');
    expect(first).toMatchObject({ connection: 1, message: { retry_attempt: 0 } });
    // The disconnect went right behind the envelope, on the same connection.
    expect(messages[messages.indexOf(first as SocketMessage) + 1]).toMatchObject({
      connection: 1,
      message: { type: 'disconnect', reason: 'refresh_requested', debug_info: { host: expect.any(String) } },
    });
    const hello2 = toApp(messages, 'hello').find((m) => m.connection === 2);
    expect(hello2?.message).toMatchObject({ num_connections: 1 });
    expect(second).toMatchObject({
      connection: 2,
      message: {
        envelope_id: first?.message.envelope_id,
        retry_attempt: 1,
        retry_reason: 'timeout',
      },
    });
    // Bolt could not ack on the closing connection; the one ack came over the new one.
    const acks = messages.filter((m) => m.direction === 'from_app' && m.message.envelope_id);
    expect(acks.map((m) => m.connection)).toEqual([2]);
    expect(ack.ms).toBeGreaterThanOrEqual(3_000);

    await until(() => helpAnswers(slack).length > 0);
    await sleep(500);
    expect(helpAnswers(slack)).toHaveLength(1);
    const answered = slack.calls.filter((c) => c.method === 'response_url');
    expect(answered).toHaveLength(1);
    expect(answered[0]?.at).toBeGreaterThanOrEqual(hello2?.at ?? Number.POSITIVE_INFINITY);
  }, 30_000);

  it('redelivers an envelope the app did not ack within 3 s, with retry_attempt and retry_reason', async () => {
    const { slack, bot } = await setup({ botTimeoutMs: 4_500 });
    await bot.start();
    // The bot has no listener for this command, so Bolt does not ack its first delivery.
    const outcome = await slack
      .slashCommand({ userId: VIEWER, channelId: CHANNEL, command: '/not-ours', text: '' })
      .catch((err: Error) => err);
    const sent = toApp(slack.socketMode.messages, 'slash_commands');
    expect(sent.map((m) => [m.message.retry_attempt, m.message.retry_reason])).toEqual([
      [0, ''],
      [1, 'timeout'],
    ]);
    expect(sent[1]?.message.envelope_id).toBe(sent[0]?.message.envelope_id);
    expect((sent[1]?.at ?? 0) - (sent[0]?.at ?? 0)).toBeGreaterThanOrEqual(3_000);
    const acks = slack.socketMode.messages.filter((m) => m.direction === 'from_app');
    if (outcome instanceof Error) {
      // Unacked again: Slack gives up on the user's request, which the caller is told.
      expect(outcome.message).toMatch(/did not acknowledge the slash_commands envelope within 4500 ms/);
      expect(acks).toEqual([]);
    } else {
      // The app acked the redelivery (without running it again): that ack is the answer.
      expect(acks.every((a) => a.at >= (sent[1]?.at ?? 0))).toBe(true);
      expect(outcome.ms).toBeGreaterThanOrEqual(3_000);
    }
  }, 20_000);

  it('opens one connection per ticket: the URL Bolt connected with cannot be used again', async () => {
    const { slack, bot } = await setup();
    await bot.start();
    const opened = slack.calls.find((c) => c.method === 'apps.connections.open');
    const url = (opened?.response as { url?: string } | undefined)?.url ?? '';
    const status = await new Promise<number>((resolve, reject) => {
      const again = new WebSocket(url);
      again.on('error', () => {});
      again.once('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      again.once('open', () => reject(new Error('a used ticket opened a connection')));
    });
    expect(status).toBe(401);
    expect(slack.socketMode.openConnections()).toBe(1);
    // The bot's connection still works.
    expect((await slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text: 'help' })).status).toBe(200);
  });
});
