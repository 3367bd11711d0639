import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client as ApiClient, PUBLIC, withOverrides } from '@microsoft/teams.api';
import { App } from '@microsoft/teams.apps';
import { InboundActivityTokenValidator } from '@microsoft/teams.apps/dist/middleware/auth/inbound-activity-token-validator.js';
import type { ILogger } from '@microsoft/teams.common';
import axios, { type AxiosResponse } from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import {
  type InboundToken,
  personalConversationId,
  startTeamsEmulator,
  type TeamsEmulator,
  teamsChannel,
  teamsTeam,
  teamsUser,
} from '../support/teams-emulator.js';
import { until } from '../support/until.js';

const APP_ID = '6f1b2c3d-1111-4222-8333-944455556666';
const APP_PASSWORD = 'emulator-secret-value';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OPS_GROUP = '0b5e2d4f-aaaa-4bbb-8ccc-ddddeeeeffff';
const NESTED_GROUP = '1c6f3e5a-aaaa-4bbb-8ccc-ddddeeeeffff';
const OTHER_GROUP = '2d7a4f6b-aaaa-4bbb-8ccc-ddddeeeeffff';

const alice = teamsUser('Alice Ops', '11111111-aaaa-4bbb-8ccc-000000000001');
const bob = teamsUser('Bob Nested', '11111111-aaaa-4bbb-8ccc-000000000002');
const carol = teamsUser('Carol Outsider', '11111111-aaaa-4bbb-8ccc-000000000003');

const silent: ILogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  trace() {},
  log() {},
  child: () => silent,
};

