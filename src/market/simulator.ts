/**
 * A seeded, deterministic market simulator that writes CoinGecko `/coins/markets` records and the
 * ground truth of the anomalies it injected (`SimEvent`), so that detection can be scored.
 *
 * Model, per asset and tick:
 * - log price: a random walk (GBM without drift) with per-tick sd `dailyVol · sqrt(tickSeconds / 86400)`,
 *   switching between a calm and a volatile regime (3× the sd) by a two-state Markov chain with
 *   exponential durations (means 16 h calm, 2 h volatile);
 * - volume (USD per tick): `volumePerMinute` scaled to the tick, times a UTC hour-of-day pattern
 *   (busiest 13–16 UTC, quietest 3–5 UTC), a weekend dip, log-normal noise, and a factor rising
 *   with the tick's |log return|;
 * - events: a Poisson process of `eventsPerAssetDay` per asset, never overlapping (at least one
 *   clean tick between two events of an asset): jump, flash crash, volume spike, frozen feed.
 *
 * Determinism: each asset draws from two streams of its own, keyed by (seed, asset id): one for the
 * market (regimes, returns, volume noise), one for the events. The market stream does not depend on
 * the events, so the same seed with `eventsPerAssetDay: 0` is the event-free counterfactual of a run.
 * Output does not depend on how `advance` calls are chunked, and `state()` round-trips through JSON.
 */

import { createRandom, type Random, restoreRandom } from './random.js';
import type { MarketRecord, SimEvent } from './record.js';

export interface AssetSpec {
  id: string;
  symbol: string;
  name: string;
  /** Starting USD price. */
  price: number;
  /** Sd of daily log returns in the calm regime, e.g. 0.03. */
  dailyVol: number;
  /** Typical USD traded per minute. */
  volumePerMinute: number;
  /** Circulating supply: market_cap = price × supply. */
  supply: number;
}

/** The original five coins at 2024–25 levels; volumes are ≈ 24 h volume / 1440. */
export const DEFAULT_ASSETS: readonly AssetSpec[] = Object.freeze(
  [
    {
      id: 'bitcoin',
      symbol: 'btc',
      name: 'Bitcoin',
      price: 65_000,
      dailyVol: 0.022,
      volumePerMinute: 21_000_000,
      supply: 19_800_000,
    },
    {
      id: 'ethereum',
      symbol: 'eth',
      name: 'Ethereum',
      price: 3_200,
      dailyVol: 0.03,
      volumePerMinute: 10_500_000,
      supply: 120_400_000,
    },
    {
      id: 'solana',
      symbol: 'sol',
      name: 'Solana',
      price: 150,
      dailyVol: 0.04,
      volumePerMinute: 2_100_000,
      supply: 470_000_000,
    },
    {
      id: 'cardano',
      symbol: 'ada',
      name: 'Cardano',
      price: 0.45,
      dailyVol: 0.037,
      volumePerMinute: 420_000,
      supply: 35_500_000_000,
    },
    {
      id: 'dogecoin',
      symbol: 'doge',
      name: 'Dogecoin',
      price: 0.15,
      dailyVol: 0.042,
      volumePerMinute: 1_050_000,
      supply: 146_000_000_000,
    },
  ].map((a) => Object.freeze(a)),
);

/**
 * The default spec for a known id, else one derived deterministically from the id: a price from
 * $0.01 to ≈ $300,000 (log-uniform), calm daily vol 3–7 %, $20k–$3M a minute, cap $100M–$30B.
 */
export function assetSpecFor(id: string): AssetSpec {
  const known = DEFAULT_ASSETS.find((a) => a.id === id);
  if (known) return { ...known };
  const r = createRandom(`asset-spec/${id}`);
  const price = Number((10 ** (-2 + 7.5 * r.uniform())).toPrecision(4));
  const dailyVol = Number((0.03 + 0.04 * r.uniform()).toFixed(3));
  const volumePerMinute = Math.round(10 ** (4.3 + 2.2 * r.uniform()));
  const marketCap = 10 ** (8 + 2.5 * r.uniform());
  const parts = id.split('-').filter((p) => p.length > 0);
  const symbol = parts.length > 1 ? parts.map((p) => (/^\d+$/.test(p) ? p : p[0])).join('') : id.slice(0, 5);
  const name = parts.map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join(' ') || id;
  return { id, symbol, name, price, dailyVol, volumePerMinute, supply: Math.round(marketCap / price) };
}

