import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestResult } from '../../src/domain/results.js';
import { UserError } from '../../src/errors.js';
import { runIngest } from '../../src/jobs/ingest.js';
import { createLogger, type Logger } from '../../src/log.js';
import { chartPointCap, createCoinGeckoClient } from '../../src/market/coingecko.js';
import { MAX_BATCH_RECORDS, resolveSource, type SourceDeps } from '../../src/market/sources.js';
import { type CoinGeckoEmulator, type Fault, startCoinGeckoEmulator } from '../support/coingecko-emulator.js';
import { createTestLakehouse, type TestLakehouse } from '../support/lakehouse.js';

/**
 * Hostile answers from the market sources, each through the loopback CoinGecko (or the simulator),
 * the real ingest job, a real landing folder and the local pipeline: a bad record is dropped and
 * counted on its own, a bad answer fails its run with a clear message and lands nothing, and in
 * every case good data still lands and reaches Silver.
 */

let lake: TestLakehouse;
let cg: CoinGeckoEmulator;
afterEach(async () => {
  await lake?.close();
  await cg?.close();
});

const NOW = '2026-03-02T12:00:00.000Z';
const ASSETS = ['bitcoin', 'ethereum', 'solana'];
/** One day of five-minute points ending at NOW, as CoinGecko's market_chart for days=1. */
const DAY_POINTS = 288;

function good(id: string, i: number): Record<string, unknown> {
  return {
    id,
    symbol: id.slice(0, 3),
    name: id,
    current_price: 100 * (i + 1),
    total_volume: 5e9,
    last_updated: NOW,
    roi: null,
  };
}

interface Harness {
  deps: SourceDeps;
  logs: Array<Record<string, unknown>>;
  ingest(setting?: Parameters<typeof resolveSource>[0]): Promise<IngestResult>;
  /** Runs the pipeline; returns the Silver rows per asset. */
  silver(): Promise<Record<string, number>>;
  /** The recorded ingest runs, oldest first. */
  runs(): Promise<Array<{ result: string; summary: string; detail: IngestResult | null }>>;
}

async function setup(
  options: { markets?: (ids: string[]) => unknown[]; simulator?: SourceDeps['simulator'] } = {},
): Promise<Harness> {
  lake = await createTestLakehouse(NOW);
  cg = await startCoinGeckoEmulator({
    markets: options.markets ?? ((ids) => ids.map(good)),
    chart: () => {
      const end = Date.parse(lake.clock.now().toISOString());
      const times = Array.from({ length: DAY_POINTS }, (_, i) => end - (DAY_POINTS - 1 - i) * 300_000);
      return {
        prices: times.map((t, i) => [t, 100 + i / 10]),
        market_caps: times.map((t) => [t, 1e12]),
        total_volumes: times.map((t) => [t, 2e10]),
      };
    },
  });
  const logs: Array<Record<string, unknown>> = [];
  const logger: Logger = createLogger({
    level: 'warn',
    format: 'json',
    destination: { write: (line: string) => logs.push(JSON.parse(line)) },
  });
  const deps: SourceDeps = {
    state: lake.platform.pipeline.state,
    logger,
    assets: ASSETS,
    coingecko: createCoinGeckoClient({
      plan: 'public',
      baseUrl: cg.url,
      timeoutMs: 2_000,
      retries: 0,
      maxRetryAfterMs: 1_000,
      logger,
    }),
    simulator: options.simulator ?? { seed: 7, tickSeconds: 60, historyHours: 24 },
  };
  return {
    deps,
    logs,
    async ingest(setting = { kind: 'coingecko' }) {
      const { source } = await resolveSource(setting, deps);
      return runIngest({ platform: lake.platform, clock: lake.clock, logger, source });
    },
    async silver() {
      await lake.platform.engine.runPipeline();
      const rows = await lake.table<{ asset: string; n: number }>(
        'SELECT asset, CAST(count(*) AS INTEGER) AS n FROM prices_silver GROUP BY asset ORDER BY asset',
      );
      return Object.fromEntries(rows.map((r) => [r.asset, r.n]));
    },
    async runs() {
      const rows = await lake.table<{ result: string; summary: string; detail: string | null }>(
        "SELECT result, summary, CAST(detail AS VARCHAR) AS detail FROM job_runs WHERE job = 'ingest' ORDER BY started_at, finished_at",
      );
      return rows.map((r) => ({ ...r, detail: r.detail ? (JSON.parse(r.detail) as IngestResult) : null }));
    },
  };
}

