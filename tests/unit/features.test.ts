import { describe, expect, it } from 'vitest';
import {
  computeFeatures,
  FEATURE_NAMES,
  type GoldWindow,
  MIN_TRAILING,
  TrailingMedian,
} from '../../src/model/features.js';

/** A series of Gold windows, 5 minutes apart, from prices and volumes. */
function series(
  asset: string,
  prices: number[],
  volumes: number[] = prices.map(() => 100),
  spread = 0.001,
): GoldWindow[] {
  return prices.map((p, i) => ({
    asset,
    symbol: asset.slice(0, 3),
    window_end: new Date(Date.UTC(2025, 0, 7, 0, 5 * (i + 1))).toISOString(),
    price_avg: p,
    price_vol: p * spread * (1 + (i % 3) / 10),
    price_min: p * (1 - spread * (1 + (i % 5) / 10)),
    price_max: p * (1 + spread),
    vol_sum: volumes[i] ?? null,
    ret_window: (p * (1 + spread)) / (p * (1 - spread * (1 + (i % 5) / 10))) - 1,
  }));
}

/** A wiggly but deterministic price path. */
const path = (n: number, level: number) =>
  Array.from({ length: n }, (_, i) => level * (1 + 0.01 * Math.sin(i / 3) + 0.002 * (i % 7)));

describe('feature sets', () => {
  it('seed: the original five features, ret_prev against the previous window, null and ±inf as 0', () => {
    const windows = series('bitcoin', [100, 110, 99]);
    (windows[2] as GoldWindow).price_vol = null;
    (windows[1] as GoldWindow).vol_sum = Number.POSITIVE_INFINITY;
    const rows = computeFeatures(windows, 'seed');
    expect(FEATURE_NAMES.seed).toEqual(['price_avg', 'price_vol', 'ret_window', 'vol_sum', 'ret_prev']);
    expect(rows.map((r) => r.ret_prev)).toEqual([null, expect.closeTo(0.1, 12), expect.closeTo(-0.1, 12)]);
    expect(rows[0]?.features[4]).toBe(0);
    expect(rows[1]?.features[3]).toBe(0); // +inf volume
    expect(rows[2]?.features[1]).toBe(0); // null price_vol
    expect(rows[2]?.features[0]).toBe(99);
  });

  it('default: scale-free, so an asset at 1000× the price and volume gets the same features', () => {
    const prices = path(400, 1);
    const small = computeFeatures(
      series(
        'cheap',
        prices,
        prices.map((_, i) => 50 + (i % 11)),
      ),
      'default',
    );
    const large = computeFeatures(
      series(
        'dear',
        prices.map((p) => p * 1000),
        prices.map((_, i) => (50 + (i % 11)) * 1e6),
      ),
      'default',
    );
    expect(large).toHaveLength(small.length);
    for (const [i, row] of small.entries()) {
      const other = large[i]?.features as number[];
      for (const [k, value] of row.features.entries()) expect(other[k]).toBeCloseTo(value, 9);
    }
    // and they are not trivially zero once there is history
    expect(small.slice(MIN_TRAILING + 1).some((r) => r.features.slice(0, 3).every((f) => f !== 0))).toBe(
      true,
    );
  });

  it('default: relative features are neutral (0) until the asset has enough history', () => {
    const rows = computeFeatures(series('solana', path(30, 150), path(30, 1e6)), 'default');
    // the trailing statistics need MIN_TRAILING earlier windows (returns need one more)
    for (const row of rows.slice(0, MIN_TRAILING)) expect(row.features.slice(1, 3)).toEqual([0, 0]);
    expect(rows[MIN_TRAILING]?.features.slice(1, 3).every((f) => f !== 0)).toBe(true);
    expect(rows[MIN_TRAILING]?.features[0]).toBe(0);
    expect(rows[MIN_TRAILING + 1]?.features[0]).not.toBe(0);
  });

  it('default: a jump stands out in ret_z and a volume spike in volume_z, relative to the asset itself', () => {
    const prices = path(100, 3000);
    const volumes = prices.map(() => 1e6);
    prices[80] = (prices[79] as number) * 1.08; // +8 % in one window
    volumes[90] = 2e7; // 20× the usual volume
    const rows = computeFeatures(series('ethereum', prices, volumes), 'default');
    const retZ = rows.map((r) => Math.abs(r.features[0] as number));
    const volZ = rows.map((r) => r.features[2] as number);
    expect(retZ.indexOf(retZ.reduce((a, b) => Math.max(a, b)))).toBe(80);
    expect(FEATURE_NAMES.default).toEqual(['ret_z', 'range_rel', 'volume_z', 'gap']);
    expect(volZ.indexOf(volZ.reduce((a, b) => Math.max(a, b)))).toBe(90);
    expect(volZ[90]).toBeCloseTo(Math.log(20), 6);
  });

  it('default: a gap in the windows (a stalled feed) shows in the gap feature', () => {
    const windows = series('cardano', path(40, 0.45));
    const gapped = [...windows.slice(0, 30), ...windows.slice(34)]; // four windows missing
    const rows = computeFeatures(gapped, 'default');
    const gaps = rows.map((r) => r.features[3]);
    expect(gaps[30]).toBeCloseTo(Math.log1p(4), 12);
    expect(gaps.filter((g) => g !== 0)).toHaveLength(1);
  });

  it('uses no future data: changing a later window leaves earlier features unchanged', () => {
    const prices = path(60, 40);
    const before = computeFeatures(series('x', prices), 'default');
    prices[50] = 4000;
    const after = computeFeatures(series('x', prices), 'default');
    expect(after.slice(0, 50)).toEqual(before.slice(0, 50));
    expect(after[50]).not.toEqual(before[50]);
  });

  it('orders rows by asset then time, whatever the input order, with no mixing between assets', () => {
    const a = series('aaa', path(20, 10));
    const b = series('bbb', path(20, 20));
    const shuffled = [...b.slice(10), ...a.slice(5), ...b.slice(0, 10), ...a.slice(0, 5)];
    const rows = computeFeatures(shuffled, 'default');
    expect(rows.map((r) => r.asset)).toEqual([...a.map(() => 'aaa'), ...b.map(() => 'bbb')]);
    expect(rows).toEqual([...computeFeatures(a, 'default'), ...computeFeatures(b, 'default')]);
  });
});

describe('TrailingMedian', () => {
  it('is the median of the last N values, skipping nulls, and null with too little history', () => {
    const m = new TrailingMedian(20);
    for (let i = 1; i < MIN_TRAILING; i++) m.push(i);
    expect(m.median()).toBeNull();
    m.push(null);
    expect(m.median()).toBeNull();
    m.push(100);
    expect(m.median()).toBe(6.5); // 1..11 and 100: twelve values
    for (let i = 0; i < 20; i++) m.push(7);
    expect(m.median()).toBe(7); // the window holds only the last twenty
  });
});
