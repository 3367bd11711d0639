import { afterEach, describe, expect, it } from 'vitest';
import { runIngest } from '../../src/jobs/ingest.js';
import { silentLogger } from '../../src/log.js';
import { simulatorSource } from '../../src/market/sources.js';
import {
  createScoredLakehouse,
  createTestLakehouse,
  type TestLakehouse,
  testConfig,
  tick,
} from '../support/lakehouse.js';

/**
 * Hostile landing records, each through the real local platform (DuckDB, landing folder): the
 * pipeline never stops, the record is dropped and counted under its reason (or kept when it is
 * only odd), and good data landed afterwards still reaches Gold.
 */

let lake: TestLakehouse;
afterEach(async () => {
  await lake?.close();
});

const minute = (m: number, s = 0) =>
  `2025-01-07T00:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.000Z`;
/** A good bitcoin tick each minute in [from, to), price 100 + minute. */
const good = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => tick('bitcoin', minute(from + i), 100 + from + i, 10));
/** A well-formed record at 00:10:15 (kept unless a field is overridden), as one JSON line. */
const base = {
  id: 'bitcoin',
  symbol: 'btc',
  name: 'Bitcoin',
  current_price: 100,
  total_volume: 1,
  last_updated: minute(10, 15),
  ingest_ts: '2025-01-07T00:11:00.000Z',
  ingest_source: 'replay',
};
const rec = (over: Record<string, unknown> = {}) => JSON.stringify({ ...base, ...over });
/** The record with these fields removed. */
const without = (...keys: string[]) =>
  JSON.stringify(Object.fromEntries(Object.entries(base).filter(([k]) => !keys.includes(k))));
/** The record with one field's JSON text replaced verbatim (for what JSON.stringify cannot write). */
const rawField = (key: string, text: string) => rec({ [key]: '__RAW__' }).replace('"__RAW__"', text);

interface Expected {
  rescued?: number;
  kept?: number;
  missing?: number;
  bounds?: number;
  future?: number;
  late?: number;
  duplicate?: number;
}

interface HostileCase {
  name: string;
  /** The file's content: lines (joined with \n, and a final \n) or exact bytes. */
  content: string[] | Buffer;
  expected: Expected;
}

