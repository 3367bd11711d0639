import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/log.js';
import { type CoinGeckoOptions, createCoinGeckoClient } from '../../src/market/coingecko.js';
import { noDrops } from '../../src/market/drops.js';
import { type CoinGeckoEmulator, startCoinGeckoEmulator } from '../support/coingecko-emulator.js';

const KEY = 'CG-TestKey-s3cr3t-0123456789';

let emu: CoinGeckoEmulator;
let logs: string[];
let logger: Logger;

beforeEach(async () => {
  emu = await startCoinGeckoEmulator();
  logs = [];
  logger = createLogger({
    level: 'debug',
    format: 'json',
    destination: { write: (line: string) => logs.push(line) },
  });
});
afterEach(async () => {
  await emu?.close();
});

const client = (overrides: Partial<CoinGeckoOptions> = {}) =>
  createCoinGeckoClient({
    plan: 'public',
    baseUrl: emu.url,
    timeoutMs: 300,
    retries: 2,
    maxRetryAfterMs: 5_000,
    retryBaseDelayMs: 5,
    logger,
    ...overrides,
  });

/** The UserError a promise rejects with (fails the test if it resolves or rejects otherwise). */
async function failure(promise: Promise<unknown>): Promise<UserError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

const logRecords = () => logs.map((line) => JSON.parse(line) as Record<string, unknown>);
const warnings = () => logRecords().filter((r) => r.level === 40);

