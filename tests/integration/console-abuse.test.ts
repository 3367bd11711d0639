import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type LocalSlack,
  type LocalSlackOptions,
  startLocalSlack,
} from '../../src/slack/local-slack/index.js';
import { until } from '../support/until.js';

const BOT_TOKEN = 'xoxb-abuse';
const OPS = 'U0OPS01';
const VIEWER = 'U0VIEW01';

let slack: LocalSlack | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await slack?.close();
  slack = undefined;
});

async function start(options: Partial<LocalSlackOptions> = {}): Promise<{ port: number; host: string }> {
  slack = await startLocalSlack({
    signingSecret: 'abuse-secret',
    botToken: BOT_TOKEN,
    postsPerSecond: 10_000,
    postBurst: 10_000,
    ...options,
  });
  const url = new URL(slack.baseUrl);
  return { port: Number(url.port), host: url.host };
}

interface Raw {
  socket: Socket;
  /** Writes body bytes, counting them. */
  write(bytes: Buffer): boolean;
  /** Bytes of body written so far. */
  sent(): number;
  /** The status line's code, once the head has arrived. */
  status: Promise<number>;
  /** Everything received, once the server closed the connection. */
  closed: Promise<string>;
  head(): string;
}

/** A request over a socket of its own, written by hand: the head now, the body as the test says. */
function raw(port: number, head: string, options: { read?: boolean } = {}): Raw {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let received = '';
  let sent = 0;
  const status = new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (m) resolve(Number(m[1]));
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before an answer: ${received.slice(0, 200)}`)));
  });
  status.catch(() => undefined);
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  socket.on('error', () => undefined);
  socket.write(head);
  if (options.read === false) socket.pause();
  return {
    socket,
    write(bytes) {
      sent += bytes.length;
      return socket.write(bytes);
    },
    sent: () => sent,
    status,
    closed,
    head: () => received,
  };
}

function postHead(host: string, path: string, length: number | 'chunked', extra = ''): string {
  const size = length === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${length}`;
  return `POST ${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\n${size}\r\n${extra}\r\n`;
}

function eventsHead(host: string, user: string): string {
  return `GET /console/events?user=${user} HTTP/1.1\r\nhost: ${host}\r\naccept: text/event-stream\r\n\r\n`;
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms),
    ),
  ]);

/** What a page does first: its state. Proves the console still serves normally. */
async function normalUse(host: string): Promise<void> {
  const base = `http://${host}`;
  const state = await fetch(`${base}/console/state?user=${OPS}`);
  expect(state.status).toBe(200);
  expect(await state.json()).toMatchObject({ ok: true, user: OPS });
  const posted = await fetch(`${base}/api/chat.postMessage`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'C0CRYPTO1', text: 'still here' }),
  });
  expect(await posted.json()).toMatchObject({ ok: true });
}

