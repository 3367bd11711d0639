import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel as BoltLogLevel, type SlashCommand } from '@slack/bolt';
import { ErrorCode, type Logger, LogLevel, WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type ChannelOption,
  type LocalSlack,
  type LocalSlackOptions,
  signSlackRequest,
  startLocalSlack,
} from '../../src/slack/local-slack/index.js';
import {
  type ConversationKind,
  METHOD_SCOPES,
  WEB_API_METHODS,
  type WebApiMethodName,
} from '../../src/slack/local-slack/scopes.js';

const BOT_TOKEN = 'xoxb-local-test-token';
const SIGNING_SECRET = 'local-signing-secret';
const CHANNEL = 'C0CRYPTO1';
const OPS = 'U0OPS01';

/** A 1×1 RGBA PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

const open: Array<{ close(): Promise<unknown> }> = [];

afterEach(async () => {
  while (open.length > 0) await open.pop()?.close();
});

async function localSlack(options: Partial<LocalSlackOptions> = {}): Promise<LocalSlack> {
  const slack = await startLocalSlack({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN, ...options });
  open.push(slack);
  return slack;
}

/**
 * A clock the test moves: the local Slack allows one chat.postMessage per second per channel, so
 * a test posting several messages lets a second pass between them instead of waiting it out.
 */
function manualClock(start = Date.now()) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

/** A WebClient as the bot builds it; `token: null` sends none. */
function webClient(slack: LocalSlack, token: string | null = BOT_TOKEN, errors: string[] = []): WebClient {
  return new WebClient(token ?? undefined, {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 2, factor: 1, minTimeout: 10, maxTimeout: 50 },
    logger: collectingLogger(errors),
  });
}

/** Collects what the WebClient logs at error level (it logs response_metadata's [ERROR] lines). */
function collectingLogger(errors: string[]): Logger {
  return {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (...msg: unknown[]) => {
      errors.push(msg.map(String).join(' '));
    },
    setLevel: () => {},
    getLevel: () => LogLevel.ERROR,
    setName: () => {},
  };
}

