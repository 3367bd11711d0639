import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isValidSlackRequest } from '@slack/bolt';
import { afterEach, describe, expect, it } from 'vitest';
import { createSlackHttpServer } from '../../src/slack/http-server.js';
import { signSlackRequest } from '../../src/slack/local-slack/index.js';
import { memoryLogger } from '../support/memory-logger.js';

/**
 * The product's own parts of Slack request verification: the signature the local Slack puts on
 * its requests (which Bolt must accept, and nothing else), and the bot's HTTP server, which
 * refuses a request dated too far in the future and an oversized body before Bolt sees them
 * (Bolt itself checks the signature and refuses stale timestamps).
 */

describe('signSlackRequest', () => {
  it('matches the worked example of Slack’s documentation', () => {
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', body, 1531420618)).toEqual({
      'x-slack-request-timestamp': '1531420618',
      'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    });
  });

  it('is accepted by Bolt for that body, time and secret only', () => {
    const now = 1_750_000_000_000;
    const body = 'command=%2Fcrypto&text=status';
    const check = (headers: { 'x-slack-request-timestamp': string; 'x-slack-signature': string }, b = body) =>
      isValidSlackRequest({
        signingSecret: 'secret',
        body: b,
        headers: { ...headers, 'x-slack-request-timestamp': Number(headers['x-slack-request-timestamp']) },
        nowMilliseconds: now,
      });
    const signed = signSlackRequest('secret', body, now / 1000 + 0.9);
    expect(signed['x-slack-request-timestamp']).toBe(String(now / 1000));
    expect(check(signed)).toBe(true);
    expect(check(signed, `${body}x`)).toBe(false);
    expect(check(signSlackRequest('other', body, now / 1000))).toBe(false);
    expect(check(signSlackRequest('secret', body, now / 1000 - 301))).toBe(false);
  });
});

describe('the bot’s HTTP server', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  /** The server, with a request listener standing in for Bolt's that records what reached it. */
  async function start(options: { bolt?: boolean } = {}) {
    const now = 1_750_000_000_000;
    const reached: string[] = [];
    const { logger, lines } = memoryLogger();
    const server = createSlackHttpServer({
      healthz: () => ({ status: 'ok' }),
      ...(options.bolt === false
        ? {}
        : {
            bolt: (req, res) => {
              reached.push(`${req.method} ${req.url}`);
              req.resume();
              req.on('end', () => res.writeHead(200).end('bolt'));
            },
          }),
      logger,
      now: () => now,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close = () => new Promise((resolve) => server.close(() => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = (init: RequestInit & { path?: string } = {}) =>
      fetch(`${base}${init.path ?? '/slack/events'}`, { method: 'POST', ...init });
    const dated = (offsetSeconds: number) =>
      send({ body: 'x=1', headers: { 'x-slack-request-timestamp': String(now / 1000 + offsetSeconds) } });
    /** Declares a body of `bytes` and sends none of it: the answer can only come from the headers. */
    const declared = (bytes: number) =>
      new Promise<{ status?: number; connection?: string }>((resolve, reject) => {
        const req = request(`${base}/slack/events`, {
          method: 'POST',
          headers: { 'content-length': String(bytes) },
        });
        req.on('response', (res) => {
          res.resume();
          resolve({ status: res.statusCode, connection: res.headers.connection });
          req.destroy();
        });
        req.on('error', reject);
        req.flushHeaders();
      });
    return {
      send,
      dated,
      declared,
      reached,
      warnings: () => lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40),
    };
  }

  it('refuses a request dated more than 5 minutes ahead, and passes one 5 minutes ahead on to Bolt', async () => {
    const { dated, reached, warnings } = await start();
    expect((await dated(300.001)).status).toBe(401);
    expect((await dated(3600)).status).toBe(401);
    expect(reached).toEqual([]);
    expect(warnings()).toMatchObject([
      {
        msg: 'refused a Slack request dated more than 5 minutes in the future',
        timestamp: 1_750_000_300.001,
      },
      { timestamp: 1_750_003_600 },
    ]);
    expect((await dated(300)).status).toBe(200);
    expect((await dated(-600)).status).toBe(200); // stale: Bolt refuses it
    expect((await dated(0)).status).toBe(200);
    expect(reached).toEqual(['POST /slack/events', 'POST /slack/events', 'POST /slack/events']);
  });

  it('leaves a request without a usable timestamp to Bolt (which refuses it)', async () => {
    const { send, reached } = await start();
    expect((await send({ body: 'x=1' })).status).toBe(200);
    expect((await send({ body: 'x=1', headers: { 'x-slack-request-timestamp': 'soon' } })).status).toBe(200);
    expect(reached).toHaveLength(2);
  });

  it('checks the date of POSTs only: Slack sends nothing else, and Bolt answers the rest', async () => {
    const { send, reached } = await start();
    const future = { 'x-slack-request-timestamp': String(1_750_000_000 + 3600) };
    expect((await send({ method: 'GET', headers: future })).status).toBe(200);
    expect(reached).toEqual(['GET /slack/events']);
  });

  it('refuses a body declared above 1 MiB before Bolt reads it, and takes one of exactly 1 MiB', async () => {
    const { send, declared, reached } = await start();
    expect(await declared(1024 * 1024 + 1)).toEqual({ status: 413, connection: 'close' });
    expect(reached).toEqual([]);
    expect((await send({ body: 'x'.repeat(1024 * 1024 + 1) }).catch(() => ({ status: 413 }))).status).toBe(
      413,
    );
    expect(reached).toEqual([]);
    expect((await send({ body: 'x'.repeat(1024 * 1024) })).status).toBe(200);
    expect(reached).toHaveLength(1);
  });

  it('answers /healthz to GET and HEAD without Bolt, and 404 for anything else without Bolt', async () => {
    const { send, reached } = await start();
    const health = await send({ method: 'GET', path: '/healthz' });
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toBe('application/json');
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await send({ method: 'HEAD', path: '/healthz?x=1' })).status).toBe(200);
    expect(reached).toEqual([]);
    expect((await send({ path: '/healthz' })).status).toBe(200); // a POST is Bolt's
    expect(reached).toEqual(['POST /healthz']);

    await close?.();
    const without = await start({ bolt: false });
    expect((await without.send({ body: 'x=1' })).status).toBe(404);
    expect((await without.dated(3600)).status).toBe(404);
    expect((await without.send({ method: 'GET', path: '/healthz' })).status).toBe(200);
  });
});