/** A stand-in bot endpoint that keeps what it was sent. */
interface FakeBot {
  url: string;
  received: Array<{ authorization: string | undefined; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

async function startFakeBot(): Promise<FakeBot> {
  const received: FakeBot['received'] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        authorization: req.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/messages`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let emulator: TeamsEmulator;
let bot: FakeBot;

const http = axios.create({ validateStatus: () => true });

async function token(scope: string): Promise<string> {
  const res = await http.post(
    `${emulator.loginUrl}/${TENANT_ID}/oauth2/v2.0/token`,
    new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: APP_ID,
      client_secret: APP_PASSWORD,
      scope,
    }),
  );
  expect(res.status).toBe(200);
  return (res.data as { access_token: string }).access_token;
}

const botScope = 'https://api.botframework.com/.default';
const graphScope = 'https://graph.microsoft.com/.default';

function card(version: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    contentType: 'application/vnd.microsoft.card.adaptive',
    content: { type: 'AdaptiveCard', version, body: [{ type: 'TextBlock', text: 'BTC z=4.2' }], ...extra },
  };
}

beforeAll(async () => {
  bot = await startFakeBot();
  emulator = await startTeamsEmulator({
    appId: APP_ID,
    appPassword: APP_PASSWORD,
    tenantId: TENANT_ID,
    botEndpoint: bot.url,
    graph: {
      groups: { [OPS_GROUP]: [alice.aadObjectId, NESTED_GROUP], [NESTED_GROUP]: [bob.aadObjectId] },
      users: [carol.aadObjectId],
    },
  });
});

afterAll(async () => {
  await emulator?.close();
  await bot?.close();
});

describe('inbound auth as the Bot Connector does it', () => {
  const validator = () =>
    new InboundActivityTokenValidator(
      APP_ID,
      TENANT_ID,
      undefined,
      silent,
      withOverrides(PUBLIC, { openIdMetadataUrl: emulator.openIdMetadataUrl }),
    );

  it('serves the OpenID metadata and the keys document next to it', async () => {
    const meta = await http.get(emulator.openIdMetadataUrl);
    expect(meta.data).toMatchObject({
      issuer: 'https://api.botframework.com',
      id_token_signing_alg_values_supported: ['RS256'],
    });
    const keys = await http.get((meta.data as { jwks_uri: string }).jwks_uri);
    expect((keys.data as { keys: Array<Record<string, unknown>> }).keys[0]).toMatchObject({
      kty: 'RSA',
      use: 'sig',
      endorsements: ['msteams'],
    });
  });

  it("the SDK's validator accepts the emulator's token and reads the serviceurl claim", async () => {
    const body = { serviceUrl: emulator.serviceUrl };
    const checked = await validator().check(`Bearer ${emulator.sign('valid')}`, body);
    expect(checked.serviceUrl).toBe(emulator.serviceUrl);
  });

  const bad: InboundToken[] = [
    'expired',
    'not-yet-valid',
    'foreign-key',
    'unknown-kid',
    'wrong-audience',
    'wrong-issuer',
    'wrong-serviceurl',
    'hs256',
  ];
  it.each(bad)("the SDK's validator rejects a %s token", async (kind) => {
    await expect(
      validator().check(`Bearer ${emulator.sign(kind)}`, { serviceUrl: emulator.serviceUrl }),
    ).rejects.toThrow();
  });

  it('sends no Authorization header at all for `none`', async () => {
    expect(emulator.sign('none')).toBeUndefined();
    await expect(validator().check('', { serviceUrl: emulator.serviceUrl })).rejects.toThrow(
      'No token provided',
    );
  });
});

describe('sending activities to the bot', () => {
  it('POSTs a personal message with a signed token and Teams fields', async () => {
    const activity = emulator.activities.personalMessage(alice, 'top');
    const result = await emulator.send(activity);
    expect(result.status).toBe(200);
    const got = bot.received.at(-1);
    expect(got?.authorization).toMatch(/^Bearer ey/);
    expect(got?.body).toMatchObject({
      type: 'message',
      channelId: 'msteams',
      serviceUrl: emulator.serviceUrl,
      text: 'top',
      from: { id: alice.id, aadObjectId: alice.aadObjectId },
      recipient: { id: `28:${APP_ID}` },
      conversation: {
        conversationType: 'personal',
        tenantId: TENANT_ID,
        id: personalConversationId(APP_ID, alice),
      },
    });
    expect(emulator.messages(personalConversationId(APP_ID, alice)).map((m) => m.activity.text)).toContain(
      'top',
    );
  });

  it('builds a channel @mention, an Action.Execute invoke and the installation events', async () => {
    const team = teamsTeam('Risk');
    const channel = teamsChannel('alerts');
    const mention = emulator.activities.channelMention(alice, team, channel, 'top');
    expect(mention.text).toBe('<at>crypto-risk</at> top');
    expect(mention.entities).toContainEqual({
      type: 'mention',
      text: '<at>crypto-risk</at>',
      mentioned: { id: `28:${APP_ID}`, name: 'crypto-risk' },
    });
    expect(mention.conversation).toMatchObject({
      conversationType: 'channel',
      id: `${channel.id};messageid=${mention.id}`,
    });
    const invoke = emulator.activities.cardAction(
      alice,
      mention.conversation as Record<string, unknown>,
      '123',
      'ack',
      { alertId: 'a1' },
    );
    expect(invoke).toMatchObject({
      type: 'invoke',
      name: 'adaptiveCard/action',
      replyToId: '123',
      value: { action: { type: 'Action.Execute', verb: 'ack', data: { alertId: 'a1' } }, trigger: 'manual' },
    });
    const update = emulator.activities.installedInTeamUpdate(alice, team);
    expect(update).toMatchObject({ type: 'conversationUpdate', membersAdded: [{ id: `28:${APP_ID}` }] });
    expect(emulator.activities.installedInTeamInstallation(alice, team)).toMatchObject({
      type: 'installationUpdate',
      action: 'add',
    });
  });
});

describe('Entra token endpoint', () => {
  const url = () => `${emulator.loginUrl}/${TENANT_ID}/oauth2/v2.0/token`;
  const form = (over: Record<string, string>) =>
    new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: APP_ID,
      client_secret: APP_PASSWORD,
      scope: botScope,
      ...over,
    });

  it('issues a bearer token and counts the requests', async () => {
    const before = emulator.tokenRequests().length;
    const res = await http.post(url(), form({}));
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(emulator.tokenRequests().length).toBe(before + 1);
  });

  it.each([
    [{ client_secret: 'wrong' }, 401, 'invalid_client'],
    [{ client_id: '00000000-0000-0000-0000-000000000000' }, 400, 'unauthorized_client'],
    [{ scope: 'https://graph.microsoft.com/User.Read' }, 400, 'invalid_scope'],
    [{ scope: 'https://example.invalid/.default' }, 400, 'invalid_resource'],
    [{ grant_type: 'password' }, 400, 'unsupported_grant_type'],
  ])('refuses %o with %i %s', async (over, status, error) => {
    const res = await http.post(url(), form(over as Record<string, string>));
    expect(res.status).toBe(status);
    expect(res.data).toMatchObject({ error, error_codes: [expect.any(Number)] });
    expect(JSON.stringify(res.data)).not.toContain(APP_PASSWORD);
  });

  it('knows only its own tenant', async () => {
    const res = await http.post(`${emulator.loginUrl}/botframework.com/oauth2/v2.0/token`, form({}));
    expect(res.status).toBe(400);
  });
});

describe('connector REST API', () => {
  let conversationId: string;
  let botToken: string;

  beforeAll(async () => {
    botToken = await token(botScope);
    const activity = emulator.activities.personalMessage(alice, 'hello');
    await emulator.send(activity);
    conversationId = personalConversationId(APP_ID, alice);
  });

  const post = (path: string, body: unknown, bearer = botToken): Promise<AxiosResponse> =>
    http.post(`${emulator.serviceUrl}v3/conversations/${path}`, body, {
      headers: { authorization: `Bearer ${bearer}` },
    });

  it('needs a bot-scoped token from the token endpoint', async () => {
    const none = await http.post(`${emulator.serviceUrl}v3/conversations/${conversationId}/activities`, {
      type: 'message',
      text: 'x',
    });
    expect(none.status).toBe(401);
    const graphToken = await token(graphScope);
    expect(
      (await post(`${conversationId}/activities`, { type: 'message', text: 'x' }, graphToken)).status,
    ).toBe(401);
  });

  it('sends, updates and records through the SDK ApiClient', async () => {
    const api = new ApiClient(emulator.serviceUrl, { token: botToken });
    const sent = await api.conversations
      .activities(conversationId)
      .create({ type: 'message', text: 'first', attachments: [card('1.5') as never] });
    expect(sent.id).toMatch(/^\d+$/);
    await api.conversations.activities(conversationId).update(sent.id, { type: 'message', text: 'second' });
    const shown = emulator.botMessages(conversationId).find((m) => m.id === sent.id);
    expect(shown?.activity.text).toBe('second');
    expect(shown?.history.map((h) => h.activity.text)).toEqual(['first', 'second']);
    expect(emulator.calls.some((c) => c.method === 'PUT' && c.status === 200)).toBe(true);
  });

  it('replies, refuses unknown activities and conversations', async () => {
    const user = emulator.messages(conversationId).find((m) => !m.fromBot);
    expect(
      (await post(`${conversationId}/activities/${user?.id}`, { type: 'message', text: 'reply' })).status,
    ).toBe(201);
    const put = await http.put(
      `${emulator.serviceUrl}v3/conversations/${conversationId}/activities/999`,
      { type: 'message', text: 'x' },
      {
        headers: { authorization: `Bearer ${botToken}` },
      },
    );
    expect(put.status).toBe(404);
    expect((await post('a:unknown/activities', { type: 'message', text: 'x' })).status).toBe(404);
  });

  it('enforces the message size limit and the Adaptive Card rules', async () => {
    const big = await post(`${conversationId}/activities`, { type: 'message', text: 'x'.repeat(60_000) });
    expect(big.status).toBe(413);
    expect(big.data).toMatchObject({ error: { code: 'MessageSizeTooBig' } });
    expect(
      (await post(`${conversationId}/activities`, { type: 'message', attachments: [card('1.6')] })).status,
    ).toBe(400);
    const wrongType = { contentType: 'application/json', content: { type: 'AdaptiveCard', version: '1.5' } };
    expect(
      (await post(`${conversationId}/activities`, { type: 'message', attachments: [wrongType] })).status,
    ).toBe(400);
    const execute = card('1.4', { actions: [{ type: 'Action.Execute', verb: 'ack' }] });
    expect(
      (await post(`${conversationId}/activities`, { type: 'message', attachments: [execute] })).status,
    ).toBe(400);
  });

  it('creates a 1:1 conversation for a known user and refuses one never seen (403)', async () => {
    const params = (member: string) => ({
      bot: { id: `28:${APP_ID}` },
      members: [{ id: member }],
      tenantId: TENANT_ID,
    });
    const created = await post('', params(alice.id));
    expect(created.status).toBe(201);
    expect(created.data).toEqual({ id: conversationId });
    expect((await post('', params(carol.id))).status).toBe(403);
  });
});

describe('channels, proactive threads and blocked chats', () => {
  it('opens a thread in a channel of a team the bot was installed in, and keeps the replies in it', async () => {
    const team = teamsTeam('Desk');
    const channel = teamsChannel('desk-alerts');
    await emulator.send(emulator.activities.installedInTeamUpdate(alice, team));
    const mention = emulator.activities.channelMention(alice, team, channel, 'status');
    expect((await emulator.send(mention)).status).toBe(200);
    const bearer = await token(botScope);
    const api = new ApiClient(emulator.serviceUrl, { token: bearer });
    const threadId = (mention.conversation as { id: string }).id;
    await api.conversations
      .activities(threadId)
      .reply(String(mention.id), { type: 'message', text: 'all quiet' });
    expect(emulator.messages(threadId).map((m) => m.activity.text)).toEqual([mention.text, 'all quiet']);

    const created = await http.post(
      `${emulator.serviceUrl}v3/conversations`,
      {
        isGroup: true,
        bot: { id: `28:${APP_ID}` },
        channelData: { channel: { id: team.id }, tenant: { id: TENANT_ID } },
        activity: { type: 'message', attachments: [card('1.5')] },
      },
      { headers: { authorization: `Bearer ${bearer}` } },
    );
    expect(created.status).toBe(201);
    const { id, activityId } = created.data as { id: string; activityId: string };
    expect(id).toBe(`${team.id};messageid=${activityId}`);
    expect(emulator.botMessages(team.id).map((m) => m.id)).toContain(activityId);

    const elsewhere = await http.post(
      `${emulator.serviceUrl}v3/conversations`,
      {
        isGroup: true,
        channelData: { channel: { id: teamsChannel('not-installed').id }, tenant: { id: TENANT_ID } },
        activity: { type: 'message', text: 'x' },
      },
      { headers: { authorization: `Bearer ${bearer}` } },
    );
    expect(elsewhere.status).toBe(403);
  });

  it('answers 403 MessageWritesBlocked once the user blocked the bot', async () => {
    const dave = teamsUser('Dave Blocker');
    await emulator.send(emulator.activities.installedPersonal(dave));
    const conversationId = personalConversationId(APP_ID, dave);
    emulator.block(conversationId);
    const res = await http.post(
      `${emulator.serviceUrl}v3/conversations/${conversationId}/activities`,
      { type: 'message', text: 'hello?' },
      { headers: { authorization: `Bearer ${await token(botScope)}` } },
    );
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.data)).toContain('MessageWritesBlocked');
  });
});

describe('the Teams SDK App against the emulator', () => {
  it('validates the signed activity, fetches a bot token and replies through the connector', async () => {
    const port = await freePort();
    let fetched = 0;
    const app = new App({
      clientId: APP_ID,
      tenantId: TENANT_ID,
      logger: silent,
      cloud: withOverrides(PUBLIC, { openIdMetadataUrl: emulator.openIdMetadataUrl }),
      // MSAL refuses an http:// authority, so the token comes from the emulator's endpoint directly.
      token: async (scope) => {
        fetched += 1;
        return token(String(scope));
      },
    });
    app.on('message', async ({ send, activity }) => {
      await send(`pong: ${activity.text}`);
    });
    await app.start(port);
    try {
      const url = `http://127.0.0.1:${port}/api/messages`;
      const activity = emulator.activities.personalMessage(carol, 'ping');
      expect((await emulator.send(activity, { url })).status).toBe(200);
      const conversationId = personalConversationId(APP_ID, carol);
      await until(() => emulator.botMessages(conversationId).length > 0, 3000);
      expect(emulator.botMessages(conversationId)[0]?.activity.text).toBe('pong: ping');
      expect(fetched).toBeGreaterThan(0);
      expect(
        (await emulator.send(emulator.activities.personalMessage(carol, 'x'), { url, token: 'foreign-key' }))
          .status,
      ).toBe(401);
      expect(
        (await emulator.send(emulator.activities.personalMessage(carol, 'x'), { url, token: 'none' })).status,
      ).toBe(401);
    } finally {
      await app.stop();
    }
  });
});

