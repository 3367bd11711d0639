/**
 * Why a window is unusual, in words a trader reads, and whether the data next to it is broken.
 *
 * How reasons are chosen: from the measurements behind the `default` feature set
 * (src/model/features.ts), each as a multiple of the asset's usual over its trailing day, which is
 * the distance the forest itself sees. They are computed whatever feature set scored the window.
 * - `return`: the return against the previous window; `times` is |log return| over its trailing
 *   robust scale (1.4826 × median |log return|);
 * - `range`: the drop from the window's high to its low, (max − min) / max (a −10 % crash reads
 *   10 %); `times` is the high/low range over its trailing median, as the forest sees it;
 * - `volume`: the window's volume; `times` is it over its trailing median;
 * - `gap`: minutes of windows missing just before this one;
 * - `frozen`: minutes the price stood still (see explainSeries).
 * A market measurement counts when it is at least REASON_TIMES × usual; the market reasons are
 * ranked by the magnitude of the forest's own feature (ln(1 + times) for return and range,
 * ln(times) for volume). Data reasons (gap, frozen) come first: a broken feed explains the rest.
 * At most MAX_REASONS are kept. A window where nothing stands out alone (the forest found a
 * combination of smaller moves) has an empty list.
 *
 * The Python helpers of the Databricks notebooks implement the same rules
 * (databricks/lib/crypto_risk/features.py) and are tested against this on the same windows.
 */

export const REASON_TIMES = 3;
export const MAX_REASONS = 3;

/**
 * When a window alerts (its `is_anomaly`, what the feed posts): the forest flags it (score < 0), or
 * its stored `return` or `range` reason is at least ALERT_TIMES × the asset's usual. The forest
 * alone misses jumps that stand out in one feature only (a large return on ordinary volume), and
 * lowering its threshold until it finds them floods the feed with the market's ordinary busy
 * minutes. Chosen with bench/detection on the real BTC minutes at the default contamination
 * (0.005): 10–15× all meet the target (price recall ≥ 95 % at ≤ 1 false alert per asset-day) on
 * eight seeds; 8× raises too many false alerts, 20× misses jumps; 12× is the middle. Measured on
 * the stored reasons, so an alert always shows the move that raised it. Volume and data reasons
 * (gap, frozen) alert only through the forest: volume spikes and broken feeds are reported apart.
 * databricks/lib/crypto_risk/features.py has the same rule (is_alert).
 */
export const ALERT_TIMES = 12;
const ALERT_FEATURES: ReadonlySet<ReasonFeature> = new Set(['return', 'range']);

/** Whether a scored window alerts (ALERT_TIMES); `reasons` as stored (JSON text) or parsed. */
export function isAlert(score: number, reasons: string | readonly Reason[] | null | undefined): boolean {
  if (score < 0) return true;
  const list = typeof reasons === 'string' || reasons == null ? parseReasons(reasons) : reasons;
  return list.some((r) => ALERT_FEATURES.has(r.feature) && r.times !== null && r.times >= ALERT_TIMES);
}
const WINDOW_MINUTES = 5;

export type ReasonFeature = 'return' | 'range' | 'volume' | 'gap' | 'frozen';
export type DataIssue = 'gap' | 'frozen';

/**
 * One reason as stored (JSON in the `reasons` column): `value` is the return or the high-to-low drop
 * (fractions), the volume, or minutes (gap, frozen); `times` is the multiple of the asset's usual
 * (null for gap and frozen).
 */
export interface Reason {
  feature: ReasonFeature;
  value: number;
  times: number | null;
}

/** What features.ts measures of one window (nulls where there is no value or too little history). */
export interface Measurement {
  /** price_avg / previous price_avg − 1. */
  ret: number | null;
  /** |log return| over 1.4826 × its trailing median. */
  retTimes: number | null;
  /** (price_max − price_min) / price_max. */
  rangeDrop: number | null;
  /** (price_max / price_min − 1) over its trailing median. */
  rangeTimes: number | null;
  volume: number | null;
  /** volume over its trailing median. */
  volumeTimes: number | null;
  /** Windows missing since the previous window. */
  missing: number;
  /** The price did not move: price_min == price_max == the previous window's price_avg. */
  still: boolean;
}

export interface Explained {
  /** The reasons as JSON text (the column's value). */
  reasons: string;
  data_issue: DataIssue | null;
}

/**
 * Reasons and data issue of each window of one asset's series (in time order). A window is still
 * when its price did not move (price_min == price_max == the previous window's price_avg); it is
 * `frozen` from the second still window in a row on (the price stood still for 15 minutes or more:
 * the still windows and the one before them, whose average they repeat), and so is the first window
 * after such a run (the feed's jump back); `gap` when windows are missing just before it (gap wins).
 * Causal: a window's reasons depend only on it and the windows before it, so scoring a series in
 * parts gives the same reasons as scoring it at once.
 */
