import type { Field } from '../domain/reply.js';
import type { LakehouseReads } from '../platform/port.js';
import type { DeliveredWindow } from './delivery-log.js';

/**
 * Market context: whether an asset moved alone or with the market. A move is an asset's price over
 * a span of windows: from the average of the window just before the span to the window in it
 * farthest from there (signed, a fraction). Read from the same price series the charts show.
 */

const WINDOW_MS = 5 * 60_000;
/** Another asset moved with this one when it went the same way by at least this share of its move. */
const WITH_IT_SHARE = 1 / 3;
/** ...and at least this much (smaller moves are every-minute noise). */
const WITH_IT_MIN = 0.005;

/** Each asset's move over [from, to] (window ends, ISO); null where there is no price before or in it. */
export async function moves(
  reads: Pick<LakehouseReads, 'priceSeries'>,
  assets: readonly string[],
  from: string,
  to: string,
): Promise<Map<string, number | null>> {
  const start = Date.parse(from);
  const out = new Map<string, number | null>();
  for (const asset of assets) {
    const series = await reads.priceSeries(asset, new Date(start - 4 * WINDOW_MS), new Date(Date.parse(to)));
    const before = series.points.filter((p) => Date.parse(p.window_end) < start).at(-1);
    const during = series.points.filter((p) => Date.parse(p.window_end) >= start);
    if (!before || during.length === 0 || before.price_avg <= 0) {
      out.set(asset, null);
      continue;
    }
    let move = 0;
    for (const p of during) {
      const m = p.price_avg / before.price_avg - 1;
      if (Math.abs(m) > Math.abs(move)) move = m;
    }
    out.set(asset, move);
  }
  return out;
}

/** "5–9 %", "7 %", "0.2 %": magnitudes as a range of percents. */
export function percentRange(values: readonly number[]): string {
  const abs = values.map(Math.abs);
  const fmt = (x: number) => (x >= 0.01 ? String(Math.round(x * 100)) : (x * 100).toFixed(1));
  const lo = fmt(abs.reduce((a, b) => Math.min(a, b)));
  const hi = fmt(abs.reduce((a, b) => Math.max(a, b)));
  return lo === hi ? `${lo} %` : `${lo}–${hi} %`;
}

/** "−0.2 % to +0.3 %": signed moves as a range. */
function signedRange(values: readonly number[]): string {
  const fmt = (x: number) => `${x < 0 ? '−' : x > 0 ? '+' : ''}${(Math.abs(x) * 100).toFixed(1)} %`;
  const lo = values.reduce((a, b) => Math.min(a, b));
  const hi = values.reduce((a, b) => Math.max(a, b));
  return lo === hi ? fmt(lo) : `${fmt(lo)} to ${fmt(hi)}`;
}

/** fell, rose or moved: the direction of a group's moves. */
export function direction(values: readonly number[]): 'fell' | 'rose' | 'moved' {
  if (values.length > 0 && values.every((v) => v < 0)) return 'fell';
  if (values.length > 0 && values.every((v) => v > 0)) return 'rose';
  return 'moved';
}

/**
 * The "Market" field of one asset's message: whether the other assets moved with it over the same
 * windows (at least half of them the same way by a third of its move), with their range.
 */
export function marketField(asset: string, all: ReadonlyMap<string, number | null>): Field | undefined {
  const own = all.get(asset);
  const others = [...all].filter(([a, m]) => a !== asset && m !== null).map(([, m]) => m as number);
  if (others.length === 0) return undefined;
  const range = signedRange(others);
  const alongside =
    own === null || own === undefined || own === 0
      ? 0
      : others.filter(
          (m) =>
            Math.sign(m) === Math.sign(own) &&
            Math.abs(m) >= Math.max(WITH_IT_MIN, Math.abs(own) * WITH_IT_SHARE),
        ).length;
  return {
    label: 'Market',
    value:
      alongside * 2 >= others.length
        ? `the market moved with it (others ${range})`
        : `the market did not move (others ${range})`,
  };
}

/** The windows' span as the words of a market message: "within 10 minutes". */
export function within(windows: readonly DeliveredWindow[]): string {
  const ends = windows.map((w) => Date.parse(w.window_end));
  const span = ends.reduce((a, b) => Math.max(a, b)) - ends.reduce((a, b) => Math.min(a, b));
  const minutes = Math.round((span + WINDOW_MS) / 60_000);
  return `within ${minutes} minutes`;
}