describe('CoinGecko client against the loopback emulator', () => {
  it('parses the real /coins/markets response, keeping unknown fields and nulls', async () => {
    const raw = await (await fetch(`${emu.url}/coins/markets?vs_currency=usd&ids=bitcoin`)).json();
    const records = await client().markets(['bitcoin']);
    expect(records).toEqual(raw);
    expect(records[0]).toMatchObject({
      id: 'bitcoin',
      symbol: 'btc',
      roi: null,
      image: expect.stringContaining('https://'),
      ath_date: expect.any(String),
      market_cap_rank: 1,
    });
  });

  it('asks for usd and the ids, without a key header on the public plan', async () => {
    await client().markets(['bitcoin', 'ethereum', 'bitcoin']);
    expect(emu.requests).toHaveLength(1);
    const [request] = emu.requests;
    expect(request).toMatchObject({ method: 'GET', path: '/coins/markets' });
    expect(request?.query).toEqual({
      vs_currency: 'usd',
      ids: 'bitcoin,ethereum',
      per_page: '250',
      page: '1',
      sparkline: 'false',
    });
    expect(request?.headers.accept).toContain('application/json');
    expect(request?.headers['x-cg-demo-api-key']).toBeUndefined();
    expect(request?.headers['x-cg-pro-api-key']).toBeUndefined();
  });

  it('sends the Demo or Pro key in its header, never in the URL', async () => {
    await client({ plan: 'demo', apiKey: KEY }).markets(['bitcoin']);
    await client({ plan: 'pro', apiKey: KEY }).markets(['bitcoin']);
    const [demo, pro] = emu.requests;
    expect(demo?.headers['x-cg-demo-api-key']).toBe(KEY);
    expect(demo?.headers['x-cg-pro-api-key']).toBeUndefined();
    expect(pro?.headers['x-cg-pro-api-key']).toBe(KEY);
    expect(pro?.headers['x-cg-demo-api-key']).toBeUndefined();
    expect(JSON.stringify(emu.requests.map((r) => r.query))).not.toContain(KEY);
    expect(() => client({ plan: 'pro', apiKey: undefined })).toThrow(/COINGECKO_API_KEY/);
  });

  it('warns about ids CoinGecko does not know and leaves them out', async () => {
    const records = await client().markets(['bitcoin', 'unknown-coin', 'ethereum']);
    expect(records.map((r) => r.id)).toEqual(['bitcoin', 'ethereum']);
    expect(warnings()).toEqual([expect.objectContaining({ ids: ['unknown-coin'] })]);
  });

  it('waits out a 429 with Retry-After: 1, then succeeds', async () => {
    emu.fault({ kind: 'status', status: 429, retryAfter: '1' });
    const started = Date.now();
    const records = await client().markets(['bitcoin']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(records.map((r) => r.id)).toEqual(['bitcoin']);
    expect(emu.requests).toHaveLength(2);
    expect(warnings()).toEqual([
      expect.objectContaining({ reason: 'HTTP 429', retry: 1, waitMs: expect.any(Number) }),
    ]);
    expect(warnings()[0]?.waitMs).toBeGreaterThanOrEqual(1000);
  });

  it('fails at once when Retry-After is longer than it is willing to wait', async () => {
    emu.fault({ kind: 'status', status: 429, retryAfter: '120' });
    const started = Date.now();
    const err = await failure(client({ maxRetryAfterMs: 5_000 }).markets(['bitcoin']));
    expect(Date.now() - started).toBeLessThan(900);
    expect(emu.requests).toHaveLength(1);
    expect(err.message).toMatch(/rate-limited the request \(HTTP 429\).*120 s/);
    expect(err.message).toContain('COINGECKO_API_KEY');
    expect(err.exitCode).toBe(1);
  });

  it('says so when it is still rate-limited after its retries', async () => {
    emu.fault(
      ...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 429, retryAfter: '0' })),
    );
    const err = await failure(client().markets(['bitcoin']));
    expect(emu.requests).toHaveLength(3);
    expect(err.message).toBe(
      'CoinGecko rate-limited the request (HTTP 429) and still did after 2 retries; wait a minute or set COINGECKO_API_KEY for a higher limit.',
    );
  });

  it('retries a 500 and succeeds', async () => {
    emu.fault({ kind: 'status', status: 500 });
    expect((await client().markets(['bitcoin'])).map((r) => r.id)).toEqual(['bitcoin']);
    expect(emu.requests).toHaveLength(2);
  });

  it('gives up on a persistent 500 after `retries` retries', async () => {
    emu.fault(...Array.from({ length: 5 }, () => ({ kind: 'status' as const, status: 500 })));
    const err = await failure(client({ retries: 3 }).markets(['bitcoin']));
    expect(emu.requests).toHaveLength(4);
    expect(err.message).toMatch(
      /^CoinGecko answered HTTP 500 for \/coins\/markets.* after 3 retries; .*try again later\.$/,
    );
    expect(err.cause).toBeInstanceOf(Error);
    expect(warnings().map((w) => w.retry)).toEqual([1, 2, 3]);
  });

  it('retries a late answer, and after the last timeout says so', async () => {
    emu.fault({ kind: 'delay', ms: 500 });
    expect((await client({ timeoutMs: 150 }).markets(['bitcoin'])).map((r) => r.id)).toEqual(['bitcoin']);
    expect(emu.requests).toHaveLength(2);

    emu.fault(...Array.from({ length: 3 }, () => ({ kind: 'delay' as const, ms: 500 })));
    const err = await failure(client({ timeoutMs: 150 }).markets(['bitcoin']));
    expect(emu.requests).toHaveLength(5);
    expect(err.message).toBe(
      'CoinGecko did not answer within 150 ms (timeout) after 2 retries; check the network or try again.',
    );
  });

  it.each([
    ['truncated JSON', '[{"id":', /unexpected response for \/coins\/markets: the body is not JSON/],
    [
      'an HTML page',
      '<html><body>Just a moment...</body></html>',
      /the body is not JSON \(starts with "<html>/,
    ],
    ['an object', '{"status":"ok"}', /unexpected response for \/coins\/markets: .*expected array/],
  ])('rejects %s without retrying and without a partial result', async (_what, body, message) => {
    emu.fault({ kind: 'body', body });
    const err = await failure(client().markets(['bitcoin']));
    expect(err.message).toMatch(message);
    expect(emu.requests).toHaveLength(1);
  });

  it('drops a record of the wrong type on its own, counted, without retrying', async () => {
    emu.fault({ kind: 'body', body: '[{"id": 5}, {"id": "bitcoin", "current_price": 1}]' });
    const drops = noDrops();
    const records = await client().markets(['bitcoin'], drops);
    expect(records.map((r) => r.id)).toEqual(['bitcoin']);
    expect(drops).toEqual({
      count: 1,
      reasons: { 'id is not a string': 1 },
      sample: ['/coins/markets[0]: id is 5'],
    });
    expect(emu.requests).toHaveLength(1);
  });

  it('retries a reset connection, and names the reset when it persists', async () => {
    emu.fault({ kind: 'reset' });
    expect((await client().markets(['bitcoin'])).map((r) => r.id)).toEqual(['bitcoin']);
    expect(emu.requests).toHaveLength(2);

    emu.fault({ kind: 'reset' }, { kind: 'reset' }, { kind: 'reset' });
    const err = await failure(client().markets(['bitcoin']));
    expect(emu.requests).toHaveLength(5);
    expect(err.message).toMatch(
      /^CoinGecko could not be reached \(ECONNRESET 127\.0\.0\.1:\d+\) after 2 retries: check the network connection and COINGECKO_API_URL\.$/,
    );
  });

  it('explains a refused key', async () => {
    emu.fault({
      kind: 'status',
      status: 401,
      body: JSON.stringify({ status: { error_code: 10010, error_message: 'Invalid API Key' } }),
    });
    const err = await failure(client({ plan: 'demo', apiKey: KEY }).markets(['bitcoin']));
    expect(emu.requests).toHaveLength(1);
    expect(err.message).toBe(
      'CoinGecko answered HTTP 401: the API key was refused ("Invalid API Key"); check COINGECKO_API_KEY and COINGECKO_API_PLAN.',
    );
  });

  it('maps market_chart points to records: ISO timestamps, volumes matched by time', async () => {
    await emu.close();
    const t0 = Date.UTC(2025, 0, 7, 0, 0, 0, 123);
    const min5 = 5 * 60_000;
    emu = await startCoinGeckoEmulator({
      chart: () => ({
        prices: [
          [t0, 100],
          [t0 + min5, null],
          [t0 + 2 * min5, 102.5],
        ],
        market_caps: [[t0, 1e9]],
        total_volumes: [
          [t0 + 2 * min5, 30],
          [t0, 10],
        ],
      }),
    });
    const records = await client().marketChart({ id: 'bitcoin', symbol: 'btc', name: 'Bitcoin' }, 1);
    expect(emu.requests[0]).toMatchObject({
      path: '/coins/bitcoin/market_chart',
      query: { vs_currency: 'usd', days: '1' },
    });
    expect(records).toEqual([
      {
        id: 'bitcoin',
        symbol: 'btc',
        name: 'Bitcoin',
        current_price: 100,
        total_volume: 10,
        last_updated: '2025-01-07T00:00:00.123Z',
      },
      {
        id: 'bitcoin',
        symbol: 'btc',
        name: 'Bitcoin',
        current_price: null,
        total_volume: null,
        last_updated: '2025-01-07T00:05:00.123Z',
      },
      {
        id: 'bitcoin',
        symbol: 'btc',
        name: 'Bitcoin',
        current_price: 102.5,
        total_volume: 30,
        last_updated: '2025-01-07T00:10:00.123Z',
      },
    ]);
  });

  it('reads a default day of five-minute history, and rejects a malformed chart', async () => {
    const records = await client().marketChart({ id: 'ethereum' }, 1);
    expect(records).toHaveLength(288);
    const times = records.map((r) => Date.parse(r.last_updated ?? ''));
    expect(new Set(times.slice(1).map((t, i) => t - (times[i] ?? 0)))).toEqual(new Set([5 * 60_000]));
    expect(Math.abs(Date.now() - (times.at(-1) ?? 0))).toBeLessThan(60_000);
    expect(records[0]).toMatchObject({
      id: 'ethereum',
      symbol: null,
      name: null,
      total_volume: expect.any(Number),
    });
    expect(records[0]?.last_updated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    emu.fault({ kind: 'body', body: '{"prices":[[1736208000000,"70000"],[1736208300000,70001]]}' });
    const drops = noDrops();
    const kept = await client().marketChart({ id: 'bitcoin' }, 1, drops);
    expect(kept.map((r) => r.current_price)).toEqual([70001]);
    expect(drops.reasons).toEqual({ 'value is not a number': 1 });

    emu.fault({ kind: 'body', body: '{"prices":"none"}' });
    const err = await failure(client().marketChart({ id: 'bitcoin' }, 1));
    expect(err.message).toMatch(/unexpected response for \/coins\/bitcoin\/market_chart: prices: /);
  });

  it('reports an unknown coin in market_chart as HTTP 404', async () => {
    const err = await failure(client().marketChart({ id: 'unknown-coin' }, 1));
    expect(emu.requests).toHaveLength(1);
    expect(err.message).toMatch(/HTTP 404 for \/coins\/unknown-coin\/market_chart \("coin not found"\)/);
  });

  it('pings without retrying, and reports an unreachable server', async () => {
    await client().ping();
    expect(emu.requests.map((r) => r.path)).toEqual(['/ping']);

    emu.fault({ kind: 'status', status: 503 });
    const err = await failure(client().ping());
    expect(emu.requests).toHaveLength(2);
    expect(err.message).toMatch(/HTTP 503 for \/ping/);
    expect(err.message).not.toContain('retries');

    emu.fault({ kind: 'body', body: '<html>captive portal</html>' });
    await failure(client().ping());

    const gone = await startCoinGeckoEmulator();
    const url = gone.url;
    await gone.close();
    const down = await failure(client({ baseUrl: url }).ping(200));
    expect(down.message).toMatch(
      /^CoinGecko could not be reached \(ECONNREFUSED 127\.0\.0\.1:\d+\): check the network/,
    );
  });

  it('never lets the API key into a log line or an error message', async () => {
    const c = client({ plan: 'demo', apiKey: KEY, timeoutMs: 150 });
    emu.fault({ kind: 'status', status: 429, retryAfter: '0' }, { kind: 'reset' });
    await c.markets(['bitcoin', 'unknown-coin']);
    const errors: UserError[] = [];
    emu.fault(...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 500 })));
    errors.push(await failure(c.markets(['bitcoin'])));
    emu.fault(...Array.from({ length: 3 }, () => ({ kind: 'delay' as const, ms: 400 })));
    errors.push(await failure(c.markets(['bitcoin'])));
    emu.fault({ kind: 'status', status: 401, body: JSON.stringify({ error: `Invalid API key ${KEY}` }) });
    errors.push(await failure(c.marketChart({ id: 'bitcoin' }, 1)));
    emu.fault({ kind: 'body', body: `<html>${KEY}</html>` });
    errors.push(await failure(c.markets(['bitcoin'])));
    // as a caller would log them, the error and its cause included
    for (const err of errors) {
      logger.error({ err }, 'request failed');
      logger.error({ err: err.cause }, 'request failed: cause');
    }

    expect(emu.requests.every((r) => r.headers['x-cg-demo-api-key'] === KEY)).toBe(true);
    expect(warnings().length).toBeGreaterThanOrEqual(6);
    expect(logs.join('')).not.toContain(KEY);
    expect(logs.join('')).not.toContain(KEY.slice(3, 15));
    for (const err of errors) {
      expect(err.message).not.toContain(KEY);
      expect(JSON.stringify(err.cause)).not.toContain(KEY);
    }
    expect(errors[2]?.message).toContain('[redacted]');
  });
});
