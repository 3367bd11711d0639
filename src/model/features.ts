/**
 * Feature sets over Gold windows. Both are computed per asset over its windows in time order,
 * before any filtering to a training or scoring period, so that lags and trailing statistics see
 * the history just before the period.
 *
 * - `seed`: the original project's features, kept for comparison: price_avg, price_vol, ret_window,
 *   vol_sum, ret_prev (null and ±inf → 0). Raw levels: the highest-priced, highest-volume asset
 *   dominates what looks anomalous.
 * - `default`: scale-free features, each relative to the asset's own trailing day (the previous 288
 *   windows, at least 12 of them), so neither price level, volume level nor an asset's usual
 *   volatility decides what is anomalous. Heavy tails are compressed with logarithms so that no
 *   single kind of event (a crash's huge return) hides the others from the forest:
 *     ret_z     the log return against the previous window over its trailing robust scale
 *               (1.4826 × median |log return|), as sign(z)·ln(1 + |z|);
 *     range_rel ln(1 + the window's high/low range over its trailing median);
 *     volume_z  ln(vol_sum over its trailing median);
 *     gap       ln(1 + windows missing since the previous one): a stalled or frozen feed.
 *   A statistic without enough history is 0 (neutral). bench/detection measured this set against
 *   `seed` on simulated events (README, "Anomaly model").
 *
 * Whatever the set, every row also carries its reasons and data issue (src/model/reasons.ts), from
 * the measurements behind `default`.
 *
 * The Python helpers of the Databricks notebooks implement the same definitions (pandas rolling
 * windows of 288 with min_periods 12, shifted by one).
 */

import { type DataIssue, type Explained, explainSeries, type Measurement } from './reasons.js';

export type FeatureSetName = 'seed' | 'default';

export const FEATURE_NAMES: Record<FeatureSetName, readonly string[]> = {
  seed: ['price_avg', 'price_vol', 'ret_window', 'vol_sum', 'ret_prev'],
  default: ['ret_z', 'range_rel', 'volume_z', 'gap'],
};

/** Trailing history for the relative features: one day of 5-minute windows. */
export const TRAILING_WINDOWS = 288;
export const MIN_TRAILING = 12;
const WINDOW_MS = 5 * 60_000;

/** A Gold window as the features need it. */
export interface GoldWindow {
  asset: string;
  symbol: string | null;
  window_end: string;
  price_avg: number;
  price_vol: number | null;
  price_min: number;
  price_max: number;
  vol_sum: number | null;
  ret_window: number | null;
}

/** A window with the columns the anomalies table keeps, and the model's feature vector. */
export interface FeatureRow {
  asset: string;
  symbol: string | null;
  window_end: string;
  price_avg: number;
  price_vol: number | null;
  ret_window: number | null;
  vol_sum: number | null;
  ret_prev: number | null;
  /** Why the window is unusual (JSON text, src/model/reasons.ts), whatever the feature set. */
  reasons: string;
  data_issue: DataIssue | null;
  features: number[];
}

/** Features for windows of any assets; the output is ordered by asset, then window_end. */
export function computeFeatures(windows: readonly GoldWindow[], set: FeatureSetName): FeatureRow[] {
  const byAsset = new Map<string, GoldWindow[]>();
  for (const w of windows) {
    const list = byAsset.get(w.asset);
    if (list) list.push(w);
    else byAsset.set(w.asset, [w]);
  }
  const out: FeatureRow[] = [];
  for (const asset of [...byAsset.keys()].sort()) {
    const series = (byAsset.get(asset) as GoldWindow[])
      .slice()
      .sort((a, b) => a.window_end.localeCompare(b.window_end));
    for (const row of set === 'seed' ? seedFeatures(series) : defaultFeatures(series)) out.push(row);
  }
  return out;
}

function seedFeatures(series: GoldWindow[]): FeatureRow[] {
  const explained = explainSeries(measureSeries(series).map(toMeasurement));
  return series.map((w, i) => {
    const prev = series[i - 1];
    const retPrev = prev ? w.price_avg / prev.price_avg - 1 : null;
    return {
      ...base(w, retPrev),
      ...(explained[i] as Explained),
      features: [w.price_avg, w.price_vol, w.ret_window, w.vol_sum, retPrev].map(finiteOrZero),
    };
  });
}

function defaultFeatures(series: GoldWindow[]): FeatureRow[] {
  const measured = measureSeries(series);
  const explained = explainSeries(measured.map(toMeasurement));
  return series.map((w, i) => {
    const m = measured[i] as Measured;
    const features = [
      m.logRet !== null && m.retScale !== null && m.retScale > 0
        ? signedLog(m.logRet / (1.4826 * m.retScale))
        : 0,
      Math.log1p(ratio(m.rangeRatio, m.rangeMedian)),
      m.vol !== null && (m.volMedian ?? 0) > 0 ? Math.log(m.vol / (m.volMedian as number)) : 0,
      m.hasPrev ? Math.log1p(Math.max(0, m.stepWindows - 1)) : 0,
    ].map(finiteOrZero);
    return { ...base(w, m.retPrev), ...(explained[i] as Explained), features };
  });
}