function section(text: string) {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

async function waitFor<T>(read: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('local Slack Web API through a real WebClient', () => {
  it('posts with metadata and returns it from history only with include_all_metadata', async () => {
    const clock = manualClock();
    const slack = await localSlack({ now: clock.now });
    const client = webClient(slack);
    const metadata = { event_type: 'anomaly_posted', event_payload: { asset: 'bitcoin', score: -0.18 } };
    const posted = await client.chat.postMessage({
      channel: '#crypto-alerts',
      text: 'BTC anomaly',
      blocks: [section('*bitcoin* looks odd')],
      metadata,
      unfurl_links: false,
    });
    expect(posted.channel).toBe(CHANNEL);
    expect(posted.ts).toMatch(/^\d{10}\.\d{6}$/);
    clock.advance(1000);
    const second = await client.chat.postMessage({ channel: 'crypto-alerts', text: 'ETH anomaly' });
    expect(Number(second.ts)).toBeGreaterThan(Number(posted.ts));

    const plain = await client.conversations.history({ channel: CHANNEL });
    expect(plain.messages?.map((m) => m.text)).toEqual(['ETH anomaly', 'BTC anomaly']);
    expect(plain.messages?.[1]?.metadata).toBeUndefined();
    expect(plain.messages?.[1]?.bot_id).toBe(slack.botId);
    expect(plain.messages?.[1]?.blocks?.[0]?.block_id).toEqual(expect.any(String));

    const full = await client.conversations.history({ channel: CHANNEL, include_all_metadata: true });
    expect(full.messages?.[1]?.metadata).toEqual(metadata);

    const call = slack.calls.find((c) => c.method === 'chat.postMessage');
    expect(call?.args.metadata).toEqual(metadata);
    expect(call?.args.token).toBeUndefined();
  });

  it('updates a message and marks it edited', async () => {
    const slack = await localSlack();
    const client = webClient(slack);
    const { ts } = await client.chat.postMessage({ channel: CHANNEL, text: 'retraining…' });
    const updated = await client.chat.update({
      channel: CHANNEL,
      ts: ts ?? '',
      text: 'retrained: v4',
      blocks: [section('model *v4* is champion')],
    });
    expect(updated.ts).toBe(ts);
    const [message] = slack.channelMessages(CHANNEL);
    expect(message?.text).toBe('retrained: v4');
    expect(message?.blocks?.[0]?.text).toEqual({ type: 'mrkdwn', text: 'model *v4* is champion' });
    expect(message?.edited?.user).toBe(slack.botUserId);
    await expect(client.chat.update({ channel: CHANNEL, ts: '1.000001', text: 'x' })).rejects.toMatchObject({
      data: { ok: false, error: 'message_not_found' },
    });
  });

  it('keeps thread replies out of history and returns them from conversations.replies', async () => {
    const clock = manualClock();
    const slack = await localSlack({ now: clock.now });
    const client = webClient(slack);
    const parent = await client.chat.postMessage({ channel: CHANNEL, text: 'parent' });
    clock.advance(1000);
    const first = await client.chat.postMessage({ channel: CHANNEL, text: 'reply 1', thread_ts: parent.ts });
    clock.advance(1000);
    // a reply's ts as thread_ts lands in the parent's thread, like Slack
    await client.chat.postMessage({ channel: CHANNEL, text: 'reply 2', thread_ts: first.ts });
    clock.advance(1000);

    const history = await client.conversations.history({ channel: CHANNEL });
    expect(history.messages).toHaveLength(1);
    expect(history.messages?.[0]).toMatchObject({ text: 'parent', reply_count: 2, thread_ts: parent.ts });

    const replies = await client.conversations.replies({ channel: CHANNEL, ts: parent.ts ?? '' });
    expect(replies.messages?.map((m) => m.text)).toEqual(['parent', 'reply 1', 'reply 2']);
    expect(replies.messages?.[2]?.thread_ts).toBe(parent.ts);
    expect(slack.channelMessages(CHANNEL)).toHaveLength(3);
    await expect(
      client.chat.postMessage({ channel: CHANNEL, text: 'x', thread_ts: '1.000001' }),
    ).rejects.toMatchObject({ data: { error: 'thread_not_found' } });
  });

  it('uploads a private PNG with filesUploadV2, serves it back and accepts it in an image block once processed', async () => {
    const clock = manualClock();
    const slack = await localSlack({ now: clock.now });
    const client = webClient(slack);
    const uploaded = await client.filesUploadV2({ file: PNG, filename: 'btc.png', title: 'BTC 24h' });
    const file = uploaded.files[0]?.files?.[0];
    // not processed yet: no type (see the file-processing tests)
    expect(file).toMatchObject({ name: 'btc.png', title: 'BTC 24h', mimetype: '', size: PNG.length });
    clock.advance(300);
    const info = await client.files.info({ file: file?.id ?? '' });
    expect(info.file).toMatchObject({ name: 'btc.png', mimetype: 'image/png', filetype: 'png' });
    expect(file?.is_public).toBe(false);
    expect(file?.channels).toEqual([]);
    expect(slack.channelMessages(CHANNEL)).toEqual([]);
    expect(slack.file(file?.id ?? '')?.bytes.equals(PNG)).toBe(true);

    const upload = slack.calls.find((c) => c.method === 'upload_url');
    expect(upload?.args).toMatchObject({ part: 'body', bytes: PNG.length });
    expect(String(upload?.args.content_type)).toMatch(/^multipart\/form-data; boundary=/);

    const fetched = await fetch(file?.url_private ?? '', {
      headers: { authorization: `Bearer ${BOT_TOKEN}` },
    });
    expect(fetched.status).toBe(200);
    expect(fetched.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await fetched.arrayBuffer()).equals(PNG)).toBe(true);
    expect((await fetch(file?.url_private ?? '')).status).toBe(403);

    const image = { type: 'image', slack_file: { id: file?.id }, alt_text: 'BTC price, 24 h' };
    await expect(
      client.chat.postMessage({ channel: CHANNEL, text: 'chart', blocks: [image] }),
    ).resolves.toMatchObject({
      ok: true,
    });
    clock.advance(1000);
    const unknown = { ...image, slack_file: { id: 'F0NOSUCHFILE' } };
    await expect(
      client.chat.postMessage({ channel: CHANNEL, text: 'chart', blocks: [unknown] }),
    ).rejects.toMatchObject({
      data: { error: 'invalid_blocks' },
    });
  });

  it('shares an uploaded file in a channel as a message carrying it', async () => {
    const slack = await localSlack();
    const client = webClient(slack);
    const uploaded = await client.filesUploadV2({
      file: PNG,
      filename: 'eth.png',
      channel_id: CHANNEL,
      initial_comment: 'ETH chart',
    });
    const file = uploaded.files[0]?.files?.[0];
    expect(file?.channels).toEqual([CHANNEL]);
    const [message] = slack.channelMessages(CHANNEL);
    expect(message?.text).toBe('ETH chart');
    expect(message?.files?.[0]?.id).toBe(file?.id);
  });

  it('answers 429 with Retry-After, which the WebClient waits out and retries', async () => {
    const slack = await localSlack();
    const client = webClient(slack);
    slack.fault('chat.postMessage', { kind: 'rate_limited', retryAfter: 1 });
    const started = Date.now();
    const posted = await client.chat.postMessage({ channel: CHANNEL, text: 'after the limit' });
    expect(posted.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const calls = slack.calls.filter((c) => c.method === 'chat.postMessage');
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
    expect(slack.channelMessages(CHANNEL)).toHaveLength(1);
  });

  it('applies error, http and delay faults in order', async () => {
    const slack = await localSlack();
    const client = new WebClient(BOT_TOKEN, {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
      logger: collectingLogger([]),
    });
    slack.fault(
      '*',
      { kind: 'error', error: 'fatal_error' },
      { kind: 'http', status: 503 },
      { kind: 'delay', ms: 200 },
    );
    await expect(client.auth.test()).rejects.toMatchObject({ data: { error: 'fatal_error' } });
    await expect(client.auth.test()).rejects.toMatchObject({ statusCode: 503 });
    const started = Date.now();
    await expect(client.auth.test()).resolves.toMatchObject({ ok: true, user_id: slack.botUserId });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('rejects 51 blocks and a 3,001-character section with invalid_blocks', async () => {
    const clock = manualClock();
    const slack = await localSlack({ now: clock.now });
    const logged: string[] = [];
    const client = webClient(slack, BOT_TOKEN, logged);
    const fifty = Array.from({ length: 50 }, (_, i) => section(`block ${i}`));
    await expect(
      client.chat.postMessage({ channel: CHANNEL, text: 'ok', blocks: fifty }),
    ).resolves.toMatchObject({
      ok: true,
    });
    clock.advance(1000);
    await expect(
      client.chat.postMessage({ channel: CHANNEL, text: 'x', blocks: [...fifty, section('one more')] }),
    ).rejects.toMatchObject({
      data: {
        error: 'invalid_blocks',
        response_metadata: { messages: ['[ERROR] no more than 50 items allowed [json-pointer:/blocks]'] },
      },
    });
    await expect(
      client.chat.postMessage({ channel: CHANNEL, text: 'x', blocks: [section('a'.repeat(3000))] }),
    ).resolves.toMatchObject({ ok: true });
    clock.advance(1000);
    await expect(
      client.chat.postMessage({ channel: CHANNEL, text: 'x', blocks: [section('a'.repeat(3001))] }),
    ).rejects.toMatchObject({
      data: {
        error: 'invalid_blocks',
        response_metadata: {
          messages: ['[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]'],
        },
      },
    });
    expect(logged).toEqual([
      'no more than 50 items allowed [json-pointer:/blocks]',
      'must be less than 3001 characters [json-pointer:/blocks/0/text/text]',
    ]);
  });

  const button = (text: string, value = 'v', actionId = 'a') => ({
    type: 'button',
    text: { type: 'plain_text', text },
    value,
    action_id: actionId,
  });
  it.each([
    [
      '11 fields',
      { type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' })) },
    ],
    ['a 2,001-character field', { type: 'section', fields: [{ type: 'mrkdwn', text: 'f'.repeat(2001) }] }],
    ['a 151-character header', { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }],
    ['a mrkdwn header', { type: 'header', text: { type: 'mrkdwn', text: 'h' } }],
    [
      '26 actions',
      { type: 'actions', elements: Array.from({ length: 26 }, (_, i) => button('b', 'v', `a${i}`)) },
    ],
    ['a 76-character button', { type: 'actions', elements: [button('b'.repeat(76))] }],
    ['a 2,001-character button value', { type: 'actions', elements: [button('b', 'v'.repeat(2001))] }],
    [
      '11 context elements',
      { type: 'context', elements: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'c' })) },
    ],
    ['an image without alt_text', { type: 'image', image_url: 'https://example.com/a.png' }],
    [
      'an image with both sources',
      { type: 'image', image_url: 'https://example.com/a.png', slack_file: { url: 'x' }, alt_text: 'a' },
    ],
    ['an unknown block type', { type: 'table', rows: [] }],
    ['an empty section text', { type: 'section', text: { type: 'mrkdwn', text: '' } }],
  ])('rejects %s', async (_name, block) => {
    const slack = await localSlack();
    await expect(
      webClient(slack).chat.postMessage({ channel: CHANNEL, text: 'x', blocks: [block] }),
    ).rejects.toMatchObject({
      data: { error: 'invalid_blocks' },
    });
    expect(slack.channelMessages(CHANNEL)).toEqual([]);
  });

  it('answers invalid_auth to a wrong token and not_authed to none', async () => {
    const slack = await localSlack();
    await expect(webClient(slack, 'xoxb-wrong').auth.test()).rejects.toMatchObject({
      data: { error: 'invalid_auth' },
    });
    await expect(webClient(slack, null).auth.test()).rejects.toMatchObject({ data: { error: 'not_authed' } });
    await expect(webClient(slack).apiCall('chat.nope')).rejects.toMatchObject({
      data: { error: 'unknown_method' },
    });
  });

  it('answers channel_not_found for unknown channels', async () => {
    const slack = await localSlack();
    const client = webClient(slack);
    await expect(client.chat.postMessage({ channel: '#nope', text: 'x' })).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
    await expect(client.conversations.history({ channel: 'C0NOPE' })).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
  });

  it('pages history newest first with next_cursor, and filters by oldest/latest', async () => {
    const clock = manualClock();
    const slack = await localSlack({ now: clock.now });
    const client = webClient(slack);
    const ts: string[] = [];
    for (let i = 0; i < 7; i++) {
      ts.push((await client.chat.postMessage({ channel: CHANNEL, text: `m${i}` })).ts ?? '');
      clock.advance(1000);
    }

    const first = await client.conversations.history({ channel: CHANNEL, limit: 3 });
    expect(first.messages?.map((m) => m.text)).toEqual(['m6', 'm5', 'm4']);
    expect(first.has_more).toBe(true);
    const cursor = first.response_metadata?.next_cursor;
    expect(cursor).toEqual(expect.any(String));

    const seen: string[] = [];
    for await (const page of client.paginate('conversations.history', { channel: CHANNEL, limit: 3 })) {
      for (const m of (page as { messages?: Array<{ text: string }> }).messages ?? []) seen.push(m.text);
    }
    expect(seen).toEqual(['m6', 'm5', 'm4', 'm3', 'm2', 'm1', 'm0']);

    const last = await client.conversations
      .history({ channel: CHANNEL, limit: 3, cursor: 'bm9wZQ==' })
      .catch((e) => e);
    expect(last).toMatchObject({ data: { error: 'invalid_cursor' } });

    const window = await client.conversations.history({ channel: CHANNEL, oldest: ts[1], latest: ts[4] });
    expect(window.messages?.map((m) => m.text)).toEqual(['m3', 'm2']);
    const inclusive = await client.conversations.history({
      channel: CHANNEL,
      oldest: ts[1],
      latest: ts[4],
      inclusive: true,
    });
    expect(inclusive.messages?.map((m) => m.text)).toEqual(['m4', 'm3', 'm2', 'm1']);
  });

  it('publishes a Home tab view and enforces 100 blocks', async () => {
    const slack = await localSlack();
    const client = webClient(slack);
    const published = await client.views.publish({
      user_id: OPS,
      view: { type: 'home', blocks: [{ type: 'header', text: { type: 'plain_text', text: 'Crypto risk' } }] },
    });
    expect(published.view?.id).toMatch(/^V/);
    expect(slack.homeView(OPS)?.blocks[0]?.type).toBe('header');
    const hundred = Array.from({ length: 100 }, (_, i) => section(`row ${i}`));
    await expect(
      client.views.publish({ user_id: OPS, view: { type: 'home', blocks: hundred } }),
    ).resolves.toMatchObject({
      ok: true,
    });
    await expect(
      client.views.publish({ user_id: OPS, view: { type: 'home', blocks: [...hundred, section('101')] } }),
    ).rejects.toMatchObject({
      data: {
        error: 'invalid_arguments',
        response_metadata: {
          messages: ['[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]'],
        },
      },
    });
  });

  it('lists the users of a user group', async () => {
    const slack = await localSlack();
    const client = webClient(slack);
    await expect(client.usergroups.users.list({ usergroup: 'S0CRYPTOOPS' })).resolves.toMatchObject({
      users: ['U0OPS01', 'U0OPS02'],
    });
    await expect(client.usergroups.users.list({ usergroup: 'S0NOPE' })).rejects.toMatchObject({
      data: { error: 'no_such_subteam' },
    });
  });

  it('stores chat.postEphemeral messages for the user', async () => {
    const slack = await localSlack();
    const client = webClient(slack);
    const res = await client.chat.postEphemeral({ channel: CHANNEL, user: OPS, text: 'only you' });
    expect(res.message_ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(slack.ephemeral(OPS)).toMatchObject([
      { text: 'only you', channel: CHANNEL, via: 'chat.postEphemeral' },
    ]);
    expect(slack.ephemeral('U0VIEW01')).toEqual([]);
    expect(slack.channelMessages(CHANNEL)).toEqual([]);
  });
});

describe('local Slack sending signed requests to a real Bolt app', () => {
  interface Bot {
    slack: LocalSlack;
    commands: SlashCommand[];
    actions: Array<{ body: Record<string, unknown>; value: string }>;
    homeEvents: Array<{ user: string; view?: { id: string } }>;
  }

  async function bot(): Promise<Bot> {
    const slack = await localSlack();
    const commands: Bot['commands'] = [];
    const actions: Bot['actions'] = [];
    const homeEvents: Bot['homeEvents'] = [];
    const app = new App({
      token: BOT_TOKEN,
      signingSecret: SIGNING_SECRET,
      botId: slack.botId,
      botUserId: slack.botUserId,
      clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } },
      port: 0,
      logLevel: BoltLogLevel.ERROR,
    });
    app.command('/crypto', async ({ ack, command, respond }) => {
      await ack();
      commands.push(command);
      // a response_url that is used up or unknown answers 404, which respond() throws
      await respond({ response_type: 'ephemeral', text: `top anomalies for "${command.text}"` }).catch(
        () => {},
      );
    });
    app.action('retrain', async ({ ack, body, action, respond }) => {
      await ack();
      actions.push({
        body: body as unknown as Record<string, unknown>,
        value: (action as { value: string }).value,
      });
      await respond({ text: 'retrain started', replace_original: false });
    });
    app.action('dismiss', async ({ ack, body, action, respond }) => {
      await ack();
      actions.push({
        body: body as unknown as Record<string, unknown>,
        value: (action as { value: string }).value,
      });
      await respond({ delete_original: true });
    });
    app.action('approve', async ({ ack, respond }) => {
      await ack();
      await respond({ text: 'approved by ops', replace_original: true });
    });
    app.event('app_home_opened', async ({ event, client }) => {
      const view = event.view as { id: string } | undefined;
      homeEvents.push({ user: event.user, ...(view ? { view: { id: view.id } } : {}) });
      await client.views.publish({
        user_id: event.user,
        view: { type: 'home', blocks: [section(`hello <@${event.user}>`)] },
      });
    });
    const server = (await app.start()) as Server;
    open.push({ close: () => app.stop() });
    slack.setBotEventsUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`);
    return { slack, commands, actions, homeEvents };
  }

  it('delivers a slash command whose respond() lands as an ephemeral message', async () => {
    const { slack, commands } = await bot();
    const res = await slack.slashCommand({ userId: OPS, text: 'top 5' });
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(3000);
    expect(commands[0]).toMatchObject({
      command: '/crypto',
      text: 'top 5',
      user_id: OPS,
      user_name: 'ops-alice',
      channel_id: CHANNEL,
      channel_name: 'crypto-alerts',
      team_id: slack.teamId,
      api_app_id: slack.appId,
    });
    expect(commands[0]?.response_url.startsWith(slack.baseUrl)).toBe(true);
    const [reply] = await waitFor(() => (slack.ephemeral(OPS).length > 0 ? slack.ephemeral(OPS) : undefined));
    expect(reply).toMatchObject({ text: 'top anomalies for "top 5"', channel: CHANNEL, via: 'response_url' });
    expect(slack.calls.filter((c) => c.method === 'response_url')).toHaveLength(1);
  });

  it('takes at most 5 posts per response_url', async () => {
    const { slack, commands } = await bot();
    await slack.slashCommand({ userId: OPS, text: 'status' });
    await waitFor(() => slack.ephemeral(OPS)[0]);
    const url = commands[0]?.response_url ?? '';
    const post = (text: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      });
    for (let i = 2; i <= 4; i++) expect((await post(`reply ${i}`)).status).toBe(200);
    const inChannel = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'for everyone', response_type: 'in_channel' }),
    });
    expect(inChannel.status).toBe(200);
    expect(slack.channelMessages(CHANNEL)).toMatchObject([{ text: 'for everyone', user: slack.botUserId }]);
    const sixth = await post('reply 6');
    expect(sixth.status).toBe(404);
    expect(await sixth.json()).toEqual({ ok: false, error: 'used_url' });
    expect(slack.ephemeral(OPS)).toHaveLength(4);
    expect(slack.calls.filter((c) => c.method === 'response_url').map((c) => c.status)).toEqual([
      200, 200, 200, 200, 200, 404,
    ]);
  });

  it('delivers a button click as block_actions with the stored message', async () => {
    const { slack, actions } = await bot();
    const client = webClient(slack);
    const posted = await client.chat.postMessage({
      channel: CHANNEL,
      text: 'model drift',
      blocks: [
        section('drift on *bitcoin*'),
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Retrain' },
              action_id: 'retrain',
              value: 'bitcoin',
            },
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Approve' },
              action_id: 'approve',
              value: 'v3',
            },
          ],
        },
      ],
    });
    const res = await slack.clickButton({
      userId: OPS,
      channelId: CHANNEL,
      actionId: 'retrain',
      value: 'bitcoin',
    });
    expect(res.status).toBe(200);
    expect(actions[0]?.value).toBe('bitcoin');
    expect(actions[0]?.body).toMatchObject({
      type: 'block_actions',
      user: { id: OPS, username: 'ops-alice' },
      container: { type: 'message', message_ts: posted.ts, channel_id: CHANNEL, is_ephemeral: false },
      channel: { id: CHANNEL, name: 'crypto-alerts' },
      message: { ts: posted.ts, text: 'model drift' },
      actions: [{ action_id: 'retrain', type: 'button', value: 'bitcoin', text: { text: 'Retrain' } }],
    });
    await waitFor(() => slack.ephemeral(OPS)[0]);
    expect(slack.ephemeral(OPS)[0]?.text).toBe('retrain started');

    await slack.clickButton({ userId: OPS, channelId: CHANNEL, actionId: 'approve', value: 'v3' });
    await waitFor(() => (slack.channelMessages(CHANNEL)[0]?.text === 'approved by ops' ? true : undefined));
    expect(slack.channelMessages(CHANNEL)).toHaveLength(1);
  });

  it('delivers a click on an ephemeral message, which delete_original removes', async () => {
    const { slack, actions } = await bot();
    const client = webClient(slack);
    const { message_ts } = await client.chat.postEphemeral({
      channel: CHANNEL,
      user: OPS,
      text: 'confirm?',
      blocks: [
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Dismiss' },
              action_id: 'dismiss',
              value: 'no',
            },
          ],
        },
      ],
    });
    const res = await slack.clickButton({
      userId: OPS,
      channelId: CHANNEL,
      actionId: 'dismiss',
      value: 'no',
      ephemeral: true,
    });
    expect(res.status).toBe(200);
    expect(actions[0]?.body).toMatchObject({
      container: { message_ts, channel_id: CHANNEL, is_ephemeral: true },
    });
    expect(actions[0]?.body.message).toBeUndefined();
    await waitFor(() => (slack.ephemeral(OPS).length === 0 ? true : undefined));
  });

  it('delivers app_home_opened, and the published view comes back in the next event', async () => {
    const { slack, homeEvents } = await bot();
    const res = await slack.openHome(OPS);
    expect(res.status).toBe(200);
    const view = await waitFor(() => slack.homeView(OPS));
    expect(view.blocks[0]?.text).toEqual({ type: 'mrkdwn', text: `hello <@${OPS}>` });
    await slack.openHome(OPS);
    await waitFor(() => homeEvents[1]);
    await waitFor(() => slack.calls.filter((c) => c.method === 'views.publish')[1]);
    expect(homeEvents[1]?.view?.id).toBe(view.id);
  });

  it('gets 401 from Bolt for a forged signature and a 10-minute-old timestamp', async () => {
    const { slack, commands } = await bot();
    const body = new URLSearchParams({
      command: '/crypto',
      text: 'status',
      user_id: OPS,
      channel_id: CHANNEL,
      team_id: slack.teamId,
      response_url: `${slack.baseUrl}/response/none`,
    }).toString();
    const form = 'application/x-www-form-urlencoded';

    const forged = await slack.sendToBot(body, form, { 'X-Slack-Signature': `v0=${'0'.repeat(64)}` });
    expect(forged.status).toBe(401);
    const wrongSecret = await slack.sendToBot(
      body,
      form,
      signSlackRequest('not-the-secret', body, Date.now() / 1000),
    );
    expect(wrongSecret.status).toBe(401);
    const stale = await slack.sendToBot(
      body,
      form,
      signSlackRequest(SIGNING_SECRET, body, Date.now() / 1000 - 600),
    );
    expect(stale.status).toBe(401);
    expect(commands).toHaveLength(0);

    const signed = await slack.sendToBot(body, form);
    expect(signed.status).toBe(200);
    expect(commands).toHaveLength(1);
    const respondCall = await waitFor(() => slack.calls.find((c) => c.method === 'response_url'));
    expect(respondCall).toMatchObject({ status: 404, response: { ok: false, error: 'no_service' } });
  });
});

describe('local Slack enforcing what Slack documents', () => {
  const VIEWER = 'U0VIEW01';
  const CAROL = 'U0OPS02';
  /** One conversation of each kind, with the bot in it and without. */
  const CHANNELS: ChannelOption[] = [
    { id: CHANNEL, name: 'crypto-alerts' },
    { id: 'C0LOBBY01', name: 'lobby', botMember: false },
    { id: 'C0OPSPRIV', name: 'ops-private', private: true, members: [OPS, CAROL] },
    { id: 'C0SECRET1', name: 'secret', private: true, botMember: false },
    { id: 'D0OPSBOT1', kind: 'im', members: [OPS] },
    { id: 'D0PEOPLE1', kind: 'im', members: [OPS, VIEWER], botMember: false },
    { id: 'G0GROUP01', kind: 'mpim', members: [OPS, CAROL] },
    { id: 'G0PEOPLE2', kind: 'mpim', members: [OPS, CAROL, VIEWER], botMember: false },
  ];
  const HIDDEN = ['C0SECRET1', 'D0PEOPLE1', 'G0PEOPLE2'];

  /** A WebClient that neither retries nor waits out a 429, so every answer is seen as it is. */
  function strictClient(slack: LocalSlack): WebClient {
    return new WebClient(BOT_TOKEN, {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logger: collectingLogger([]),
    });
  }

  const manifestScopes = (): string[] =>
    (parse(readFileSync(new URL('../../slack/manifest.yml', import.meta.url), 'utf8')) as ManifestShape)
      .oauth_config.scopes.bot;

  async function responseUrlOf(slack: LocalSlack, channelId = CHANNEL): Promise<string> {
    const body = new URLSearchParams(slack.slashCommandBody({ userId: OPS, channelId, text: 'status' }));
    return body.get('response_url') ?? '';
  }

  function postJson(url: string, payload: unknown): Promise<Response> {
    return fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
  }

  describe('channel membership and kinds', () => {
    it('refuses posting where the bot is not a member: not_in_channel in a public channel, channel_not_found in a private one or a DM', async () => {
      const slack = await localSlack({ channels: CHANNELS });
      const client = strictClient(slack);
      const refusal = (p: Promise<unknown>) =>
        p.then(
          () => 'ok',
          (e) => (e as { data?: { error?: string } }).data?.error,
        );

      for (const channel of ['C0LOBBY01', '#lobby']) {
        expect(await refusal(client.chat.postMessage({ channel, text: 'x' }))).toBe('not_in_channel');
        expect(await refusal(client.chat.postEphemeral({ channel, user: OPS, text: 'x' }))).toBe(
          'not_in_channel',
        );
      }
      expect(await refusal(client.chat.update({ channel: 'C0LOBBY01', ts: '1.000001', text: 'x' }))).toBe(
        'not_in_channel',
      );
      for (const channel of [...HIDDEN, '#secret']) {
        expect(await refusal(client.chat.postMessage({ channel, text: 'x' }))).toBe('channel_not_found');
        expect(await refusal(client.chat.postEphemeral({ channel, user: OPS, text: 'x' }))).toBe(
          'channel_not_found',
        );
        expect(await refusal(client.chat.update({ channel, ts: '1.000001', text: 'x' }))).toBe(
          'channel_not_found',
        );
      }
      for (const id of ['C0LOBBY01', ...HIDDEN]) expect(slack.channelMessages(id)).toEqual([]);

      for (const channel of [CHANNEL, 'C0OPSPRIV', '#ops-private', 'D0OPSBOT1', 'G0GROUP01']) {
        await expect(client.chat.postEphemeral({ channel, user: OPS, text: 'x' })).resolves.toMatchObject({
          ok: true,
        });
      }
      for (const channel of [CHANNEL, 'C0OPSPRIV', 'D0OPSBOT1', 'G0GROUP01']) {
        await expect(client.chat.postMessage({ channel, text: 'x' })).resolves.toMatchObject({
          ok: true,
          channel,
        });
      }
      await expect(
        client.chat.postEphemeral({ channel: 'C0OPSPRIV', user: VIEWER, text: 'x' }),
      ).rejects.toMatchObject({
        data: { error: 'user_not_in_channel' },
      });
    });

    it('reads history and replies only where the bot is a member', async () => {
      const slack = await localSlack({ channels: CHANNELS });
      const client = strictClient(slack);
      await expect(client.conversations.history({ channel: 'C0LOBBY01' })).rejects.toMatchObject({
        data: { error: 'not_in_channel' },
      });
      await expect(
        client.conversations.replies({ channel: 'C0LOBBY01', ts: '1.000001' }),
      ).rejects.toMatchObject({
        data: { error: 'not_in_channel' },
      });
      for (const channel of HIDDEN) {
        await expect(client.conversations.history({ channel })).rejects.toMatchObject({
          data: { error: 'channel_not_found' },
        });
        await expect(client.conversations.replies({ channel, ts: '1.000001' })).rejects.toMatchObject({
          data: { error: 'channel_not_found' },
        });
      }
      const { ts } = await client.chat.postMessage({ channel: 'C0OPSPRIV', text: 'private parent' });
      await expect(client.conversations.history({ channel: 'C0OPSPRIV' })).resolves.toMatchObject({
        messages: [{ text: 'private parent' }],
      });
      await expect(
        client.conversations.replies({ channel: 'C0OPSPRIV', ts: ts ?? '' }),
      ).resolves.toMatchObject({
        messages: [{ text: 'private parent' }],
      });
    });

    it('tells the kind and the membership in conversations.info, and hides private conversations the bot is not in', async () => {
      const slack = await localSlack({ channels: CHANNELS });
      const client = strictClient(slack);
      const info = async (channel: string) => (await client.conversations.info({ channel })).channel;
      const flags = { is_channel: true, is_im: false, is_mpim: false, is_private: false, is_member: true };
      expect(await info(CHANNEL)).toMatchObject({ ...flags, id: CHANNEL, name: 'crypto-alerts' });
      expect(await info('C0LOBBY01')).toMatchObject({ ...flags, name: 'lobby', is_member: false });
      expect(await info('C0OPSPRIV')).toMatchObject({ ...flags, name: 'ops-private', is_private: true });
      expect(await info('D0OPSBOT1')).toMatchObject({
        ...flags,
        is_channel: false,
        is_im: true,
        is_private: true,
        user: OPS,
      });
      expect(await info('G0GROUP01')).toMatchObject({
        ...flags,
        is_channel: false,
        is_mpim: true,
        is_private: true,
        name: 'mpdm-ops-alice--ops-carol--crypto-risk-bot-1',
      });
      for (const channel of [...HIDDEN, 'C0NOPE']) {
        await expect(client.conversations.info({ channel })).rejects.toMatchObject({
          data: { error: 'channel_not_found' },
        });
      }
    });

    it('lists public channels by default, private ones only when asked for and only where the bot is, page by page', async () => {
      const slack = await localSlack({ channels: CHANNELS });
      const client = strictClient(slack);
      const list = async (args: { types?: string; limit?: number; cursor?: string } = {}) =>
        await client.conversations.list(args);

      const plain = await list();
      expect(plain.channels?.map((c) => [c.id, c.is_member, c.is_private])).toEqual([
        [CHANNEL, true, false],
        ['C0LOBBY01', false, false],
      ]);
      expect(plain.response_metadata?.next_cursor).toBe('');
      const withPrivate = await list({ types: 'public_channel,private_channel' });
      expect(withPrivate.channels?.map((c) => c.id)).toEqual([CHANNEL, 'C0LOBBY01', 'C0OPSPRIV']);
      expect(withPrivate.channels?.[2]).toMatchObject({
        is_private: true,
        is_member: true,
        name: 'ops-private',
      });
      expect((await list({ types: 'im, mpim' })).channels?.map((c) => c.id)).toEqual([
        'D0OPSBOT1',
        'G0GROUP01',
      ]);

      const first = await list({ types: 'public_channel,private_channel,im,mpim', limit: 2 });
      expect(first.channels?.map((c) => c.id)).toEqual([CHANNEL, 'C0LOBBY01']);
      expect(first.response_metadata?.next_cursor).not.toBe('');
      const seen: string[] = [];
      for await (const page of client.paginate('conversations.list', {
        types: 'public_channel,private_channel,im,mpim',
        limit: 2,
      })) {
        for (const c of (page as { channels?: Array<{ id: string }> }).channels ?? []) seen.push(c.id);
      }
      expect(seen).toEqual([CHANNEL, 'C0LOBBY01', 'C0OPSPRIV', 'D0OPSBOT1', 'G0GROUP01']);

      await expect(list({ types: 'channels' })).rejects.toMatchObject({ data: { error: 'invalid_types' } });
      await expect(list({ limit: 1000 })).rejects.toMatchObject({ data: { error: 'invalid_limit' } });
      await expect(list({ cursor: 'bm9wZQ==' })).rejects.toMatchObject({ data: { error: 'invalid_cursor' } });
    });

    it('keeps the default workspace: #crypto-alerts is public and has the bot in it', async () => {
      const slack = await localSlack();
      const client = strictClient(slack);
      await expect(client.conversations.info({ channel: CHANNEL })).resolves.toMatchObject({
        channel: { id: CHANNEL, name: 'crypto-alerts', is_private: false, is_member: true },
      });
      const listed = await client.conversations.list({ types: 'public_channel,private_channel' });
      expect(listed.channels?.map((c) => c.id)).toEqual([CHANNEL]);
    });

    it('sends slash commands from DMs between people, named like Slack names them, where only the response_url reaches the user', async () => {
      const slack = await localSlack({ channels: CHANNELS });
      const seen: Array<{ channel_name: string; postError?: string }> = [];
      const app = new App({
        token: BOT_TOKEN,
        signingSecret: SIGNING_SECRET,
        clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } },
        port: 0,
        logLevel: BoltLogLevel.ERROR,
      });
      app.command('/crypto', async ({ ack, command, client, respond }) => {
        await ack();
        const postError = await client.chat
          .postMessage({ channel: command.channel_id, text: 'from the bot' })
          .then(
            () => undefined,
            (e) => (e as { data?: { error?: string } }).data?.error,
          );
        seen.push({ channel_name: command.channel_name, ...(postError ? { postError } : {}) });
        await respond({ response_type: 'ephemeral', text: 'only you see this' });
      });
      const server = (await app.start()) as Server;
      open.push({ close: () => app.stop() });
      slack.setBotEventsUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`);

      expect((await slack.slashCommand({ userId: OPS, channelId: 'D0PEOPLE1', text: 'status' })).status).toBe(
        200,
      );
      await waitFor(() => seen[0]);
      expect(seen[0]).toEqual({ channel_name: 'directmessage', postError: 'channel_not_found' });
      await waitFor(() => slack.ephemeral(OPS)[0]);
      expect(slack.ephemeral(OPS)[0]).toMatchObject({ channel: 'D0PEOPLE1', text: 'only you see this' });

      await slack.slashCommand({ userId: OPS, channelId: 'G0PEOPLE2', text: 'status' });
      await waitFor(() => seen[1]);
      expect(seen[1]).toEqual({
        channel_name: 'mpdm-ops-alice--ops-carol--viewer-bob-1',
        postError: 'channel_not_found',
      });
      expect(slack.channelMessages('D0PEOPLE1')).toEqual([]);
    });

    it('refuses a DM that is not between two, and members who are not users', async () => {
      await expect(
        localSlack({ channels: [{ id: 'D0BAD', kind: 'im', members: [OPS, VIEWER] }] }),
      ).rejects.toThrow(/between two/);
      await expect(
        localSlack({ channels: [{ id: 'C0BAD', name: 'bad', members: ['U0NOBODY'] }] }),
      ).rejects.toThrow(/not users/);
    });
  });

  describe('scopes from the manifest', () => {
    it('grants the bot scopes of slack/manifest.yml and answers a missing one with missing_scope, needed and provided', async () => {
      const manifest = manifestScopes();
      expect(manifest).not.toContain('users:read');
      const slack = await localSlack();
      await expect(strictClient(slack).users.info({ user: OPS })).rejects.toMatchObject({
        data: { ok: false, error: 'missing_scope', needed: 'users:read', provided: manifest.join(',') },
      });
    });

    it('checks the scope each method needs, by the kind of conversation where it depends on it', async () => {
      const slack = await localSlack({ channels: CHANNELS, scopes: ['chat:write', 'channels:read'] });
      const client = strictClient(slack);
      const needed = (p: Promise<unknown>) =>
        p.then(
          () => 'granted',
          (e) => {
            const data = (e as { data?: { error?: string; needed?: string; provided?: string } }).data;
            expect(data?.provided).toBe('chat:write,channels:read');
            return data?.error === 'missing_scope' ? data.needed : data?.error;
          },
        );
      expect(await needed(client.auth.test())).toBe('granted');
      expect(await needed(client.chat.postMessage({ channel: CHANNEL, text: 'x' }))).toBe('granted');
      expect(await needed(client.files.info({ file: 'F0NOPE' }))).toBe('files:read');
      expect(await needed(client.files.getUploadURLExternal({ filename: 'a.png', length: 1 }))).toBe(
        'files:write',
      );
      expect(await needed(client.usergroups.users.list({ usergroup: 'S0CRYPTOOPS' }))).toBe(
        'usergroups:read',
      );
      expect(await needed(client.users.info({ user: OPS }))).toBe('users:read');
      const history = { [CHANNEL]: 'channels:history', C0OPSPRIV: 'groups:history', D0OPSBOT1: 'im:history' };
      for (const [channel, scope] of Object.entries({ ...history, G0GROUP01: 'mpim:history' })) {
        expect(await needed(client.conversations.history({ channel }))).toBe(scope);
        expect(await needed(client.conversations.replies({ channel, ts: '1.000001' }))).toBe(scope);
      }
      expect(await needed(client.conversations.info({ channel: CHANNEL }))).toBe('granted');
      for (const [channel, scope] of Object.entries({
        C0OPSPRIV: 'groups:read',
        D0OPSBOT1: 'im:read',
        G0GROUP01: 'mpim:read',
      })) {
        expect(await needed(client.conversations.info({ channel }))).toBe(scope);
      }
      expect(await needed(client.conversations.list({}))).toBe('granted');
      expect(await needed(client.conversations.list({ types: 'public_channel,private_channel' }))).toBe(
        'groups:read',
      );
      expect(await needed(client.conversations.list({ types: 'im' }))).toBe('im:read');
      // no scope needed
      expect(await needed(client.views.publish({ user_id: OPS, view: { type: 'home', blocks: [] } }))).toBe(
        'granted',
      );

      const none = await localSlack({ scopes: [] });
      await expect(
        strictClient(none).chat.postMessage({ channel: CHANNEL, text: 'x' }),
      ).rejects.toMatchObject({
        data: { error: 'missing_scope', needed: 'chat:write', provided: '' },
      });
    });

    it('names the documentation page of every method scope, and the manifest grants every scope the bot calls need', () => {
      for (const method of WEB_API_METHODS) {
        expect(METHOD_SCOPES[method].doc).toBe(`https://api.slack.com/methods/${method}`);
      }
      const need = (method: WebApiMethodName, kinds: ConversationKind[] = []): string[] => {
        const n = METHOD_SCOPES[method].need;
        if (n.kind === 'none') return [];
        if (n.kind === 'fixed') return [n.scope];
        return kinds.map((k) => n.scopes[k]);
      };
      // What the bot calls (src/slack): the feed channel public or private; conversations.info on
      // the conversation a command came from, of any kind; conversations.list of channels.
      const calls = [
        ...need('auth.test'),
        ...need('chat.postMessage'),
        ...need('chat.update'),
        ...need('chat.postEphemeral'),
        ...need('chat.delete'),
        ...need('chat.getPermalink'),
        ...need('files.getUploadURLExternal'),
        ...need('files.completeUploadExternal'),
        ...need('files.info'),
        ...need('conversations.history', ['public', 'private']),
        ...need('conversations.replies', ['public', 'private']),
        ...need('conversations.list', ['public', 'private']),
        ...need('conversations.info', ['public', 'private', 'im', 'mpim']),
        ...need('views.publish'),
        ...need('usergroups.users.list'),
      ];
      const manifest = manifestScopes();
      expect(calls.filter((scope) => !manifest.includes(scope))).toEqual([]);
    });
  });

  describe('asynchronous file processing', () => {
    it('keeps a completed upload unprocessed for fileProcessingMs: no type in files.info, refused in image blocks everywhere', async () => {
      const clock = manualClock();
      const slack = await localSlack({ now: clock.now, fileProcessingMs: 5000 });
      const client = strictClient(slack);
      const { ts } = await client.chat.postMessage({ channel: CHANNEL, text: 'chart coming' });
      const uploaded = await client.filesUploadV2({ file: PNG, filename: 'btc.png', title: 'BTC 24h' });
      const file = uploaded.files[0]?.files?.[0];
      const id = file?.id ?? '';
      expect(file).toMatchObject({ id, mimetype: '', filetype: '', pretty_type: '' });
      const info = await client.files.info({ file: id });
      expect(info).toMatchObject({
        ok: true,
        file: { id, name: 'btc.png', mimetype: '', filetype: '' },
        comments: [],
        response_metadata: { next_cursor: '' },
      });

      const image = (ref: { id: string } | { url: string }) => ({
        type: 'image',
        slack_file: ref,
        alt_text: 'BTC price, 24 h',
      });
      const invalidFile = {
        error: 'invalid_blocks',
        errors: ['invalid slack file [json-pointer:/blocks/0/slack_file]'],
      };
      clock.advance(1000);
      await expect(
        client.chat.postMessage({ channel: CHANNEL, text: 'chart', blocks: [image({ id })] }),
      ).rejects.toMatchObject({ data: invalidFile });
      await expect(
        client.chat.postMessage({
          channel: CHANNEL,
          text: 'chart',
          blocks: [image({ url: file?.url_private ?? '' })],
        }),
      ).rejects.toMatchObject({ data: invalidFile });
      await expect(
        client.chat.update({ channel: CHANNEL, ts: ts ?? '', text: 'chart', blocks: [image({ id })] }),
      ).rejects.toMatchObject({ data: invalidFile });
      await expect(
        client.views.publish({ user_id: OPS, view: { type: 'home', blocks: [image({ id })] } }),
      ).rejects.toMatchObject({
        data: {
          error: 'invalid_arguments',
          errors: ['invalid slack file [json-pointer:/view/blocks/0/slack_file]'],
        },
      });
      const url = await responseUrlOf(slack);
      const refused = await postJson(url, { text: 'chart', blocks: [image({ id })] });
      expect(refused.status).toBe(404);
      expect(await refused.json()).toMatchObject(invalidFile);
      // the bytes are there all along (url_private, and the console page's images)
      const bytes = await fetch(file?.url_private ?? '', {
        headers: { authorization: `Bearer ${BOT_TOKEN}` },
      });
      expect(bytes.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await bytes.arrayBuffer()).equals(PNG)).toBe(true);
      expect(slack.channelMessages(CHANNEL)).toHaveLength(1);

      clock.advance(4000);
      await expect(client.files.info({ file: id })).resolves.toMatchObject({
        file: { mimetype: 'image/png', filetype: 'png', pretty_type: 'PNG' },
      });
      await expect(
        client.chat.postMessage({ channel: CHANNEL, text: 'chart', blocks: [image({ id })] }),
      ).resolves.toMatchObject({ ok: true });
      await expect(
        client.chat.update({ channel: CHANNEL, ts: ts ?? '', text: 'chart', blocks: [image({ id })] }),
      ).resolves.toMatchObject({ ok: true });
      await expect(
        client.views.publish({ user_id: OPS, view: { type: 'home', blocks: [image({ id })] } }),
      ).resolves.toMatchObject({ ok: true });
      expect((await postJson(url, { text: 'chart', blocks: [image({ id })] })).status).toBe(200);
    });

    it('processes a file 300 ms after completion by default', async () => {
      const clock = manualClock();
      const slack = await localSlack({ now: clock.now });
      const client = strictClient(slack);
      const uploaded = await client.filesUploadV2({ file: PNG, filename: 'eth.png' });
      const id = uploaded.files[0]?.files?.[0]?.id ?? '';
      clock.advance(299);
      expect((await client.files.info({ file: id })).file?.mimetype).toBe('');
      clock.advance(1);
      expect((await client.files.info({ file: id })).file?.mimetype).toBe('image/png');
    });

    it('shows a shared file in history as it is when read: without a type until processed, then with it', async () => {
      const clock = manualClock();
      const slack = await localSlack({ now: clock.now });
      const client = strictClient(slack);
      await client.filesUploadV2({
        file: PNG,
        filename: 'sol.png',
        channel_id: CHANNEL,
        initial_comment: 'SOL',
      });
      const fileOf = async () =>
        (await client.conversations.history({ channel: CHANNEL })).messages?.[0]?.files?.[0];
      expect(await fileOf()).toMatchObject({ name: 'sol.png', mimetype: '' });
      clock.advance(300);
      expect(await fileOf()).toMatchObject({ name: 'sol.png', mimetype: 'image/png' });
      expect(slack.channelMessages(CHANNEL)[0]?.files?.[0]?.mimetype).toBe('image/png');
    });

    it('answers files.info with file_not_found for an unknown file and an upload not completed', async () => {
      const slack = await localSlack();
      const client = strictClient(slack);
      const { file_id } = await client.files.getUploadURLExternal({ filename: 'x.png', length: PNG.length });
      for (const file of [file_id ?? '', 'F0NOSUCHFILE']) {
        await expect(client.files.info({ file })).rejects.toMatchObject({
          data: { error: 'file_not_found' },
        });
      }
    });
  });

  describe('updates and response URLs', () => {
    it('removes the blocks of a message when chat.update gives text without blocks, and keeps them when it gives neither', async () => {
      const slack = await localSlack();
      const client = strictClient(slack);
      const { ts } = await client.chat.postMessage({
        channel: CHANNEL,
        text: 'v1',
        blocks: [section('*v1*')],
      });
      const metadata = { event_type: 'retrain', event_payload: { step: 2 } };
      await client.chat.update({ channel: CHANNEL, ts: ts ?? '', metadata } as never);
      expect(slack.channelMessages(CHANNEL)[0]?.blocks?.[0]?.text).toEqual({ type: 'mrkdwn', text: '*v1*' });
      await client.chat.update({ channel: CHANNEL, ts: ts ?? '', text: 'v2' });
      const [message] = slack.channelMessages(CHANNEL);
      expect(message).toMatchObject({ text: 'v2' });
      expect(message?.blocks).toBeUndefined();
    });

    it("posts a new message for replace_original on a slash command's response_url, and deletes nothing for delete_original", async () => {
      const slack = await localSlack();
      const url = await responseUrlOf(slack);
      expect((await postJson(url, { response_type: 'in_channel', text: 'thinking…' })).status).toBe(200);
      expect(
        (await postJson(url, { response_type: 'in_channel', text: 'done', replace_original: true })).status,
      ).toBe(200);
      expect(slack.channelMessages(CHANNEL).map((m) => m.text)).toEqual(['thinking…', 'done']);
      await postJson(url, { text: 'just you' });
      await postJson(url, { text: 'just you, again', replace_original: true });
      expect(slack.ephemeral(OPS).map((m) => m.text)).toEqual(['just you', 'just you, again']);
      expect((await postJson(url, { delete_original: true })).status).toBe(200);
      expect(slack.channelMessages(CHANNEL)).toHaveLength(2);
      expect(slack.ephemeral(OPS)).toHaveLength(2);
    });
  });

  describe('posting rate', () => {
    it('answers a second chat.postMessage within a second to a channel with HTTP 429, ratelimited and Retry-After, thread replies included', async () => {
      const clock = manualClock();
      const slack = await localSlack({ now: clock.now, channels: CHANNELS });
      const client = strictClient(slack);
      const { ts } = await client.chat.postMessage({ channel: CHANNEL, text: 'first' });
      const limited = { code: ErrorCode.RateLimitedError, retryAfter: 1 };
      await expect(client.chat.postMessage({ channel: CHANNEL, text: 'second' })).rejects.toMatchObject(
        limited,
      );
      await expect(
        client.chat.postMessage({ channel: CHANNEL, text: 'reply', thread_ts: ts }),
      ).rejects.toMatchObject(limited);
      // another channel has its own bucket
      await expect(
        client.chat.postMessage({ channel: 'C0OPSPRIV', text: 'elsewhere' }),
      ).resolves.toMatchObject({
        ok: true,
      });
      const raw = await fetch(`${slack.apiUrl}chat.postMessage`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: CHANNEL, text: 'raw' }),
      });
      expect(raw.status).toBe(429);
      expect(raw.headers.get('retry-after')).toBe('1');
      expect(await raw.json()).toEqual({ ok: false, error: 'ratelimited' });
      expect(slack.calls.filter((c) => c.method === 'chat.postMessage').map((c) => c.status)).toEqual([
        200, 429, 429, 200, 429,
      ]);
      expect(slack.channelMessages(CHANNEL).map((m) => m.text)).toEqual(['first']);

      clock.advance(999);
      await expect(client.chat.postMessage({ channel: CHANNEL, text: 'too soon' })).rejects.toMatchObject(
        limited,
      );
      clock.advance(1);
      await expect(
        client.chat.postMessage({ channel: CHANNEL, text: 'reply', thread_ts: ts }),
      ).resolves.toMatchObject({
        ok: true,
      });
    });

    it('takes postBurst messages at once and refills at postsPerSecond', async () => {
      const clock = manualClock();
      const slack = await localSlack({ now: clock.now, postBurst: 3, postsPerSecond: 2 });
      const client = strictClient(slack);
      const post = (text: string) =>
        client.chat.postMessage({ channel: CHANNEL, text }).then(
          () => 'ok',
          (e) => `retry after ${(e as { retryAfter?: number }).retryAfter}`,
        );
      expect([await post('1'), await post('2'), await post('3'), await post('4')]).toEqual([
        'ok',
        'ok',
        'ok',
        'retry after 1',
      ]);
      clock.advance(500);
      expect([await post('5'), await post('6')]).toEqual(['ok', 'retry after 1']);
      clock.advance(1000);
      expect([await post('7'), await post('8'), await post('9')]).toEqual(['ok', 'ok', 'retry after 1']);
    });

    it('refuses text over 40,000 characters with msg_too_long when posting, updating and posting ephemerally', async () => {
      const clock = manualClock();
      const slack = await localSlack({ now: clock.now });
      const client = strictClient(slack);
      const { ts } = await client.chat.postMessage({ channel: CHANNEL, text: 'a'.repeat(40_000) });
      clock.advance(1000);
      const tooLong = 'a'.repeat(40_001);
      await expect(client.chat.postMessage({ channel: CHANNEL, text: tooLong })).rejects.toMatchObject({
        data: { error: 'msg_too_long' },
      });
      await expect(
        client.chat.update({ channel: CHANNEL, ts: ts ?? '', text: tooLong }),
      ).rejects.toMatchObject({
        data: { error: 'msg_too_long' },
      });
      await expect(
        client.chat.postEphemeral({ channel: CHANNEL, user: OPS, text: tooLong }),
      ).rejects.toMatchObject({
        data: { error: 'msg_too_long' },
      });
      await expect(
        client.chat.update({ channel: CHANNEL, ts: ts ?? '', text: 'short' }),
      ).resolves.toMatchObject({
        ok: true,
      });
    });
  });
});

interface ManifestShape {
  oauth_config: { scopes: { bot: string[] } };
}
