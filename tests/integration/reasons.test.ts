import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { episodeReply } from '../../src/chat/feed-plan.js';
import { priceChart } from '../../src/commands/chart.js';
import { topCommand } from '../../src/commands/top.js';
import { runIngest } from '../../src/jobs/ingest.js';
import { silentLogger } from '../../src/log.js';
import { replaySource } from '../../src/market/sources.js';
import { computeFeatures, type FeatureRow, type GoldWindow } from '../../src/model/features.js';
import {
  ALERT_TIMES,
  formatReason,
  formatReasons,
  isAlert,
  parseReasons,
  type Reason,
} from '../../src/model/reasons.js';
import { priceChartSpec, renderChartSvg } from '../../src/render/chart.js';
import { createTestLakehouse, type TestLakehouse } from '../support/lakehouse.js';

/**
 * Reasons on injected events in the real BTC/USD minutes (../shared/data): each kind of event is
 * injected into the minutes, the minutes are aggregated into 5-minute windows as Gold does, and the
 * top reason of the event's window must name the right measurement with a magnitude within 10 % of
 * the injected one. Then the same through the local platform (replay → pipeline → train → infer):
 * the anomalies table keeps the reasons, and `top`, the feed message and the chart show them.
 */

const BTC_CSV = new URL('../../../shared/data/btcusd_bitstamp_1min_part1.csv', import.meta.url);
const shared = existsSync(BTC_CSV);
const SKIP_REASON = 'the shared market data (../shared/data) is not beside this clone';

interface Minute {
  ts: number;
  close: number;
  volume: number;
}

/** The first `count` minutes of the shared file. */
function minutes(count: number): Minute[] {
  return readFileSync(BTC_CSV, 'utf8')
    .trim()
    .split('\n')
    .slice(1, count + 1)
    .map((line) => {
      const [ts, , , , close, volume] = line.split(',').map(Number) as number[];
      return { ts: ts as number, close: close as number, volume: volume as number };
    });
}

