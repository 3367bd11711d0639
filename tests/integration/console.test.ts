import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeliveryLog } from '../../src/chat/delivery-log.js';
import type { ConsoleSettings } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { createSlackBot } from '../../src/slack/bot.js';
import { type LocalConsole, startConsole } from '../../src/slack/console.js';
import { type LocalSlack, startLocalSlack } from '../../src/slack/local-slack/index.js';
import { freePort } from '../support/free-port.js';
import { createScoredLakehouse, type TestLakehouse } from '../support/lakehouse.js';
import { sleep, until } from '../support/until.js';

const OPS = 'U0OPS01';
const VIEWER = 'U0VIEW01';
const CHANNEL = 'C0CRYPTO1';

let dir: string;
let lake: TestLakehouse | undefined;
let consoleApp: LocalConsole | undefined;
let slack: LocalSlack | undefined;
let other: Server | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-console-'));
});
afterEach(async () => {
  await consoleApp?.stop();
  await slack?.close();
  await lake?.close();
  await new Promise((resolve) => (other ? other.close(resolve) : resolve(undefined)));
  consoleApp = undefined;
  slack = undefined;
  lake = undefined;
  other = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** The product's console (startConsole) with the real bot over a lakehouse of a few simulated hours. */
async function startProductConsole(settings: Partial<ConsoleSettings> = {}) {
  lake = await createScoredLakehouse('2025-02-01T00:00:00.000Z', 4);
  const log = createDeliveryLog(lake.platform.db);
  await log.init();
  const platform = lake.platform;
  const clock = lake.clock;
  consoleApp = await startConsole({
    settings: {
      host: '127.0.0.1',
      port: await freePort(),
      slackMode: 'http',
      stateDir: join(dir, 'console'),
      feed: { channel: 'crypto-alerts' },
      opsUsers: [],
      opsUsergroup: 'S0CRYPTOOPS',
      ...settings,
    },
    logger: silentLogger(),
    createBot: (slackSettings, listen) =>
      createSlackBot({
        settings: slackSettings,
        ...listen,
        platform,
        log,
        clock,
        logger: silentLogger(),
        retrainPollMs: 50,
      }),
  });
  return consoleApp;
}

type Json = Record<string, unknown> & { ok?: boolean; error?: string };

async function get(base: string, path: string): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(`${base}${path}`, { redirect: 'manual' });
  const text = await res.text();
  let body: Json;
  try {
    body = JSON.parse(text) as Json;
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

async function post(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

interface StateMessage {
  ts: string;
  text: string;
  thread_ts?: string;
  blocks?: unknown[];
  edited?: unknown;
}

async function state(base: string, user: string) {
  const { body } = await get(base, `/console/state?user=${user}`);
  return body as unknown as {
    user: string;
    users: Array<{ id: string; name: string; groups: string[] }>;
    channels: Array<{ id: string; name: string }>;
    messages: Record<string, StateMessage[]>;
    ephemerals: Array<StateMessage & { user: string }>;
    home: { blocks: unknown[] } | null;
  };
}

/** Reads a server-sent event stream until `stop` says so; returns the events seen. */
async function readEvents(
  url: string,
  stop: (events: Array<{ event: string; data: Json }>) => boolean,
  ms = 20_000,
): Promise<Array<{ event: string; data: Json }>> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const events: Array<{ event: string; data: Json }> = [];
  try {
    const res = await fetch(url, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) as Json });
        end = buffer.indexOf('\n\n');
      }
      if (stop(events)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

describe('the console page', () => {
  it('is served with a strict content security policy, its assets by name only', async () => {
    slack = await startLocalSlack({ signingSecret: 's', botToken: 'xoxb-t' });
    const page = await fetch(`${slack.baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    const html = await page.text();
    for (const asset of html.matchAll(/(?:href|src)="(\/console\/assets\/[^"]+)"/g)) {
      const res = await fetch(`${slack.baseUrl}${asset[1]}`);
      expect(res.status, asset[1]).toBe(200);
    }
    const script = await fetch(`${slack.baseUrl}/console/assets/console.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    for (const path of [
      '/console/assets/..%2Froutes.ts',
      '/console/assets/../routes.ts',
      '/console/assets/',
    ]) {
      expect((await fetch(`${slack.baseUrl}${path}`)).status, path).toBe(404);
    }
  });

  it('answers only to its loopback names (no DNS rebinding), and only JSON posts from its own page', async () => {
    slack = await startLocalSlack({ signingSecret: 's', botToken: 'xoxb-t' });
    const { port } = new URL(slack.baseUrl);
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: '/console/state?user=U0OPS01', headers: { host } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await status(`127.0.0.1:${port}`)).toBe(200);
    expect(await status(`localhost:${port}`)).toBe(200);
    expect(await status(`attacker.example:${port}`)).toBe(421);

    const base = slack.baseUrl;
    const command = { user: OPS, channel: CHANNEL, text: '/crypto help' };
    const asText = await fetch(`${base}/console/command`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify(command),
    });
    expect(asText.status).toBe(403);
    const foreign = await post(base, '/console/command', command, { origin: 'https://attacker.example' });
    expect(foreign).toMatchObject({
      status: 403,
      body: { error: 'console requests come from the console page' },
    });
    const crossSite = await post(base, '/console/command', command, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(slack.calls).toHaveLength(0);
  });

  it('refuses bad input with a clear message and sends nothing to the bot', async () => {
    slack = await startLocalSlack({ signingSecret: 's', botToken: 'xoxb-t' });
    const base = slack.baseUrl;
    const cases: Array<[unknown, RegExp]> = [
      ['{not json', /not JSON/],
      [
        { user: OPS, channel: CHANNEL, text: 'hello there' },
        /The console sends slash commands to the app: try \/crypto help/,
      ],
      [
        { user: OPS, channel: CHANNEL, text: '/weather now' },
        /\/weather is not a valid command\. This app's command is \/crypto/,
      ],
      [{ user: 'U0NOBODY', channel: CHANNEL, text: '/crypto top' }, /There is no user U0NOBODY/],
      [{ user: OPS, channel: 'C0NOWHERE', text: '/crypto top' }, /There is no channel C0NOWHERE/],
      [{ user: '<script>', channel: CHANNEL, text: '/crypto top' }, /user: must be a user ID/],
      [{ user: OPS, channel: CHANNEL, text: `/crypto ${'x'.repeat(5000)}` }, /at most 4000 characters/],
    ];
    for (const [body, message] of cases) {
      const answer = await post(base, '/console/command', body);
      expect(answer.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(answer.body.error).toMatch(message);
    }
    const click = await post(base, '/console/click', {
      user: OPS,
      channel: CHANNEL,
      ts: 'nope',
      actionId: 'x',
    });
    expect(click).toMatchObject({ status: 400, body: { error: 'ts: must be a message ts' } });
    expect((await state(base, OPS)).ephemerals).toEqual([]);
  });

  it('tells the user when the app cannot be reached, like Slack does', async () => {
    slack = await startLocalSlack({ signingSecret: 's', botToken: 'xoxb-t' });
    slack.setBotEventsUrl(`http://127.0.0.1:${await freePort()}/slack/events`);
    const answer = await post(slack.baseUrl, '/console/command', {
      user: OPS,
      channel: CHANNEL,
      text: '/crypto top',
    });
    expect(answer).toMatchObject({
      status: 502,
      body: { error: '/crypto failed with the error "dispatch_failed"' },
    });
    expect((await get(slack.baseUrl, '/healthz')).status).toBe(503);
  });

  it('shows a body the app answers the command with at once (Slack’s immediate response)', async () => {
    slack = await startLocalSlack({ signingSecret: 's', botToken: 'xoxb-t' });
    const bodies: string[] = [];
    other = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ response_type: 'in_channel', text: 'pong from *the app*' }));
      });
    });
    await new Promise<void>((resolve) => other?.listen(0, '127.0.0.1', resolve));
    slack.setBotEventsUrl(`http://127.0.0.1:${(other.address() as AddressInfo).port}/slack/events`);
    const answer = await post(slack.baseUrl, '/console/command', {
      user: VIEWER,
      channel: CHANNEL,
      text: '/crypto ping',
    });
    expect(answer.status).toBe(200);
    expect(new URLSearchParams(bodies[0]).get('text')).toBe('ping');
    expect(new URLSearchParams(bodies[0]).get('user_id')).toBe(VIEWER);
    expect(slack.channelMessages(CHANNEL).map((m) => m.text)).toEqual(['pong from *the app*']);
  });

  it('redirects a message permalink to the page, showing that message', async () => {
    slack = await startLocalSlack({ signingSecret: 's', botToken: 'xoxb-t' });
    const res = await get(
      slack.baseUrl,
      '/archives/C0CRYPTO1/p1764111111000100?thread_ts=1764111100.000200&cid=C0CRYPTO1',
    );
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/?channel=C0CRYPTO1&message=1764111100.000200');
  });
});