const cases: HostileCase[] = [
  { name: 'price 1e308', content: [rec({ current_price: 1e308 })], expected: { bounds: 1 } },
  {
    name: 'price beyond DOUBLE (1e400, -1e400)',
    content: [rawField('current_price', '1e400'), rawField('current_price', '-1e400')],
    expected: { bounds: 2 },
  },
  { name: 'price -1', content: [rec({ current_price: -1 })], expected: { bounds: 1 } },
  { name: 'price 0', content: [rec({ current_price: 0 })], expected: { bounds: 1 } },
  { name: 'price -0', content: [rawField('current_price', '-0')], expected: { bounds: 1 } },
  { name: 'price at the 1e9 ceiling', content: [rec({ current_price: 1e9 })], expected: { bounds: 1 } },
  {
    name: 'price NaN / Infinity as strings (wrong type)',
    content: [
      rec({ current_price: 'NaN' }),
      rec({ current_price: 'Infinity' }),
      rec({ current_price: '-Infinity' }),
    ],
    expected: { missing: 3 },
  },
  {
    name: 'price NaN / Infinity as bare JSON literals',
    content: [rawField('current_price', 'NaN'), rawField('current_price', 'Infinity')],
    expected: { bounds: 2 },
  },
  {
    name: 'price a 30-digit integer',
    content: [rawField('current_price', '123456789012345678901234567890')],
    expected: { bounds: 1 },
  },
  {
    name: 'huge volume (1e13, 1e300)',
    content: [rec({ total_volume: 1e13 }), rec({ total_volume: 1e300 })],
    expected: { bounds: 2 },
  },
  { name: 'negative volume', content: [rec({ total_volume: -5 })], expected: { bounds: 1 } },
  { name: 'volume null (allowed)', content: [rec({ total_volume: null })], expected: { kept: 1 } },
  { name: 'string price', content: [rec({ current_price: '100' })], expected: { missing: 1 } },
  { name: 'boolean price', content: [rec({ current_price: true })], expected: { missing: 1 } },
  { name: 'array price', content: [rec({ current_price: [100] })], expected: { missing: 1 } },
  { name: 'object price', content: [rec({ current_price: { usd: 100 } })], expected: { missing: 1 } },
  {
    name: 'null fields',
    content: [
      rec({ id: null, current_price: null, total_volume: null, last_updated: null, ingest_ts: null }),
    ],
    expected: { missing: 1 },
  },
  { name: 'missing id', content: [without('id')], expected: { missing: 1 } },
  {
    name: 'empty-string and blank id',
    content: [rec({ id: '' }), rec({ id: '   ' })],
    expected: { missing: 2 },
  },
  {
    name: 'a 10,000-character id (its own asset)',
    content: [rec({ id: 'a'.repeat(10_000) })],
    expected: { kept: 1 },
  },
  {
    name: 'unicode and control characters in the id (its own asset)',
    content: [rec({ id: 'bit\u0000coin\u0007\u202e🚀\n' })],
    expected: { kept: 1 },
  },
  {
    name: 'event in 2030, no ingest_ts',
    content: [without('ingest_ts').replace(minute(10, 15), '2030-01-01T00:00:00.000Z')],
    expected: { future: 1 },
  },
  {
    name: 'event in 2030 with a lying ingest_ts in 2030',
    content: [rec({ last_updated: '2030-01-01T00:00:00.000Z', ingest_ts: '2030-01-01T00:00:00.000Z' })],
    expected: { future: 1 },
  },
  {
    name: 'event 11 minutes after load, ingest_ts claiming later',
    content: [rec({ last_updated: minute(22), ingest_ts: minute(30) })],
    expected: { future: 1 },
  },
  {
    name: 'far past: 1970, year 0001; far future: 9999',
    content: [
      rec({ last_updated: '1970-01-01T00:00:00.000Z' }),
      rec({ last_updated: '0001-01-01T00:00:00.000Z' }),
      rec({ last_updated: '9999-12-31T23:59:59.999Z', ingest_ts: '9999-12-31T23:59:59.999Z' }),
    ],
    expected: { late: 2, future: 1 },
  },
  {
    // At the very start of the engine's range, a watermark delay subtracted would overflow.
    name: "the engine's extreme years (-290308, 294247)",
    content: [
      rec({ last_updated: '-290308-12-22T00:00:00Z' }),
      rec({ last_updated: '294247-01-10T04:00:54Z', ingest_ts: '294247-01-10T04:00:54Z' }),
    ],
    expected: { missing: 2 },
  },
  {
    name: 'unparseable timestamps (text, month 13, infinity, a number)',
    content: [
      rec({ last_updated: 'yesterday' }),
      rec({ last_updated: '2025-13-45T99:00:00Z' }),
      rec({ last_updated: 'infinity' }),
      rec({ last_updated: 1736208615 }),
    ],
    expected: { missing: 4 },
  },
  {
    name: 'non-JSON lines',
    content: ['hello', '{"id":', '}{', 'null', '42', '"a string"'],
    expected: { rescued: 6 },
  },
  {
    name: 'a truncated last line',
    content: Buffer.from(`${rec()}\n${rec({ last_updated: minute(10, 20) }).slice(0, 60)}`),
    expected: { kept: 1, rescued: 1 },
  },
  { name: 'a JSON array line', content: [`[${rec()}]`, '[]'], expected: { rescued: 2 } },
  {
    name: 'a 1 MB line (a good record with a 1 MB unknown field)',
    content: [rec({ junk: 'x'.repeat(1024 * 1024) })],
    expected: { kept: 1 },
  },
  { name: 'a 1 MB line of garbage', content: ['y'.repeat(1024 * 1024)], expected: { rescued: 1 } },
  {
    name: 'duplicate records (in the file, and of an earlier file)',
    content: [rec(), rec(), rec(), JSON.stringify(tick('bitcoin', minute(5), 105, 10))],
    expected: { kept: 1, duplicate: 3 },
  },
  {
    name: 'CRLF lines',
    content: Buffer.from(`${rec()}\r\n${rec({ last_updated: minute(10, 30) })}\r\n\r\n`),
    expected: { kept: 2 },
  },
  {
    name: 'invalid UTF-8 bytes (a whole line, and inside a string)',
    content: Buffer.concat([
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a]),
      Buffer.from(`${rec().split('"Bitcoin"')[0]}"Bit`),
      Buffer.from([0xc3, 0x28, 0xa0]),
      Buffer.from(`coin"${rec().split('"Bitcoin"')[1]}\n`),
    ]),
    expected: { rescued: 1, kept: 1 },
  },
];