/** 5-minute windows of minutes, as Gold computes them (window_end = start + 5 min, USD volume). */
function gold(rows: readonly Minute[]): GoldWindow[] {
  const groups = new Map<number, Minute[]>();
  for (const r of rows) {
    const start = Math.floor(r.ts / 300) * 300;
    const list = groups.get(start);
    if (list) list.push(r);
    else groups.set(start, [r]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([start, group]) => {
      const prices = group.map((r) => r.close);
      const min = prices.reduce((a, b) => Math.min(a, b));
      const max = prices.reduce((a, b) => Math.max(a, b));
      return {
        asset: 'bitcoin',
        symbol: 'btc',
        window_end: new Date((start + 300) * 1000).toISOString(),
        price_avg: prices.reduce((s, p) => s + p, 0) / prices.length,
        price_vol: null,
        price_min: min,
        price_max: max,
        vol_sum: group.reduce((s, r) => s + r.volume * r.close, 0),
        ret_window: max / min - 1,
      };
    });
}

/** The start (epoch seconds) of the k-th 5-minute window after the data's first. */
const windowStart = (rows: readonly Minute[], k: number) =>
  Math.floor((rows[0] as Minute).ts / 300) * 300 + k * 300;
const endIso = (start: number) => new Date((start + 300) * 1000).toISOString();

function rowAt(rows: FeatureRow[], start: number): FeatureRow {
  const row = rows.find((r) => r.window_end === endIso(start));
  if (!row) throw new Error(`no window ending ${endIso(start)}`);
  return row;
}

const top = (row: FeatureRow): Reason => parseReasons(row.reasons)[0] as Reason;
const within10 = (actual: number, injected: number) =>
  expect(Math.abs(actual - injected) / Math.abs(injected)).toBeLessThanOrEqual(0.1);

/** Minutes with the closes in [from, to) (epoch seconds) multiplied by `factor`. */
const scaled = (rows: Minute[], from: number, to: number, factor: number) =>
  rows.map((r) => (r.ts >= from && r.ts < to ? { ...r, close: r.close * factor } : r));

describe('reasons on events injected into the real BTC minutes', () => {
  const DAYS = 3;
  // every feature set gives the same reasons: they come from the measurements, not the vector
  for (const set of ['default', 'seed'] as const) {
    it(`a jump at a window start: the return, within 10 % (+5 % and −3 %; ${set} set)`, (ctx) => {
      if (!shared) ctx.skip(SKIP_REASON);
      const base = minutes(DAYS * 1440);
      for (const [k, jump] of [
        [500, 0.05],
        [700, -0.03],
      ] as const) {
        const start = windowStart(base, k);
        // the level shifts from the window's first minute on, and stays
        const rows = computeFeatures(gold(scaled(base, start, Number.POSITIVE_INFINITY, 1 + jump)), set);
        const reason = top(rowAt(rows, start));
        expect(reason.feature).toBe('return');
        within10(reason.value, jump);
        expect(reason.times).toBeGreaterThan(10);
        expect(formatReason(reason)).toMatch(
          jump > 0
            ? /^5-minute return \+5\.\d % \(\d+× its usual move\)$/
            : /^5-minute return −[23]\.\d % \(\d+× its usual move\)$/,
        );
        expect(rowAt(rows, start).data_issue).toBeNull();
        // the product alerts on it whatever the forest's score (ALERT_TIMES)
        expect(isAlert(0.1, rowAt(rows, start).reasons)).toBe(true);
      }
    });
  }

  it('a flash crash of −10 % for 4 minutes inside a window: the range, about 10 %', (ctx) => {
    if (!shared) ctx.skip(SKIP_REASON);
    const base = minutes(DAYS * 1440);
    const start = windowStart(base, 600);
    const rows = computeFeatures(gold(scaled(base, start + 60, start + 300, 0.9)), 'default');
    const row = rowAt(rows, start);
    const reason = top(row);
    expect(reason.feature).toBe('range');
    within10(reason.value, 0.1);
    expect(formatReason(reason)).toMatch(/^low (9|10)\.\d % under the high \(\d+× usual\)$/);
    // the window's average fell too: the return is the next reason
    expect(parseReasons(row.reasons)[1]?.feature).toBe('return');
    expect(row.data_issue).toBeNull();
  });

  it('a volume spike of 30× the day’s median: the volume, 30×', (ctx) => {
    if (!shared) ctx.skip(SKIP_REASON);
    const base = minutes(DAYS * 1440);
    const k = 650;
    const start = windowStart(base, k);
    const plain = gold(base);
    // the trailing day's median of the window's volume (the 288 windows before it)
    const before = plain
      .filter((w) => w.window_end < endIso(start))
      .slice(-288)
      .map((w) => w.vol_sum as number)
      .sort((a, b) => a - b);
    const median = ((before[143] as number) + (before[144] as number)) / 2;
    const inside = base.filter((r) => r.ts >= start && r.ts < start + 300);
    const usd = inside.reduce((s, r) => s + r.close, 0);
    // every minute's volume set so the window's USD volume is 30× the median
    const spiked = base.map((r) =>
      r.ts >= start && r.ts < start + 300 ? { ...r, volume: (30 * median) / usd } : r,
    );
    const row = rowAt(computeFeatures(gold(spiked), 'default'), start);
    const reason = top(row);
    expect(reason.feature).toBe('volume');
    within10(reason.times as number, 30);
    expect(formatReason(reason)).toMatch(/^volume (29|30|31)× the day's median$/);
  });

  it('three missing windows: a gap of 15 minutes, data_issue gap', (ctx) => {
    if (!shared) ctx.skip(SKIP_REASON);
    const base = minutes(DAYS * 1440);
    const start = windowStart(base, 400);
    const rows = computeFeatures(
      gold(base.filter((r) => r.ts < start || r.ts >= start + 3 * 300)),
      'default',
    );
    const after = rowAt(rows, start + 3 * 300);
    expect(top(after)).toEqual({ feature: 'gap', value: 15, times: null });
    expect(formatReason(top(after))).toBe('no prices for 15 minutes');
    expect(after.data_issue).toBe('gap');
    expect(rowAt(rows, start + 4 * 300).data_issue).toBeNull();
    expect(rows.filter((r) => r.data_issue === 'gap')).toHaveLength(1);
  });

  it('a price frozen for 20 minutes: data_issue frozen, and on the window after it', (ctx) => {
    if (!shared) ctx.skip(SKIP_REASON);
    const base = minutes(DAYS * 1440);
    const start = windowStart(base, 450);
    const last = base.filter((r) => r.ts < start).at(-1) as Minute;
    // four windows at one price (the feed repeats its last value), then the market again
    const frozen = base.map((r) =>
      r.ts >= start && r.ts < start + 4 * 300 ? { ...r, close: last.close } : r,
    );
    const rows = computeFeatures(gold(frozen), 'default');
    const issues = [0, 1, 2, 3, 4, 5].map((i) => rowAt(rows, start + i * 300).data_issue);
    // the first two windows: not yet 15 minutes still; the last two and the one after: frozen
    expect(issues).toEqual([null, null, 'frozen', 'frozen', 'frozen', null]);
    const fourth = top(rowAt(rows, start + 3 * 300));
    expect(fourth).toEqual({ feature: 'frozen', value: 20, times: null });
    expect(formatReason(fourth)).toBe('price frozen for 20 minutes');
    expect(rows.filter((r) => r.data_issue !== null)).toHaveLength(3);
  });

  it('the real minutes alone have no data issues, and most windows no reason', (ctx) => {
    if (!shared) ctx.skip(SKIP_REASON);
    const rows = computeFeatures(gold(minutes(DAYS * 1440)), 'default');
    expect(rows.filter((r) => r.data_issue !== null)).toEqual([]);
    expect(rows.filter((r) => r.reasons === '[]').length / rows.length).toBeGreaterThan(0.5);
    for (const r of rows) expect(parseReasons(r.reasons).length).toBeLessThanOrEqual(3);
  });
});

describe('reasons in words', () => {
  it('says each kind of reason the way a trader reads it', () => {
    expect(formatReason({ feature: 'return', value: -0.094, times: 14.2 })).toBe(
      '5-minute return −9.4 % (14× its usual move)',
    );
    expect(formatReason({ feature: 'range', value: 0.031, times: 6 })).toBe(
      'low 3.1 % under the high (6× usual)',
    );
    expect(formatReason({ feature: 'volume', value: 1e9, times: 3.04 })).toBe("volume 3× the day's median");
    expect(formatReason({ feature: 'gap', value: 15, times: null })).toBe('no prices for 15 minutes');
    expect(formatReason({ feature: 'frozen', value: 20, times: null })).toBe('price frozen for 20 minutes');
    expect(
      formatReasons(
        '[{"feature":"range","value":0.1,"times":80},{"feature":"return","value":-0.08,"times":66.2}]',
      ),
    ).toBe('low 10.0 % under the high (80× usual), 5-minute return −8.0 % (66× its usual move)');
  });

  it('reads nothing from a missing or malformed column', () => {
    for (const text of [
      null,
      undefined,
      '',
      'not json',
      '{"feature":"return"}',
      '[{"feature":"other","value":1}]',
    ])
      expect(parseReasons(text)).toEqual([]);
  });
});

describe('when a window alerts', () => {
  const text = (...items: Array<[Reason['feature'], number | null]>) =>
    JSON.stringify(items.map(([feature, times]) => ({ feature, value: 0.05, times })));

  it('on the forest’s flag, or a return or range at ALERT_TIMES × usual or more', () => {
    expect(ALERT_TIMES).toBe(12);
    expect(isAlert(-1e-12, null)).toBe(true);
    expect(isAlert(0, '[]')).toBe(false);
    expect(isAlert(0.1, text(['return', 12]))).toBe(true);
    expect(isAlert(0.1, text(['volume', 40], ['range', 30.5]))).toBe(true);
    expect(isAlert(0.1, [{ feature: 'range', value: 0.1, times: 12.5 }])).toBe(true);
    expect(isAlert(0.1, text(['return', 11.99], ['range', 11.5]))).toBe(false);
  });

  it('never on volume or a data issue alone, nor on reasons it cannot read', () => {
    expect(isAlert(0.1, text(['volume', 500]))).toBe(false);
    expect(isAlert(0.1, text(['gap', null], ['frozen', null]))).toBe(false);
    for (const bad of [null, undefined, 'not json', '{"feature":"return","value":0.1,"times":50}'])
      expect(isAlert(0.1, bad)).toBe(false);
    expect(isAlert(0.1, '[{"feature":"return","value":0.1,"times":true}]')).toBe(false);
    expect(isAlert(0.1, '[{"feature":"return","value":null,"times":50}]')).toBe(false);
  });
});

let lake: TestLakehouse | undefined;
afterEach(async () => {
  await lake?.close();
  lake = undefined;
});

describe('reasons through the local platform', () => {
  it('infer keeps them in anomalies; top, the feed message and the chart show them', async (ctx) => {
    if (!shared) ctx.skip(SKIP_REASON);
    // two and a half days of real minutes with a flash crash, a gap and a frozen price
    const base = minutes(3600);
    const crash = windowStart(base, 600);
    const gapFrom = windowStart(base, 400);
    const freeze = windowStart(base, 300);
    const frozenPrice = (base.filter((r) => r.ts < freeze).at(-1) as Minute).close;
    const injected = scaled(base, crash + 60, crash + 300, 0.9)
      .filter((r) => r.ts < gapFrom || r.ts >= gapFrom + 3 * 300)
      .map((r) => (r.ts >= freeze && r.ts < freeze + 4 * 300 ? { ...r, close: frozenPrice } : r));
    const lastTs = (injected.at(-1) as Minute).ts;
    const now = new Date((lastTs + 60) * 1000).toISOString();
    lake = await createTestLakehouse(now);
    const file = join(lake.dir, 'btc-events.csv');
    const header = 'timestamp,open,high,low,close,volume';
    await writeFile(
      file,
      `${[header, ...injected.map((r) => [r.ts, r.close, r.close, r.close, r.close, r.volume].join(','))].join('\n')}\n`,
    );
    const source = replaySource(
      { state: lake.platform.pipeline.state, logger: silentLogger() },
      file,
      'bitcoin',
    );
    await runIngest({ platform: lake.platform, clock: lake.clock, logger: silentLogger(), source });
    await lake.platform.engine.runPipeline();
    await lake.platform.pipeline.train({ now: lake.clock.now() });
    const inferred = await lake.platform.engine.infer({ now: lake.clock.now() });
    expect(inferred.scored).toBeGreaterThan(600);

    const stored = await lake.table<{
      window_end: string;
      is_anomaly: number;
      reasons: string | null;
      data_issue: string | null;
    }>(
      `SELECT strftime(window_end, '%Y-%m-%dT%H:%M:%S.000Z') AS window_end, is_anomaly, reasons, data_issue
       FROM anomalies ORDER BY window_end`,
    );
    expect(stored.every((r) => r.reasons !== null)).toBe(true);
    const at = (start: number) => stored.find((r) => r.window_end === endIso(start));
    const crashed = at(crash);
    expect(crashed?.is_anomaly).toBe(1);
    expect(parseReasons(crashed?.reasons)[0]).toMatchObject({ feature: 'range' });
    expect(at(gapFrom + 3 * 300)?.data_issue).toBe('gap');
    expect(parseReasons(at(gapFrom + 3 * 300)?.reasons)[0]).toEqual({
      feature: 'gap',
      value: 15,
      times: null,
    });
    expect([2, 3, 4].map((i) => at(freeze + i * 300)?.data_issue)).toEqual(['frozen', 'frozen', 'frozen']);
    expect(stored.filter((r) => r.data_issue !== null)).toHaveLength(4);

    // top: a reason column in the windows table
    const reply = await topCommand(
      { limit: 10, since: 3 * 86_400_000 },
      { platform: lake.platform, now: lake.clock.now() },
    );
    const windows = reply.tables?.[1];
    const why = windows?.columns.findIndex((c) => c.header === 'why') ?? -1;
    expect(why).toBeGreaterThan(0);
    const crashRow = windows?.rows.find((r) =>
      r[0]?.startsWith(endIso(crash).slice(0, 16).replace('T', ' ')),
    );
    expect(crashRow?.[why]).toMatch(/^high→low −(9|10)\.\d % \d+×$/);

    // the feed message of the crash: a Why field with its reasons in words
    const scored = await lake.platform.reads.scoredSince(null, 10_000);
    const window = scored.find((w) => w.window_end === endIso(crash));
    expect(window?.reasons).toBe(crashed?.reasons);
    const message = episodeReply([window as NonNullable<typeof window>]);
    expect(message.fields?.find((f) => f.label === 'Why')?.value).toMatch(
      /^low (9|10)\.\d % under the high \(\d+× usual\), 5-minute return −\d\.\d % \(\d+× its usual move\)/,
    );

    // the chart: the worst marker labelled with its top reason, as text in the spec and the SVG
    const chart = await priceChart(
      { asset: 'bitcoin', sinceMs: 3 * 86_400_000 },
      { platform: lake.platform, now: lake.clock.now() },
    );
    const labelled = chart.points.filter((p) => p.label !== undefined);
    expect(labelled).toHaveLength(1);
    const worst = chart.points
      .filter((p) => p.is_anomaly)
      .reduce((a, b) => ((b.anomaly_score ?? 0) < (a.anomaly_score ?? 0) ? b : a));
    expect(labelled[0]?.window_end).toBe(worst.window_end);
    const label = labelled[0]?.label as string;
    expect(label.length).toBeGreaterThan(3);
    expect(JSON.stringify(priceChartSpec(chart))).toContain(JSON.stringify(label));
    expect(await renderChartSvg(chart)).toContain(label.replace(/&/g, '&amp;'));
  }, 120_000);
});