describe('Graph checkMemberGroups', () => {
  const check = async (user: string, groupIds: string[], bearer?: string) =>
    http.post(
      `${emulator.graphUrl}/users/${user}/checkMemberGroups`,
      { groupIds },
      {
        headers: { authorization: `Bearer ${bearer ?? (await token(graphScope))}` },
      },
    );

  it('answers direct and transitive membership', async () => {
    expect((await check(alice.aadObjectId, [OPS_GROUP, OTHER_GROUP])).data).toMatchObject({
      value: [OPS_GROUP],
    });
    expect((await check(bob.aadObjectId, [OPS_GROUP])).data).toMatchObject({ value: [OPS_GROUP] });
    expect((await check(carol.aadObjectId, [OPS_GROUP])).data).toMatchObject({ value: [] });
  });

  it('404s an unknown user, 400s bad input, 401s a bot token', async () => {
    const unknown = await check('99999999-aaaa-4bbb-8ccc-000000000009', [OPS_GROUP]);
    expect(unknown.status).toBe(404);
    expect(unknown.data).toMatchObject({ error: { code: 'Request_ResourceNotFound' } });
    expect(
      (
        await check(
          alice.aadObjectId,
          Array.from({ length: 21 }, () => OPS_GROUP),
        )
      ).status,
    ).toBe(400);
    expect((await check(alice.aadObjectId, ['not-a-guid'])).status).toBe(400);
    expect((await check(alice.aadObjectId, [OPS_GROUP], await token(botScope))).status).toBe(401);
  });
});