/** What the `default` features and the reasons are made of, per window, before any transform. */
interface Measured {
  hasPrev: boolean;
  retPrev: number | null;
  logRet: number | null;
  /** Trailing median |log return| before this window (null with too little history). */
  retScale: number | null;
  rangeRatio: number | null;
  rangeMedian: number | null;
  rangeDrop: number | null;
  vol: number | null;
  volMedian: number | null;
  /** (window_end − previous window_end) / 5 minutes. */
  stepWindows: number;
  still: boolean;
}

function measureSeries(series: GoldWindow[]): Measured[] {
  const absRet = new TrailingMedian(TRAILING_WINDOWS);
  const range = new TrailingMedian(TRAILING_WINDOWS);
  const volume = new TrailingMedian(TRAILING_WINDOWS);
  return series.map((w, i) => {
    const prev = series[i - 1];
    const logRet =
      prev && prev.price_avg > 0 && w.price_avg > 0 ? Math.log(w.price_avg / prev.price_avg) : null;
    const rangeRatio = w.price_min > 0 ? w.price_max / w.price_min - 1 : null;
    const vol = w.vol_sum !== null && w.vol_sum > 0 ? w.vol_sum : null;
    const measured: Measured = {
      hasPrev: prev !== undefined,
      retPrev: prev ? w.price_avg / prev.price_avg - 1 : null,
      logRet,
      retScale: absRet.median(),
      rangeRatio,
      rangeMedian: range.median(),
      rangeDrop: rangeRatio !== null && w.price_max > 0 ? (w.price_max - w.price_min) / w.price_max : null,
      vol,
      volMedian: volume.median(),
      stepWindows: prev ? (Date.parse(w.window_end) - Date.parse(prev.window_end)) / WINDOW_MS : 0,
      still: prev !== undefined && w.price_min === w.price_max && samePrice(w.price_min, prev.price_avg),
    };
    absRet.push(logRet === null ? null : Math.abs(logRet));
    range.push(rangeRatio);
    volume.push(vol);
    return measured;
  });
}

/** Equal up to the rounding of an average of equal prices (DuckDB's and pandas' sums differ in the last bits). */
function samePrice(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-12 * Math.abs(b);
}

function toMeasurement(m: Measured): Measurement {
  const finite = (x: number | null): number | null => (x !== null && Number.isFinite(x) ? x : null);
  return {
    ret: finite(m.retPrev),
    retTimes:
      m.logRet !== null && m.retScale !== null && m.retScale > 0
        ? finite(Math.abs(m.logRet) / (1.4826 * m.retScale))
        : null,
    rangeDrop: finite(m.rangeDrop),
    rangeTimes:
      m.rangeRatio !== null && m.rangeMedian !== null && m.rangeMedian > 0
        ? finite(m.rangeRatio / m.rangeMedian)
        : null,
    volume: m.vol,
    volumeTimes:
      m.vol !== null && m.volMedian !== null && m.volMedian > 0 ? finite(m.vol / m.volMedian) : null,
    missing: m.hasPrev ? Math.max(0, Math.round(m.stepWindows - 1)) : 0,
    still: m.still,
  };
}

function base(
  w: GoldWindow,
  retPrev: number | null,
): Omit<FeatureRow, 'features' | 'reasons' | 'data_issue'> {
  return {
    asset: w.asset,
    symbol: w.symbol,
    window_end: w.window_end,
    price_avg: w.price_avg,
    price_vol: w.price_vol,
    ret_window: w.ret_window,
    vol_sum: w.vol_sum,
    ret_prev: retPrev !== null && Number.isFinite(retPrev) ? retPrev : null,
  };
}

function ratio(value: number | null, median: number | null): number {
  return value !== null && median !== null && median > 0 ? value / median : 0;
}

function signedLog(x: number): number {
  return Math.sign(x) * Math.log1p(Math.abs(x));
}

function finiteOrZero(value: number | null): number {
  return value !== null && Number.isFinite(value) ? value : 0;
}

/**
 * The median of the last `size` values pushed (nulls take a slot but no value, like pandas'
 * rolling windows over NaN), or null with fewer than MIN_TRAILING values. A sorted copy of the
 * window is kept, so each push costs a binary search and one shift.
 */
export class TrailingMedian {
  private readonly window: Array<number | null> = [];
  private readonly sorted: number[] = [];
  constructor(private readonly size: number) {}

  push(value: number | null): void {
    this.window.push(value);
    if (value !== null) this.sorted.splice(this.lowerBound(value), 0, value);
    if (this.window.length > this.size) {
      const gone = this.window.shift();
      if (gone !== null && gone !== undefined) this.sorted.splice(this.lowerBound(gone), 1);
    }
  }

  median(): number | null {
    const n = this.sorted.length;
    if (n < MIN_TRAILING) return null;
    const mid = n >> 1;
    return n % 2 === 1
      ? (this.sorted[mid] as number)
      : ((this.sorted[mid - 1] as number) + (this.sorted[mid] as number)) / 2;
  }

  private lowerBound(value: number): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.sorted[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