/** The five defaults followed by generated assets `sim-asset-06`, `sim-asset-07`, …; deterministic. */
export function syntheticAssets(n: number): AssetSpec[] {
  const width = Math.max(2, String(n).length);
  return Array.from({ length: n }, (_, i) =>
    i < DEFAULT_ASSETS.length
      ? { ...(DEFAULT_ASSETS[i] as AssetSpec) }
      : assetSpecFor(`sim-asset-${String(i + 1).padStart(width, '0')}`),
  );
}

export interface SimulatorOptions {
  seed: number;
  assets: readonly AssetSpec[];
  /** Time of the first tick. */
  start: Date;
  /** Seconds between ticks; default 60, may be below 60 (whole milliseconds). */
  tickSeconds?: number;
  /** Mean number of injected events per asset and day (Poisson); default 1, 0 for none. */
  eventsPerAssetDay?: number;
}

type EventKind = SimEvent['kind'];

/** An event in progress, by tick index. `ramp` is the flash crash's number of falling ticks. */
interface ActiveEvent {
  kind: EventKind;
  start: number;
  end: number;
  magnitude: number;
  ramp: number;
}

/** Everything one asset needs to continue exactly; plain JSON. */
export interface AssetSimState {
  spec: AssetSpec;
  /** Random state of the market stream (regimes, returns, volume noise). */
  market: number[];
  /** Random state of the event stream (times, kinds, sizes). */
  events: number[];
  /** Log of price / starting price on the event-free path. */
  logBase: number;
  /** Sum of the permanent jumps' log shifts so far. */
  logShift: number;
  /** Hidden log of price / starting price at the last tick (events included), for the tick's return. */
  logPrice: number;
  regime: 'calm' | 'volatile';
  /** Ticks left in the current regime. */
  regimeLeft: number;
  /** Tick index of the next event's start; null when events are off. */
  nextEvent: number | null;
  active: ActiveEvent | null;
  /** The last record the feed showed, which a frozen feed repeats. */
  last: { price: number; volume: number; lastUpdated: string } | null;
}

export interface SimulatorState {
  version: 1;
  options: { seed: number; start: string; tickSeconds: number; eventsPerAssetDay: number };
  /** Index of the next tick to produce; tick k is at start + k · tickSeconds. */
  nextTick: number;
  assets: AssetSimState[];
}

export interface MarketSimulator {
  /**
   * Every tick with time <= until that was not returned before, all assets, ordered by tick time
   * then asset (in the order of the options); plus the events whose first tick lies in the returned
   * span. Each record's `total_volume` is the USD traded during the tick's interval, not CoinGecko's
   * rolling 24 h volume (a documented deviation). During a frozen feed the records repeat the last
   * one exactly, including its older `last_updated`.
   */
  advance(until: Date): { records: MarketRecord[]; events: SimEvent[] };
  /**
   * Moves past every tick with time <= until exactly as `advance` would, without keeping a record,
   * so a long stop can be caught up in constant memory. Returns how many ticks were passed and the
   * events that started in the skipped span and are still running after it (their later ticks are
   * still to come, so they belong to the ground truth of what follows).
   */
  skip(until: Date): { ticks: number; events: SimEvent[] };
  /** A snapshot that `restoreSimulator` continues exactly, also after JSON.stringify/parse. */
  state(): SimulatorState;
}