describe('hostile landing records: dropped and counted, and the pipeline goes on', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    lake = await createTestLakehouse('2025-01-07T00:10:30Z');
    await lake.land(good(0, 10)); // 00:00–00:09
    await lake.platform.engine.runPipeline();

    lake.setNow('2025-01-07T00:11:00Z');
    await lake.landRaw(c.content as string[] & Buffer);
    const run = await lake.platform.engine.runPipeline();
    const e = { rescued: 0, kept: 0, missing: 0, bounds: 0, future: 0, late: 0, duplicate: 0, ...c.expected };
    expect(run.failed).toBeUndefined();
    expect(run.bronze.rescued).toBe(e.rescued);
    expect(run.silver).toMatchObject({
      rows_out: e.kept,
      dropped_missing: e.missing,
      dropped_bounds: e.bounds,
      dropped_future: e.future,
      dropped_late: e.late,
      dropped_duplicate: e.duplicate,
    });
    // every object line got exactly one verdict
    expect(run.silver.rows_in).toBe(e.kept + e.missing + e.bounds + e.future + e.late + e.duplicate);

    lake.setNow('2025-01-07T00:30:30Z');
    await lake.land(good(10, 30)); // 00:10–00:29: a watermark nothing pushed ahead keeps all of them
    const after = await lake.platform.engine.runPipeline();
    expect(after.failed).toBeUndefined();
    expect(after.silver).toMatchObject({ rows_in: 20, rows_out: 20, dropped_late: 0 });

    // Gold: 00:00–00:25 closed (watermark 00:29 − 2 min), every good tick in them, plus what was kept
    const windows = await lake.table<{ window_start: string; ticks: number; price_max: number }>(
      `SELECT window_start, ticks, price_max FROM metrics_gold WHERE asset = 'bitcoin' ORDER BY window_start`,
    );
    expect(windows.map((w) => w.window_start)).toEqual([0, 5, 10, 15, 20].map((m) => minute(m)));
    const keptBitcoin = (
      await lake.table<{ n: number }>(
        `SELECT count(*)::INTEGER AS n FROM prices_silver WHERE asset = 'bitcoin' AND load_ts = TIMESTAMP '2025-01-07 00:11:00'`,
      )
    )[0]?.n;
    expect(windows.reduce((n, w) => n + w.ticks, 0)).toBe(25 + (keptBitcoin ?? 0));
    expect(windows.reduce((m, w) => Math.max(m, w.price_max), Number.NEGATIVE_INFINITY)).toBe(124);

    const status = await lake.platform.reads.status(lake.clock.now());
    const silver = status.stages.find((s) => s.stage === 'silver')?.counters;
    expect(silver).toMatchObject({
      dropped_missing: e.missing,
      dropped_bounds: e.bounds,
      dropped_future: e.future,
      dropped_late: e.late,
      dropped_duplicate: e.duplicate,
    });
    expect(status.stages.find((s) => s.stage === 'bronze')?.counters.rescued).toBe(e.rescued);
    expect(status.watermarks.silver).toBe('2025-01-07T00:09:00.000Z');
  });

  it('one 1e308 price in a window no longer breaks the Gold aggregates on every later run', async () => {
    lake = await createTestLakehouse('2025-01-07T00:10:30Z');
    await lake.land([
      tick('bitcoin', minute(1), 1e308, 1),
      tick('bitcoin', minute(2), 1e308, 1),
      tick('bitcoin', minute(3), 0.5, 1e308),
      ...good(0, 10),
    ]);
    const first = await lake.platform.engine.runPipeline();
    expect(first.failed).toBeUndefined();
    expect(first.silver).toMatchObject({ rows_out: 10, dropped_bounds: 3 });
    for (const [m, now] of [
      [10, '2025-01-07T00:20:30Z'],
      [20, '2025-01-07T00:30:30Z'],
    ] as const) {
      lake.setNow(now);
      await lake.land(good(m, m + 10));
      const run = await lake.platform.engine.runPipeline();
      expect(run.failed).toBeUndefined();
      expect(run.gold.windows_emitted).toBe(2);
    }
    const windows = await lake.table<{ price_max: number; price_vol: number }>(
      `SELECT price_max, price_vol FROM metrics_gold ORDER BY window_start`,
    );
    expect(windows).toHaveLength(5);
    expect(windows[0]).toEqual({ price_max: 104, price_vol: expect.closeTo(Math.sqrt(2.5), 9) });
    expect(await lake.table('SELECT count(*)::INTEGER AS n FROM landing_failures')).toEqual([{ n: 0 }]);
  });

  it('after a file of hostile records, new simulated ticks still reach Gold and are scored into anomalies', async () => {
    lake = await createScoredLakehouse('2025-01-07T00:00:00.000Z', 6);
    const before = await lake.table<{ gold: number; scored: number }>(
      'SELECT (SELECT count(*) FROM metrics_gold)::INTEGER AS gold, (SELECT count(*) FROM anomalies)::INTEGER AS scored',
    );
    const now = lake.clock.now().getTime();
    const at = (ms: number) => new Date(now + ms).toISOString();
    await lake.landRaw([
      rec({ last_updated: at(-60_000), current_price: 1e308 }),
      rec({ last_updated: at(-30_000), total_volume: -1 }),
      rec({ last_updated: '2030-01-01T00:00:00.000Z', ingest_ts: '2030-01-01T00:00:00.000Z' }),
      'not json',
    ]);
    lake.setNow(at(30 * 60_000));
    const config = testConfig({ SIMULATOR_HISTORY_HOURS: '6' });
    const source = simulatorSource({
      state: lake.platform.pipeline.state,
      assets: config.market.assets,
      simulator: config.market.simulator,
    });
    await runIngest({ platform: lake.platform, clock: lake.clock, logger: silentLogger(), source });
    const run = await lake.platform.engine.runPipeline();
    expect(run.failed).toBeUndefined();
    expect(run.silver).toMatchObject({ dropped_bounds: 2, dropped_future: 1 });
    expect(run.bronze.rescued).toBe(1);
    expect(run.gold.windows_emitted).toBeGreaterThanOrEqual(5 * config.market.assets.length);
    await lake.platform.engine.infer({ now: lake.clock.now() });
    const after = await lake.table<{ gold: number; scored: number }>(
      'SELECT (SELECT count(*) FROM metrics_gold)::INTEGER AS gold, (SELECT count(*) FROM anomalies)::INTEGER AS scored',
    );
    expect(after[0]?.gold).toBe((before[0]?.gold ?? 0) + run.gold.windows_emitted);
    expect(after[0]?.scored).toBeGreaterThan(before[0]?.scored ?? 0);
  });
});