describe('faults and rate limits', () => {
  it('queues a one-shot 429 with Retry-After, a delay and a dropped connection', async () => {
    emulator.fault({
      method: 'POST',
      path: '/v1.0/users/*/checkMemberGroups',
      kind: 'status',
      status: 429,
      retryAfter: 3,
    });
    const graphToken = await token(graphScope);
    const call = () =>
      http.post(
        `${emulator.graphUrl}/users/${alice.aadObjectId}/checkMemberGroups`,
        { groupIds: [OPS_GROUP] },
        {
          headers: { authorization: `Bearer ${graphToken}` },
        },
      );
    const throttled = await call();
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('3');
    expect(throttled.data).toMatchObject({ error: { code: 'TooManyRequests' } });
    expect((await call()).status).toBe(200);

    emulator.fault({ path: '/v1.0/**', kind: 'delay', ms: 150 });
    const started = Date.now();
    expect((await call()).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    emulator.fault({ path: '/v1.0/**', kind: 'drop' });
    await expect(call()).rejects.toThrow();
  });

  it('keeps a persistent 503 on the connector until cleared, and records every call', async () => {
    const bearer = await token(botScope);
    const conversationId = personalConversationId(APP_ID, alice);
    emulator.fault({
      method: 'POST',
      path: '/teams/v3/conversations/*/activities',
      kind: 'status',
      status: 503,
      times: Infinity,
    });
    const send = () =>
      http.post(
        `${emulator.serviceUrl}v3/conversations/${conversationId}/activities`,
        { type: 'message', text: 'x' },
        {
          headers: { authorization: `Bearer ${bearer}` },
        },
      );
    expect([(await send()).status, (await send()).status]).toEqual([503, 503]);
    emulator.clearFaults();
    expect((await send()).status).toBe(201);
    const mine = emulator.calls.filter((c) => c.path.endsWith(`${conversationId}/activities`)).slice(-3);
    expect(mine.map((c) => c.status)).toEqual([503, 503, 201]);
    expect(mine.every((c) => c.method === 'POST' && c.ms >= 0)).toBe(true);
  });

  it('refuses an access token once it expired', async () => {
    const short = await startTeamsEmulator({
      appId: APP_ID,
      appPassword: APP_PASSWORD,
      tenantId: TENANT_ID,
      tokenLifetimeSeconds: 1,
    });
    try {
      await short.send(short.activities.personalMessage(alice, 'hi'), { url: bot.url });
      const res = await http.post(
        `${short.loginUrl}/${TENANT_ID}/oauth2/v2.0/token`,
        new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: APP_ID,
          client_secret: APP_PASSWORD,
          scope: botScope,
        }),
      );
      expect(res.data).toMatchObject({ expires_in: 1 });
      const bearer = (res.data as { access_token: string }).access_token;
      const url = `${short.serviceUrl}v3/conversations/${personalConversationId(APP_ID, alice)}/activities`;
      const post = () =>
        http.post(url, { type: 'message', text: 'x' }, { headers: { authorization: `Bearer ${bearer}` } });
      expect((await post()).status).toBe(201);
      await new Promise((r) => setTimeout(r, 2100));
      expect((await post()).status).toBe(401);
    } finally {
      await short.close();
    }
  });

  it("applies Teams' per conversation limit when asked", async () => {
    const limited = await startTeamsEmulator({
      appId: APP_ID,
      appPassword: APP_PASSWORD,
      tenantId: TENANT_ID,
      rateLimit: true,
    });
    try {
      await limited.send(limited.activities.personalMessage(alice, 'hi'), { url: bot.url });
      const res = await http.post(
        `${limited.loginUrl}/${TENANT_ID}/oauth2/v2.0/token`,
        new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: APP_ID,
          client_secret: APP_PASSWORD,
          scope: botScope,
        }),
      );
      const bearer = (res.data as { access_token: string }).access_token;
      const id = personalConversationId(APP_ID, alice);
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await http.post(
          `${limited.serviceUrl}v3/conversations/${id}/activities`,
          { type: 'message', text: `m${i}` },
          {
            headers: { authorization: `Bearer ${bearer}` },
          },
        );
        statuses.push(r.status);
        if (r.status === 429) expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
      expect(statuses.slice(0, 7).every((s) => s === 201)).toBe(true);
      expect(statuses[7]).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