/** The snapshot batch's record count. */
const snapshotOf = (r: IngestResult) => r.batches.find((b) => b.label === 'snapshot')?.records;

describe('hostile CoinGecko records are dropped one by one, the rest of the batch lands', () => {
  it('a string price in one record', async () => {
    const h = await setup({
      markets: (ids) =>
        ids.map((id, i) => (id === 'ethereum' ? { ...good(id, i), current_price: '3000' } : good(id, i))),
    });
    const result = await h.ingest();
    expect(snapshotOf(result)).toBe(2);
    expect(result.dropped).toEqual({
      count: 1,
      reasons: { 'current_price is not a number': 1 },
      sample: ['/coins/markets[1]: current_price is "3000"'],
    });
    const [run] = await h.runs();
    expect(run?.result).toBe('succeeded');
    expect(run?.summary).toMatch(/, 1 bad source record\(s\) dropped$/);
    expect(run?.detail?.dropped.count).toBe(1);
    expect(h.logs.some((l) => l.msg === 'ingest: dropped 1 bad source record(s) and landed the rest')).toBe(
      true,
    );
    expect(await h.silver()).toEqual({ bitcoin: DAY_POINTS, solana: DAY_POINTS });
  });

  it('prices of the wrong type (boolean, array, object), a missing id, a record that is no object', async () => {
    const h = await setup({
      markets: (ids) => [
        good('bitcoin', 0),
        { ...good('ethereum', 1), current_price: true },
        { ...good('ethereum', 1), current_price: [3000] },
        { ...good('ethereum', 1), total_volume: { usd: 1 } },
        { ...good('solana', 2), id: undefined },
        'solana',
        null,
        ...ids.slice(1).map((id, i) => good(id, i + 1)),
      ],
    });
    const result = await h.ingest();
    expect(snapshotOf(result)).toBe(3);
    expect(result.dropped.count).toBe(6);
    expect(result.dropped.reasons).toEqual({
      'current_price is not a number': 2,
      'total_volume is not a number': 1,
      'id is missing': 1,
      'record is not an object': 2,
    });
    expect(result.dropped.sample).toHaveLength(5);
    expect(await h.silver()).toEqual({ bitcoin: DAY_POINTS, ethereum: DAY_POINTS, solana: DAY_POINTS });
  });

  it('ids that were not asked for never become assets', async () => {
    const h = await setup({
      markets: (ids) => [...ids.map(good), good('evil-coin', 9), good('tether', 10), good('bitcoin', 0)],
    });
    const result = await h.ingest();
    expect(snapshotOf(result)).toBe(3);
    expect(result.dropped.reasons).toEqual({ 'id was not requested': 2, 'id came twice': 1 });
    expect(cg.requests.filter((r) => r.path.endsWith('/market_chart')).map((r) => r.path)).toEqual(
      ASSETS.map((id) => `/coins/${id}/market_chart`),
    );
    expect(await h.silver()).toEqual({ bitcoin: DAY_POINTS, ethereum: DAY_POINTS, solana: DAY_POINTS });
  });

  it('a 10,000-character id and an id with control characters', async () => {
    const huge = 'a'.repeat(10_000);
    const h = await setup({
      markets: (ids) => [...ids.map(good), good(huge, 3), good('bit\u0000coin\n', 4)],
    });
    const result = await h.ingest();
    expect(snapshotOf(result)).toBe(3);
    expect(result.dropped.reasons).toEqual({ 'id is not a CoinGecko coin id': 2 });
    // The sample shows a bounded, printable piece of the id, never the id itself.
    const sample = result.dropped.sample.join('\n');
    expect(sample.length).toBeLessThan(400);
    expect(sample).toMatch(/\(10000 chars\)/);
    const control = (line: string) => line.split('').some((c) => c.charCodeAt(0) < 32);
    expect(result.dropped.sample.filter(control)).toEqual([]);
    expect(sample).toContain('id "bit?coin?" is not a coin id');
    expect(JSON.stringify(h.logs).length).toBeLessThan(5_000);
    expect(await h.silver()).toEqual({ bitcoin: DAY_POINTS, ethereum: DAY_POINTS, solana: DAY_POINTS });
  });

  it('a negative price and a price too large for a number (1e999, parsed as Infinity)', async () => {
    const h = await setup();
    const body = JSON.stringify([
      good('bitcoin', 0),
      { ...good('ethereum', 1), current_price: -5 },
      good('solana', 2),
    ]);
    cg.fault({
      kind: 'body',
      body: body.replace(
        /]$/,
        `,${JSON.stringify(good('ethereum', 1)).replace('"current_price":200', '"current_price":1e999')}]`,
      ),
    });
    const result = await h.ingest();
    expect(snapshotOf(result)).toBe(2);
    expect(result.dropped.reasons).toEqual({
      'current_price is negative': 1,
      'current_price is not finite': 1,
    });
    expect(await h.silver()).toEqual({ bitcoin: DAY_POINTS, solana: DAY_POINTS });
  });
});