export function explainSeries(measurements: readonly Measurement[]): Explained[] {
  let run = 0;
  return measurements.map((m) => {
    const before = run;
    run = m.still ? run + 1 : 0;
    const frozenFor = run >= 2 ? run : !m.still && before >= 2 ? before : 0;
    const data: Reason[] = [];
    if (m.missing > 0) data.push({ feature: 'gap', value: m.missing * WINDOW_MINUTES, times: null });
    // the still windows and the one before them, whose average they repeat
    if (frozenFor > 0) data.push({ feature: 'frozen', value: (frozenFor + 1) * WINDOW_MINUTES, times: null });
    const market: Array<Reason & { magnitude: number }> = [];
    const add = (feature: ReasonFeature, value: number | null, times: number | null, magnitude: number) => {
      if (value !== null && times !== null && Number.isFinite(times) && times >= REASON_TIMES) {
        market.push({ feature, value, times, magnitude });
      }
    };
    add('return', m.ret, m.retTimes, Math.log1p(m.retTimes ?? 0));
    add('range', m.rangeDrop, m.rangeTimes, Math.log1p(m.rangeTimes ?? 0));
    add('volume', m.volume, m.volumeTimes, Math.log(m.volumeTimes ?? 1));
    // a stable sort: equal magnitudes keep the order return, range, volume
    market.sort((a, b) => b.magnitude - a.magnitude);
    const reasons = [...data, ...market.map(({ feature, value, times }) => ({ feature, value, times }))];
    return {
      reasons: JSON.stringify(reasons.slice(0, MAX_REASONS)),
      data_issue: m.missing > 0 ? 'gap' : frozenFor > 0 ? 'frozen' : null,
    };
  });
}

/** The stored reasons (JSON text) back as a list; [] for null or text that is not a list of reasons. */
export function parseReasons(text: string | null | undefined): Reason[] {
  if (!text) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter(
    (r): r is Reason =>
      typeof r === 'object' &&
      r !== null &&
      ['return', 'range', 'volume', 'gap', 'frozen'].includes((r as Reason).feature) &&
      typeof (r as Reason).value === 'number' &&
      ((r as Reason).times === null || typeof (r as Reason).times === 'number'),
  );
}

/** One reason in a trader's words: "5-minute return −9.4 % (14× its usual move)". */
export function formatReason(r: Reason): string {
  const times = r.times === null ? '' : multiple(r.times);
  switch (r.feature) {
    case 'return':
      return `5-minute return ${signedPercent(r.value)} (${times} its usual move)`;
    case 'range':
      // the drop from high to low, apart from the high/low ratio the tables call range
      return `low ${percent(r.value)} under the high (${times} usual)`;
    case 'volume':
      return `volume ${times} the day's median`;
    case 'gap':
      return `no prices for ${minutes(r.value)}`;
    case 'frozen':
      return `price frozen for ${minutes(r.value)}`;
  }
}

/** The reasons of a window joined in words ('' when there are none or they are not known). */
export function formatReasons(text: string | null | undefined, max = MAX_REASONS): string {
  return parseReasons(text).slice(0, max).map(formatReason).join(', ');
}

/** The most telling reason in a few words, for a table cell or a chart label ('' when none). */
export function shortReason(text: string | null | undefined): string {
  const [top] = parseReasons(text);
  if (!top) return '';
  const times = top.times === null ? '' : ` ${multiple(top.times)}`;
  switch (top.feature) {
    case 'return':
      return `return ${signedPercent(top.value)}${times}`;
    case 'range':
      return `high→low −${percent(top.value)}${times}`;
    case 'volume':
      return `volume${times}`;
    case 'gap':
      return `gap ${minutes(top.value)}`;
    case 'frozen':
      return `frozen ${minutes(top.value)}`;
  }
}

function multiple(times: number): string {
  return `${times >= 10 ? Math.round(times) : Math.round(times * 10) / 10}×`;
}

function percent(fraction: number): string {
  return `${(Math.abs(fraction) * 100).toFixed(1)} %`;
}

function signedPercent(fraction: number): string {
  const sign = fraction < 0 ? '−' : fraction > 0 ? '+' : '';
  return `${sign}${percent(fraction)}`;
}

function minutes(value: number): string {
  const m = Math.round(value);
  return m >= 120 && m % 60 === 0 ? `${m / 60} hours` : `${m} minute${m === 1 ? '' : 's'}`;
}