const DAY_SECONDS = 86_400;
const CALM_MEAN_HOURS = 16;
const VOLATILE_MEAN_HOURS = 2;
const VOLATILE_FACTOR = 3;
/** Sd of the log-normal volume noise per tick. */
const VOLUME_NOISE = 0.45;
/** Volume factor 1 + COUPLING · min(|return| / calm sd, COUPLING_CAP), normalised to 1 in calm ticks. */
const COUPLING = 0.5;
const COUPLING_CAP = 20;
const COUPLING_NORM = 1 + COUPLING * Math.sqrt(2 / Math.PI);
const WEEKEND_FACTOR = 0.8;
/** Relative volume at each UTC hour (centre of the hour); interpolated linearly in between. */
const HOURLY = normalise([
  1.0, 0.95, 0.85, 0.72, 0.66, 0.7, 0.8, 0.9, 1.0, 1.02, 1.0, 1.02, 1.1, 1.25, 1.36, 1.34, 1.22, 1.1, 1.02,
  0.98, 0.95, 0.92, 0.92, 0.96,
]);
const EVENT_KINDS: readonly EventKind[] = ['jump', 'flash_crash', 'volume_spike', 'frozen_feed'];

export function createSimulator(options: SimulatorOptions): MarketSimulator {
  const tickSeconds = options.tickSeconds ?? 60;
  const eventsPerAssetDay = options.eventsPerAssetDay ?? 1;
  const ids = new Set(options.assets.map((a) => a.id));
  if (ids.size !== options.assets.length) throw new RangeError('simulator asset ids must be unique');
  const settings = { seed: options.seed, start: isoOf(options.start), tickSeconds, eventsPerAssetDay };
  validate(settings);
  const assets = options.assets.map((s): AssetSimState => {
    const market = createRandom(`${options.seed}/${s.id}/market`);
    const events = createRandom(`${options.seed}/${s.id}/events`);
    const volatile = market.uniform() < VOLATILE_MEAN_HOURS / (CALM_MEAN_HOURS + VOLATILE_MEAN_HOURS);
    const regime = volatile ? 'volatile' : 'calm';
    return {
      spec: { ...s },
      regime,
      regimeLeft: regimeTicks(market, regime, tickSeconds),
      logBase: 0,
      logShift: 0,
      logPrice: 0,
      nextEvent: eventsPerAssetDay > 0 ? 1 + eventGap(events, tickSeconds, eventsPerAssetDay) : null,
      active: null,
      last: null,
      market: market.state(),
      events: events.state(),
    };
  });
  return restoreSimulator({ version: 1, options: settings, nextTick: 0, assets });
}