describe('hostile market_chart answers', () => {
  it('a 150,000-point market_chart is cut to its newest points within the cap, counted, and lands', async () => {
    const h = await setup();
    const cap = chartPointCap(1);
    expect(cap).toBe(2 * DAY_POINTS + 2);
    // markets first, then bitcoin's chart: 150,000 five-minute points ending now.
    cg.fault({ kind: 'delay', ms: 0 }, { kind: 'long-chart', points: 150_000, end: Date.parse(NOW) });
    const result = await h.ingest();
    const backfill = result.batches.find((b) => b.label === 'backfill');
    expect(backfill?.records).toBe(cap + 2 * DAY_POINTS);
    expect(result.dropped.count).toBe(150_000 - cap);
    expect(result.dropped.reasons).toEqual({
      [`beyond the ${cap}-point cap (oldest dropped)`]: 150_000 - cap,
    });
    const silver = await h.silver();
    expect(silver.ethereum).toBe(DAY_POINTS);
    // Only the newest points: none older than the cap's span before now.
    const [oldest] = await lake.table<{ t: string }>(
      "SELECT CAST(min(event_ts) AS VARCHAR) AS t FROM prices_silver WHERE asset = 'bitcoin'",
    );
    expect(Date.parse(`${oldest?.t.replace(' ', 'T')}Z`)).toBeGreaterThan(Date.parse(NOW) - cap * 300_000);
  });

  it('malformed points (a string price, a negative price, a bad time, no pair) are dropped one by one', async () => {
    const h = await setup();
    const end = Date.parse(NOW);
    const prices: unknown[] = Array.from({ length: 10 }, (_, i) => [end - (9 - i) * 300_000, 100 + i]);
    prices.push([end - 50 * 300_000, '70000'], [end - 51 * 300_000, -1], ['yesterday', 5], 42, [end]);
    cg.fault({ kind: 'delay', ms: 0 }, { kind: 'json', body: { prices, total_volumes: [[end, 'lots']] } });
    const result = await h.ingest();
    expect(result.batches.find((b) => b.label === 'backfill')?.records).toBe(10 + 2 * DAY_POINTS);
    expect(result.dropped.reasons).toEqual({
      'value is not a number': 2,
      'value is negative': 1,
      'point time is not a time in ms': 1,
      'point is not a [time, value] pair': 2,
    });
    expect((await h.silver()).bitcoin).toBe(10);
  });
});

