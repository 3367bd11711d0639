import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel as BoltLogLevel, type SlashCommand } from '@slack/bolt';
import { type Logger, LogLevel, WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalSlack, signSlackRequest, startLocalSlack } from '../../src/slack/local-slack/index.js';

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

async function localSlack(): Promise<LocalSlack> {
  const slack = await startLocalSlack({ signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN });
  open.push(slack);
  return slack;
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
    const slack = await localSlack();
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
    const slack = await localSlack();
    const client = webClient(slack);
    const parent = await client.chat.postMessage({ channel: CHANNEL, text: 'parent' });
    const first = await client.chat.postMessage({ channel: CHANNEL, text: 'reply 1', thread_ts: parent.ts });
    // a reply's ts as thread_ts lands in the parent's thread, like Slack
    await client.chat.postMessage({ channel: CHANNEL, text: 'reply 2', thread_ts: first.ts });

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

  it('uploads a private PNG with filesUploadV2, serves it back and accepts it in an image block', async () => {
    const slack = await localSlack();
    const client = webClient(slack);
    const uploaded = await client.filesUploadV2({ file: PNG, filename: 'btc.png', title: 'BTC 24h' });
    const file = uploaded.files[0]?.files?.[0];
    expect(file).toMatchObject({
      name: 'btc.png',
      title: 'BTC 24h',
      mimetype: 'image/png',
      size: PNG.length,
    });
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
    const slack = await localSlack();
    const logged: string[] = [];
    const client = webClient(slack, BOT_TOKEN, logged);
    const fifty = Array.from({ length: 50 }, (_, i) => section(`block ${i}`));
    await expect(
      client.chat.postMessage({ channel: CHANNEL, text: 'ok', blocks: fifty }),
    ).resolves.toMatchObject({
      ok: true,
    });
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
    const slack = await localSlack();
    const client = webClient(slack);
    const ts: string[] = [];
    for (let i = 0; i < 7; i++)
      ts.push((await client.chat.postMessage({ channel: CHANNEL, text: `m${i}` })).ts ?? '');

    const first = await client.conversations.history({ channel: CHANNEL, limit: 3 });
    expect(first.messages?.map((m) => m.text)).toEqual(['m6', 'm5', 'm4']);
    expect(first.has_more).toBe(true);
    const cursor = first.response_metadata?.next_cursor;
    expect(cursor).toEqual(expect.any(String));

    const seen: string[] = [];
    for await (const page of client.paginate('conversations.history', { channel: CHANNEL, limit: 3 })) {
      seen.push(...((page as { messages?: Array<{ text: string }> }).messages ?? []).map((m) => m.text));
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