export function restoreSimulator(state: SimulatorState): MarketSimulator {
  if (state?.version !== 1) throw new RangeError('unsupported simulator state (expected version 1)');
  validate(state.options);
  const { tickSeconds, eventsPerAssetDay } = state.options;
  const startMs = Date.parse(state.options.start);
  const tickMs = Math.round(tickSeconds * 1000);
  const scale = Math.sqrt(tickSeconds / DAY_SECONDS);
  const assets = state.assets.map(({ market, events, ...rest }) => ({
    ...structuredClone(rest),
    marketRandom: restoreRandom(market),
    eventRandom: restoreRandom(events),
    calmSd: rest.spec.dailyVol * scale,
    baseVolume: rest.spec.volumePerMinute * (tickSeconds / 60),
  }));
  let nextTick = state.nextTick;

  /** Plans an event starting at tick k, from the asset's event stream. */
  function plan(r: Random, k: number): ActiveEvent {
    const kind = EVENT_KINDS[Math.floor(r.uniform() * EVENT_KINDS.length)] as EventKind;
    const minutes = (lo: number, hi: number) =>
      Math.max(1, Math.round(((lo + (hi - lo) * r.uniform()) * 60) / tickSeconds));
    switch (kind) {
      case 'jump': {
        const sign = r.uniform() < 0.5 ? -1 : 1;
        return { kind, start: k, end: k, magnitude: round4(sign * (0.03 + 0.09 * r.uniform())), ramp: 0 };
      }
      case 'flash_crash': {
        const drop = round4(0.1 + 0.2 * r.uniform());
        const ramp = 1 + Math.floor(5 * r.uniform());
        const recovery = minutes(10, 60);
        return { kind, start: k, end: k + ramp + recovery - 1, magnitude: -drop, ramp };
      }
      case 'volume_spike': {
        const multiple = round4(8 * 5 ** r.uniform()); // log-uniform in 8–40
        const ticks = 2 + Math.floor(9 * r.uniform());
        return { kind, start: k, end: k + ticks - 1, magnitude: multiple, ramp: 0 };
      }
      case 'frozen_feed':
        return { kind, start: k, end: k + minutes(10, 40) - 1, magnitude: 0, ramp: 0 };
    }
  }

  function advance(until: Date): { records: MarketRecord[]; events: SimEvent[] } {
    const untilMs = until.getTime();
    if (Number.isNaN(untilMs)) throw new RangeError('advance(until) needs a valid date');
    const records: MarketRecord[] = [];
    const events: SimEvent[] = [];
    run(untilMs, records, events);
    return { records, events };
  }

  function skip(until: Date): { ticks: number; events: SimEvent[] } {
    const untilMs = until.getTime();
    if (Number.isNaN(untilMs)) throw new RangeError('skip(until) needs a valid date');
    const first = nextTick;
    run(untilMs, undefined, undefined);
    const events: SimEvent[] = [];
    for (const a of assets) {
      const ev = a.active;
      if (ev === null || ev.start < first) continue;
      events.push({
        asset: a.spec.id,
        kind: ev.kind,
        start: new Date(startMs + ev.start * tickMs).toISOString(),
        end: new Date(startMs + ev.end * tickMs).toISOString(),
        magnitude: ev.magnitude,
      });
    }
    return { ticks: nextTick - first, events };
  }

  /** Produces the ticks up to untilMs; records and events are kept only when there is a list for them. */
  function run(untilMs: number, records: MarketRecord[] | undefined, events: SimEvent[] | undefined): void {
    for (; startMs + nextTick * tickMs <= untilMs; nextTick++) {
      const k = nextTick;
      const t = startMs + k * tickMs;
      const iso = new Date(t).toISOString();
      const season = seasonality(t);
      for (const a of assets) {
        // Market stream: the same draws every tick, whatever the events do.
        const m = a.marketRandom;
        if (k > 0 && --a.regimeLeft <= 0) {
          a.regime = a.regime === 'calm' ? 'volatile' : 'calm';
          a.regimeLeft = regimeTicks(m, a.regime, tickSeconds);
        }
        const z = m.normal();
        const noise = m.normal();
        if (k > 0) a.logBase += (a.regime === 'volatile' ? VOLATILE_FACTOR : 1) * a.calmSd * z;

        // Event stream.
        if (a.active === null && a.nextEvent === k) {
          const ev = plan(a.eventRandom, k);
          a.active = ev;
          events?.push({
            asset: a.spec.id,
            kind: ev.kind,
            start: iso,
            end: new Date(startMs + ev.end * tickMs).toISOString(),
            magnitude: ev.magnitude,
          });
        }
        const ev = a.active;
        let transient = 0;
        let volumeMultiple = 1;
        if (ev !== null) {
          if (ev.kind === 'jump') a.logShift += Math.log1p(ev.magnitude);
          else if (ev.kind === 'flash_crash') transient = crashOffset(ev, k);
          else if (ev.kind === 'volume_spike') volumeMultiple = ev.magnitude;
        }

        const logPrice = a.logBase + a.logShift + transient;
        const move = k > 0 ? Math.abs(logPrice - a.logPrice) / a.calmSd : 0;
        a.logPrice = logPrice;
        const coupling = (1 + COUPLING * Math.min(move, COUPLING_CAP)) / COUPLING_NORM;
        const lognormal = Math.exp(VOLUME_NOISE * noise - (VOLUME_NOISE * VOLUME_NOISE) / 2);
        const volume = a.baseVolume * season * coupling * lognormal * volumeMultiple;

        if (ev?.kind !== 'frozen_feed' || a.last === null) {
          a.last = { price: a.spec.price * Math.exp(logPrice), volume, lastUpdated: iso };
        }
        records?.push({
          id: a.spec.id,
          symbol: a.spec.symbol,
          name: a.spec.name,
          image: null,
          current_price: a.last.price,
          market_cap: a.last.price * a.spec.supply,
          total_volume: a.last.volume,
          last_updated: a.last.lastUpdated,
        });

        if (ev !== null && k === ev.end) {
          a.active = null;
          a.nextEvent = k + 2 + eventGap(a.eventRandom, tickSeconds, eventsPerAssetDay);
        }
      }
    }
  }

  function snapshot(): SimulatorState {
    return {
      version: 1,
      options: { ...state.options },
      nextTick,
      assets: assets.map((a) => ({
        spec: { ...a.spec },
        market: a.marketRandom.state(),
        events: a.eventRandom.state(),
        logBase: a.logBase,
        logShift: a.logShift,
        logPrice: a.logPrice,
        regime: a.regime,
        regimeLeft: a.regimeLeft,
        nextEvent: a.nextEvent,
        active: a.active && { ...a.active },
        last: a.last && { ...a.last },
      })),
    };
  }

  return { advance, skip, state: snapshot };
}