describe('a simulator catch-up after a long stop', () => {
  it('a 2,160-hour gap with 1-minute ticks lands at most the configured history, in bounded batches', async () => {
    const assets = Array.from({ length: 20 }, (_, i) => `sim-coin-${i + 1}`);
    const historyHours = 48;
    const h = await setup({ simulator: { seed: 7, tickSeconds: 60, historyHours } });
    h.deps.assets = assets;
    const first = await h.ingest({ kind: 'simulator' });
    const perRun = (historyHours * 60 + 1) * assets.length;
    expect(first.records).toBe(perRun);

    lake.setNow(new Date(Date.parse(NOW) + 2_160 * 3_600_000).toISOString());
    const started = performance.now();
    const caughtUp = await h.ingest({ kind: 'simulator' });
    const ms = performance.now() - started;
    expect(caughtUp.records).toBeLessThanOrEqual(perRun);
    expect(caughtUp.records).toBeGreaterThan(perRun - assets.length);
    expect(caughtUp.batches.length).toBeGreaterThan(1);
    for (const b of caughtUp.batches) expect(b.records).toBeLessThanOrEqual(MAX_BATCH_RECORDS);
    expect(ms).toBeLessThan(20_000);
    expect(h.logs.some((l) => /stopped longer than SIMULATOR_HISTORY_HOURS/.test(String(l.msg)))).toBe(true);

    const silver = await h.silver();
    expect(Object.keys(silver)).toHaveLength(assets.length);
    const [newest] = await lake.table<{ t: string }>(
      'SELECT CAST(max(event_ts) AS VARCHAR) AS t FROM prices_silver',
    );
    expect(newest?.t.slice(0, 16)).toBe(lake.clock.now().toISOString().slice(0, 16).replace('T', ' '));
  }, 60_000);
});

describe('a replay catch-up of a dense file', () => {
  it('a day of one-second rows lands in bounded batches that never split a timestamp', async () => {
    const h = await setup();
    const day = Date.parse('2026-03-01T00:00:00.000Z') / 1000;
    const lines = ['timestamp,open,high,low,close,volume'];
    for (let i = 0; i < 86_400; i++) lines.push(`${day + i},1,1,1,${100 + (i % 50) / 10},2`);
    lines.push(`${day + 49_999},1,1,1,123,2`); // a second row for the second at the cut
    const file = join(lake.dir, 'dense.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
    const result = await h.ingest({ kind: 'replay', file, asset: 'bitcoin' });
    expect(result.records).toBe(86_401);
    expect(result.batches.length).toBe(2);
    for (const b of result.batches) expect(b.records).toBeLessThanOrEqual(MAX_BATCH_RECORDS + 1);
    expect(result.batches[0]?.records).toBe(MAX_BATCH_RECORDS + 1); // both rows of that second
    expect(Object.keys(await h.silver())).toEqual(['bitcoin']);
    const again = await h.ingest({ kind: 'replay', file, asset: 'bitcoin' });
    expect(again.records).toBe(0);
  }, 60_000);
});

describe('hostile CoinGecko answers fail their run clearly, land nothing, and the next run lands', () => {
  it('an answer over 32 MiB is not read', async () => {
    const h = await setup();
    cg.fault({ kind: 'body', body: `[${' '.repeat(33 * 1024 * 1024)}]` });
    const err = await h.ingest().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      "CoinGecko's answer for /coins/markets was larger than 32 MiB, so it was not read; check COINGECKO_API_URL, or try again later.",
    );
    expect(await h.silver()).toEqual({});
    await h.ingest();
    expect(await h.silver()).toEqual({ bitcoin: DAY_POINTS, ethereum: DAY_POINTS, solana: DAY_POINTS });
  });

  it.each<[string, Fault, RegExp]>([
    [
      'a body that is not JSON',
      { kind: 'body', body: '<html>Just a moment...</html>' },
      /the body is not JSON \(starts with "<html>/,
    ],
    [
      'a truncated JSON body',
      { kind: 'body', body: '[{"id":"bitcoin","current_price":70' },
      /the body is not JSON/,
    ],
    [
      'a JSON object instead of an array',
      { kind: 'json', body: { bitcoin: { usd: 70000 } } },
      /expected array/,
    ],
    ['a null body', { kind: 'json', body: null }, /expected array, received null/],
    [
      'HTTP 200 with an error object',
      { kind: 'error-200', message: 'Service temporarily unavailable' },
      /an error instead of data \("Service temporarily unavailable"\)/,
    ],
  ])('%s', async (_what, fault, message) => {
    const h = await setup();
    cg.fault(fault);
    const err = await h.ingest().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(
      /^CoinGecko returned an unexpected response for \/coins\/markets: /,
    );
    expect((err as Error).message).toMatch(message);
    expect(await h.silver()).toEqual({});

    const next = await h.ingest();
    expect(next.dropped.count).toBe(0);
    expect(await h.silver()).toEqual({ bitcoin: DAY_POINTS, ethereum: DAY_POINTS, solana: DAY_POINTS });
    expect((await h.runs()).map((r) => r.result)).toEqual(['failed', 'succeeded']);
  });
});
