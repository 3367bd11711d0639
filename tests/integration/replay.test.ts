import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runIngest } from '../../src/jobs/ingest.js';
import { silentLogger } from '../../src/log.js';
import { replaySource } from '../../src/market/sources.js';
import { createTestLakehouse, type TestLakehouse } from '../support/lakehouse.js';

const BTC_CSV = new URL('../../../shared/data/btcusd_bitstamp_1min_part1.csv', import.meta.url);
const shared = existsSync(BTC_CSV);
const SKIP_REASON = 'the shared market data (../shared/data) is not beside this clone';

let lake: TestLakehouse;
afterEach(async () => {
  await lake?.close();
});

interface Row {
  ts: number;
  close: number;
  volume: number;
}

/** A replay source over `file` as bitcoin, keeping its progress in the test lakehouse. */
function replayOf(file: string) {
  return replaySource({ state: lake.platform.pipeline.state, logger: silentLogger() }, file, 'bitcoin');
}

const ingest = (source: ReturnType<typeof replayOf>) =>
  runIngest({ platform: lake.platform, clock: lake.clock, logger: silentLogger(), source });

/** The windows computed independently of the pipeline, straight from the CSV rows. */
function expectedWindows(rows: Row[]) {
  const groups = new Map<number, Row[]>();
  for (const row of rows) {
    const start = Math.floor(row.ts / 300) * 300;
    groups.set(start, [...(groups.get(start) ?? []), row]);
  }
  const lastTs = rows.reduce((m, r) => Math.max(m, r.ts), Number.NEGATIVE_INFINITY);
  const watermark = lastTs - 120; // Gold closes a window once latest event − 2 min reaches its end
  return [...groups.entries()]
    .filter(([start]) => start + 300 <= watermark)
    .sort(([a], [b]) => a - b)
    .map(([start, group]) => {
      const prices = group.map((r) => r.close);
      const n = prices.length;
      const mean = prices.reduce((s, p) => s + p, 0) / n;
      const variance = n > 1 ? prices.reduce((s, p) => s + (p - mean) ** 2, 0) / (n - 1) : null;
      const min = prices.reduce((a, b) => Math.min(a, b));
      const max = prices.reduce((a, b) => Math.max(a, b));
      return {
        window_start: new Date(start * 1000).toISOString(),
        ticks: n,
        price_avg: mean,
        price_vol: variance === null ? null : Math.sqrt(variance),
        price_min: min,
        price_max: max,
        vol_sum: group.reduce((s, r) => s + r.volume * r.close, 0),
        ret_window: max / min - 1,
      };
    });
}

describe('replay of the real BTC/USD minute data', () => {
  it('lands every row and emits every complete 5-minute window exactly once, with the right values', async (ctx) => {
    if (!shared) ctx.skip(SKIP_REASON);
    // two and a half days of minutes: 3,600 rows, spanning three UTC days (three landing files)
    const lines = readFileSync(BTC_CSV, 'utf8').trim().split('\n').slice(0, 3601);
    lake = await createTestLakehouse('2025-01-10T00:00:00Z');
    const file = join(lake.dir, 'btc-slice.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
    const rows: Row[] = lines.slice(1).map((line) => {
      const [ts, , , , close, volume] = line.split(',').map(Number) as number[];
      return { ts: ts as number, close: close as number, volume: volume as number };
    });

    const source = replayOf(file);
    const ingest = await runIngest({
      platform: lake.platform,
      clock: lake.clock,
      logger: silentLogger(),
      source,
    });
    expect(ingest.records).toBe(3600);
    expect(ingest.batches).toHaveLength(3);
    const run = await lake.platform.engine.runPipeline();
    expect(run.silver).toMatchObject({
      rows_in: 3600,
      rows_out: 3600,
      dropped_late: 0,
      dropped_duplicate: 0,
    });

    const expected = expectedWindows(rows);
    const gold = await lake.table<Record<string, number | string | null>>(
      `SELECT window_start, ticks, price_avg, price_vol, price_min, price_max, vol_sum, ret_window
       FROM metrics_gold WHERE asset = 'bitcoin' ORDER BY window_start`,
    );
    expect(gold.map((w) => w.window_start)).toEqual(expected.map((w) => w.window_start));
    expect(new Set(gold.map((w) => w.window_start)).size).toBe(gold.length);
    for (const [i, want] of expected.entries()) {
      const got = gold[i] as Record<string, number | string | null>;
      expect(got.ticks).toBe(want.ticks);
      for (const key of [
        'price_avg',
        'price_min',
        'price_max',
        'vol_sum',
        'ret_window',
        'price_vol',
      ] as const) {
        const value = want[key];
        if (value === null) expect(got[key]).toBeNull();
        else
          expect(got[key] as number).toBeCloseTo(
            value,
            Math.max(0, 9 - Math.ceil(Math.log10(Math.abs(value) + 1))),
          );
      }
    }
    // the first window holds 4 minutes (the file starts at 00:01), all later ones 5
    expect(expected[0]?.ticks).toBe(4);
    expect(expected.slice(1).every((w) => w.ticks === 5)).toBe(true);

    // a second replay lands nothing new and the pipeline changes nothing
    const again = await runIngest({
      platform: lake.platform,
      clock: lake.clock,
      logger: silentLogger(),
      source,
    });
    expect(again.records).toBe(0);
    expect((await lake.platform.engine.runPipeline()).files).toBe(0);
  });

  it('replays only rows up to the clock (--now), and continues from there later', async (ctx) => {
    if (!shared) ctx.skip(SKIP_REASON);
    const lines = readFileSync(BTC_CSV, 'utf8').trim().split('\n').slice(0, 121);
    lake = await createTestLakehouse('2025-01-07T01:00:30Z');
    const file = join(lake.dir, 'btc-2h.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
    const source = replayOf(file);
    expect((await ingest(source)).records).toBe(60); // 00:01 … 01:00
    lake.setNow('2025-01-07T02:00:00Z');
    expect((await ingest(replayOf(file))).records).toBe(60); // 01:01, by a new source reading the saved progress … 02:00
    await lake.platform.engine.runPipeline();
    expect(
      await lake.table(
        'SELECT count(*) AS n, min(event_ts) AS first, max(event_ts) AS last FROM prices_silver',
      ),
    ).toEqual([{ n: 120, first: '2025-01-07T00:01:00.000Z', last: '2025-01-07T02:00:00.000Z' }]);
  });
});