describe('the console with the bot (startConsole)', () => {
  it('turns a command into a signed slash command; the answer is only visible to its user, live', async () => {
    const app = await startProductConsole();
    expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await get(app.url, '/healthz');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok', platform: 'local' } });

    const events = readEvents(`${app.url}/console/events?user=${VIEWER}`, (seen) =>
      seen.some((e) => e.event === 'ephemeral' && JSON.stringify(e.data).includes('Top anomalies')),
    );
    await sleep(200);
    const sent = await post(app.url, '/console/command', {
      user: VIEWER,
      channel: CHANNEL,
      text: '/crypto top 5 24h',
    });
    expect(sent.status).toBe(200);
    expect(sent.body.ms).toBeLessThan(3_000);
    const seen = await events;
    const live = seen.find((e) => e.event === 'ephemeral')?.data as {
      message: { user: string; blocks: Array<{ type: string; slack_file?: { id: string } }> };
    };
    expect(live.message.user).toBe(VIEWER);

    const viewer = await state(app.url, VIEWER);
    const answer = viewer.ephemerals.find((m) => JSON.stringify(m.blocks).includes('Top anomalies'));
    expect(answer).toBeDefined();
    expect((await state(app.url, OPS)).ephemerals).toEqual([]);
    // its chart is served to the page
    const image = live.message.blocks.find((b) => b.type === 'image');
    const png = await fetch(`${app.url}/console/files/${image?.slack_file?.id}`);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await png.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
  }, 60_000);

  it('refuses /crypto retrain to a viewer and runs it for an ops user who confirms, in a thread', async () => {
    const app = await startProductConsole();
    await post(app.url, '/console/command', { user: VIEWER, channel: CHANNEL, text: '/crypto retrain' });
    const refused = await until(async () =>
      (await state(app.url, VIEWER)).ephemerals.find((m) => m.text.includes('Only the ops team')),
    );
    expect(refused.text).toMatch(/Only the ops team can retrain the model/);

    await post(app.url, '/console/command', { user: OPS, channel: CHANNEL, text: '/crypto retrain' });
    const ask = await until(async () =>
      (await state(app.url, OPS)).ephemerals.find((m) =>
        JSON.stringify(m.blocks ?? []).includes('retrain_confirm'),
      ),
    );
    const clicked = await post(app.url, '/console/click', {
      user: OPS,
      channel: CHANNEL,
      ts: ask.ts,
      actionId: 'retrain_confirm',
      // the page sends the button's value: the confirmation's one-shot token
      value: JSON.stringify(ask.blocks).match(/"value":"([0-9a-f]{32})"/)?.[1],
      ephemeral: true,
    });
    expect(clicked.status).toBe(200);
    const done = await until(async () => {
      const messages = (await state(app.url, OPS)).messages[CHANNEL] ?? [];
      const root = messages.find((m) => m.text.startsWith('🔁 Model retrain asked for by <@U0OPS01>'));
      return messages.find(
        (m) =>
          root && m.thread_ts === root.ts && m.ts !== root.ts && JSON.stringify(m.blocks).includes('trained'),
      );
    }, 60_000);
    expect(done.edited).toBeDefined();
    // the confirmation was replaced by a link to the thread (once the thread is open: the bot posts
    // its two messages a second apart, the per-channel rate, so the run may be done before that)
    const after = await until(async () =>
      (await state(app.url, OPS)).ephemerals.find(
        (m) => m.ts === ask.ts && m.text.startsWith('Retrain started'),
      ),
    );
    expect(after?.text).toMatch(
      /^Retrain started: <http:\/\/127\.0\.0\.1:\d+\/archives\/C0CRYPTO1\/p\d{16}\|see its thread>\.$/,
    );
  }, 90_000);

  it('opens the App Home tab for the user who opened it', async () => {
    const app = await startProductConsole();
    const opened = await post(app.url, '/console/home', { user: VIEWER });
    expect(opened.status).toBe(200);
    const home = await until(async () => (await state(app.url, VIEWER)).home);
    expect(JSON.stringify(home.blocks)).toMatch(/Pipeline status \(local\)/);
    expect((await state(app.url, OPS)).home).toBeNull();
  }, 60_000);

  it('runs the bot in Socket Mode when asked: commands and Home openings go over its connection', async () => {
    const app = await startProductConsole({ slackMode: 'socket' });
    // No Request URL: the bot's port serves /healthz only, so an answer can only come over its socket.
    const events = await fetch(`http://127.0.0.1:${app.bot.port()}/slack/events`, {
      method: 'POST',
      body: '{}',
    });
    expect(events.status).toBe(404);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    const sent = await post(app.url, '/console/command', {
      user: VIEWER,
      channel: CHANNEL,
      text: '/crypto help',
    });
    expect(sent).toMatchObject({ status: 200, body: { ok: true } });
    expect(sent.body.ms).toBeLessThan(3_000);
    const answer = await until(async () =>
      (await state(app.url, VIEWER)).ephemerals.find((m) =>
        JSON.stringify(m).includes('crypto-risk-monitor commands'),
      ),
    );
    expect(answer).toBeDefined();
    expect((await post(app.url, '/console/home', { user: VIEWER })).status).toBe(200);
    const home = await until(async () => (await state(app.url, VIEWER)).home);
    expect(JSON.stringify(home.blocks)).toMatch(/Pipeline status \(local\)/);
  }, 60_000);

  it('says what to do when its saved history cannot be read, and leaves the file alone', async () => {
    await mkdir(join(dir, 'console'), { recursive: true });
    await writeFile(join(dir, 'console', 'workspace.json'), '{"version": 1, "messa');
    await expect(startProductConsole()).rejects.toThrow(
      /^The console's saved channel history cannot be read: .*workspace\.json is not readable JSON .*\. Move that folder away to start the console empty\.$/,
    );
    expect(await readFile(join(dir, 'console', 'workspace.json'), 'utf8')).toBe('{"version": 1, "messa');
  }, 60_000);

  it('says which port is taken instead of failing obscurely', async () => {
    slack = await startLocalSlack({ signingSecret: 's', botToken: 'xoxb-t' });
    const taken = Number(new URL(slack.baseUrl).port);
    await expect(startProductConsole({ port: taken })).rejects.toThrow(
      `The console cannot listen on 127.0.0.1:${taken}: the port is in use (another run?). Set PORT to a free port.`,
    );
  }, 60_000);
});