describe('the console under abuse', () => {
  it('refuses a declared body over 1 MiB with 413 before reading it, and closes the connection', async () => {
    const { port, host } = await start();
    const r = raw(port, postHead(host, '/console/command', 2 * 1024 * 1024));
    r.write(Buffer.alloc(64 * 1024, 0x20));
    // The answer comes while 1,984 KiB of the body were never sent: the server did not wait for them.
    expect(await withTimeout(r.status, 3_000, '413')).toBe(413);
    expect(r.sent()).toBe(64 * 1024);
    await withTimeout(r.closed, 3_000, 'close');
    await normalUse(host);
  });

  it('refuses a chunked body once it passes 1 MiB, without buffering the rest', async () => {
    const { port, host } = await start();
    const r = raw(port, postHead(host, '/api/chat.postMessage', 'chunked'));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let answered = false;
    r.status.then(
      () => {
        answered = true;
      },
      () => undefined,
    );
    // Up to 16 MiB, stopping as soon as the answer is in.
    for (let i = 0; i < 256 && !answered && !r.socket.destroyed; i++) {
      r.write(Buffer.from(`${chunk.length.toString(16)}\r\n`));
      r.write(chunk);
      r.write(Buffer.from('\r\n'));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await withTimeout(r.status, 3_000, '413')).toBe(413);
    expect(r.sent()).toBeLessThan(8 * 1024 * 1024);
    await withTimeout(r.closed, 5_000, 'close');
    await normalUse(host);
  });

  it('refuses an upload over its own cap (50 MiB) from the declared length alone', async () => {
    const { port, host } = await start();
    const r = raw(port, postHead(host, '/upload/v1/anything', 51 * 1024 * 1024));
    expect(await withTimeout(r.status, 3_000, '413')).toBe(413);
  });

  it('refuses a wrong Host and an unknown path before the body (none is ever sent)', async () => {
    const { port, host } = await start();
    const wrongHost = raw(port, postHead(`evil.example:${port}`, '/console/command', 1024 * 1024));
    expect(await withTimeout(wrongHost.status, 3_000, '421')).toBe(421);
    const unknown = raw(port, postHead(host, '/no/such/path', 1024 * 1024));
    expect(await withTimeout(unknown.status, 3_000, '404')).toBe(404);
    await withTimeout(Promise.all([wrongHost.closed, unknown.closed]), 5_000, 'close');
    await normalUse(host);
  });

  it('allows 4 live-update streams per user: the 5th gets 429, another user still gets one', async () => {
    const { port, host } = await start();
    const streams = [1, 2, 3, 4].map(() => raw(port, eventsHead(host, OPS)));
    for (const s of streams) expect(await withTimeout(s.status, 3_000, 'stream')).toBe(200);
    const fifth = raw(port, eventsHead(host, OPS));
    expect(await withTimeout(fifth.status, 3_000, '429')).toBe(429);
    const other = raw(port, eventsHead(host, VIEWER));
    expect(await withTimeout(other.status, 3_000, 'viewer')).toBe(200);
    // A closed stream frees its place.
    streams[0]?.socket.destroy();
    await until(
      async () => (await withTimeout(raw(port, eventsHead(host, OPS)).status, 3_000, 'again')) === 200,
    );
  });

  it('caps live-update streams per process', async () => {
    const { port, host } = await start({ liveLimits: { perProcess: 3 } });
    for (const user of [OPS, OPS, VIEWER]) {
      expect(await withTimeout(raw(port, eventsHead(host, user)).status, 3_000, 'stream')).toBe(200);
    }
    const over = raw(port, eventsHead(host, 'U0OPS02'));
    expect(await withTimeout(over.status, 3_000, '429')).toBe(429);
    await until(() => /at most 3/.test(over.head()));
  });

  it('drops a live-update client that does not read', async () => {
    const { port, host } = await start({ liveLimits: { perUser: 1, drainTimeoutMs: 200 } });
    raw(port, eventsHead(host, OPS), { read: false });
    // It holds the user's one stream: another is refused while it stays.
    await until(async () => {
      const second = raw(port, eventsHead(host, OPS));
      return (await withTimeout(second.status, 3_000, 'second')) === 429;
    });
    // Big messages until the stalled client's buffers are full and it is dropped: then its user
    // may open a stream again (one per user here).
    const text = 'x'.repeat(39_000);
    let reopened = false;
    for (let i = 0; i < 400 && !reopened; i++) {
      await fetch(`http://${host}/api/chat.postMessage`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'C0CRYPTO1', text }),
      });
      if (i % 20 === 19) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const again = raw(port, eventsHead(host, OPS));
        reopened = (await withTimeout(again.status, 3_000, 'reopen')) === 200;
        if (!reopened) again.socket.destroy();
      }
    }
    expect(reopened).toBe(true);
    await normalUse(host);
  });

  it('answers 503 with Retry-After above 64 requests in flight, and serves again once they end', async () => {
    const { port, host } = await start();
    // Each declares a body it never sends: the request stays in flight.
    const held = Array.from({ length: 64 }, () => raw(port, postHead(host, '/console/command', 100)));
    await Promise.all(held.map((h) => new Promise((resolve) => h.socket.once('connect', resolve))));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const over = raw(port, `GET /console/state HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
    expect(await withTimeout(over.status, 3_000, '503')).toBe(503);
    expect(over.head()).toMatch(/retry-after: 1/i);
    for (const h of held) h.socket.destroy();
    await until(async () => (await fetch(`http://${host}/console/state?user=${OPS}`)).status === 200);
    await normalUse(host);
  });
});