/** Log offset of a flash crash at tick k: a linear fall over `ramp` ticks, then a convex recovery. */
function crashOffset(ev: ActiveEvent, k: number): number {
  const i = k - ev.start + 1;
  if (i <= ev.ramp) return Math.log1p((ev.magnitude * i) / ev.ramp);
  const recovery = ev.end - ev.start + 1 - ev.ramp;
  const left = 1 - (i - ev.ramp) / (recovery + 1);
  return Math.log1p(ev.magnitude * left * left);
}

/** Duration of a regime spell in ticks: exponential with the regime's mean, at least one tick. */
function regimeTicks(r: Random, regime: 'calm' | 'volatile', tickSeconds: number): number {
  const meanTicks = ((regime === 'calm' ? CALM_MEAN_HOURS : VOLATILE_MEAN_HOURS) * 3600) / tickSeconds;
  return Math.max(1, Math.ceil(-Math.log(1 - r.uniform()) * meanTicks));
}

/** Ticks until the next event of a Poisson process with `perDay` events a day (kept JSON-safe). */
function eventGap(r: Random, tickSeconds: number, perDay: number): number {
  const gap = Math.floor((-Math.log(1 - r.uniform()) * DAY_SECONDS) / (tickSeconds * perDay));
  return Math.min(gap, Number.MAX_SAFE_INTEGER);
}

/** Volume factor for the instant t (ms): hour-of-day pattern, lower on Saturdays and Sundays. */
function seasonality(t: number): number {
  const hours = mod(t / 3_600_000 - 0.5, 24);
  const h = Math.floor(hours);
  const f = hours - h;
  const hourly = (HOURLY[h] as number) * (1 - f) + (HOURLY[(h + 1) % 24] as number) * f;
  const weekday = mod(Math.floor(t / 86_400_000) + 4, 7); // 1970-01-01 was a Thursday
  return weekday === 0 || weekday === 6 ? hourly * WEEKEND_FACTOR : hourly;
}

function validate(o: SimulatorState['options']): void {
  const problems: string[] = [];
  if (!Number.isFinite(o.seed)) problems.push('seed must be a finite number');
  if (Number.isNaN(Date.parse(o.start))) problems.push('start must be a valid date');
  if (!(o.tickSeconds > 0) || Math.abs(o.tickSeconds * 1000 - Math.round(o.tickSeconds * 1000)) > 1e-6) {
    problems.push('tickSeconds must be positive, in whole milliseconds');
  }
  if (!(o.eventsPerAssetDay >= 0) || !Number.isFinite(o.eventsPerAssetDay)) {
    problems.push('eventsPerAssetDay must be a finite number >= 0');
  }
  if (problems.length > 0) throw new RangeError(`invalid simulator options: ${problems.join('; ')}`);
}

function isoOf(d: Date): string {
  return Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString();
}

function normalise(values: number[]): number[] {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return values.map((v) => v / mean);
}

function mod(x: number, n: number): number {
  return ((x % n) + n) % n;
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