describe('the console workspace across restarts', () => {
  it('keeps messages, threads, edits, ephemeral answers, Home views and file bytes', async () => {
    const stateDir = join(dir, 'console');
    const token = 'xoxb-t';
    slack = await startLocalSlack({ signingSecret: 's', botToken: token, stateDir });
    const client = new WebClient(token, { slackApiUrl: slack.apiUrl });
    const root = await client.chat.postMessage({ channel: CHANNEL, text: 'root *message*' });
    await client.chat.postMessage({ channel: CHANNEL, thread_ts: root.ts as string, text: 'a reply' });
    await client.chat.update({ channel: CHANNEL, ts: root.ts as string, text: 'root, edited' });
    await client.chat.postEphemeral({ channel: CHANNEL, user: OPS, text: 'just for alice' });
    await client.views.publish({ user_id: VIEWER, view: { type: 'home', blocks: [{ type: 'divider' }] } });
    const bytes = Buffer.from('\x89PNG\r\n\x1a\nnot really a picture');
    const upload = (await client.filesUploadV2({
      file: bytes,
      filename: 'chart.png',
      channel_id: CHANNEL,
    })) as {
      files: Array<{ files: Array<{ id: string }> }>;
    };
    const fileId = upload.files[0]?.files[0]?.id as string;
    // Slack processes an upload after it completes; a restored file is a processed one
    await until(async () => (await client.files.info({ file: fileId })).file?.mimetype);
    const before = slack.channelMessages(CHANNEL);
    await slack.close();

    slack = await startLocalSlack({ signingSecret: 's', botToken: token, stateDir });
    expect(slack.channelMessages(CHANNEL)).toEqual(before);
    expect(slack.ephemeral(OPS).map((m) => m.text)).toEqual(['just for alice']);
    expect(slack.homeView(VIEWER)?.blocks).toHaveLength(1);
    expect(slack.file(fileId)?.bytes.equals(bytes)).toBe(true);
    const page = await state(slack.baseUrl, OPS);
    expect(page.messages[CHANNEL]?.map((m) => m.text)).toEqual(before.map((m) => m.text));
    // new messages come after the old ones, and ids do not repeat
    const next = await new WebClient(token, { slackApiUrl: slack.apiUrl }).chat.postMessage({
      channel: CHANNEL,
      text: 'after the restart',
    });
    expect(Number(next.ts)).toBeGreaterThan(Number(before.at(-1)?.ts));
    const again = (await new WebClient(token, { slackApiUrl: slack.apiUrl }).filesUploadV2({
      file: Buffer.from('x'),
      filename: 'x.txt',
    })) as { files: Array<{ files: Array<{ id: string }> }> };
    expect(again.files[0]?.files[0]?.id).not.toBe(fileId);
  });

  it('sends the page each change live: new messages, edits and deletions', async () => {
    const token = 'xoxb-t';
    slack = await startLocalSlack({ signingSecret: 's', botToken: token });
    const client = new WebClient(token, { slackApiUrl: slack.apiUrl });
    const events = readEvents(`${slack.baseUrl}/console/events?user=${VIEWER}`, (seen) =>
      seen.some((e) => e.event === 'message_deleted'),
    );
    await sleep(200);
    const posted = await client.chat.postMessage({ channel: CHANNEL, text: 'first' });
    await client.chat.update({ channel: CHANNEL, ts: posted.ts as string, text: 'first, edited' });
    await client.chat.postEphemeral({ channel: CHANNEL, user: OPS, text: 'not for bob' });
    await client.chat.delete({ channel: CHANNEL, ts: posted.ts as string });
    const seen = await events;
    expect(seen.map((e) => e.event)).toEqual(['message', 'message', 'message_deleted']);
    expect(seen[1]?.data.message).toMatchObject({ text: 'first, edited', edited: { user: 'U0CRYPTOBOT' } });
    expect(seen[2]?.data).toEqual({ channel: CHANNEL, ts: posted.ts });
  });
});
