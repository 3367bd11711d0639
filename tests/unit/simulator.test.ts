import { describe, expect, it } from 'vitest';
import { createRandom, restoreRandom } from '../../src/market/random.js';
import { type MarketRecord, marketRecordSchema, type SimEvent } from '../../src/market/record.js';
import {
  assetSpecFor,
  createSimulator,
  DEFAULT_ASSETS,
  restoreSimulator,
  type SimulatorOptions,
  type SimulatorState,
  syntheticAssets,
} from '../../src/market/simulator.js';

const START = new Date('2025-01-06T00:00:00.000Z'); // a Monday
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(START.getTime() + ms);

function options(extra: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return { seed: 7, assets: DEFAULT_ASSETS, start: START, ...extra };
}

function run(extra: Partial<SimulatorOptions>, until: Date) {
  return createSimulator(options(extra)).advance(until);
}

/** Records of one asset, in tick order (index k = tick k). */
function seriesOf(records: MarketRecord[], asset: string): MarketRecord[] {
  return records.filter((r) => r.id === asset);
}

const price = (r: MarketRecord | undefined) => r?.current_price as number;
const volume = (r: MarketRecord | undefined) => r?.total_volume as number;
const tickOf = (iso: string, tickSeconds = 60) => (Date.parse(iso) - START.getTime()) / (tickSeconds * 1000);
const sd = (xs: number[]) => {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
};
const roundTrip = (state: SimulatorState) => JSON.parse(JSON.stringify(state)) as SimulatorState;

/** Thirty days of the five defaults, with events and (same seed) without: the counterfactual. */
const month = (() => {
  let cache: { withEvents: ReturnType<typeof run>; without: ReturnType<typeof run> } | undefined;
  return () => {
    cache ??= {
      withEvents: run({}, at(30 * DAY - 1)),
      without: run({ eventsPerAssetDay: 0 }, at(30 * DAY - 1)),
    };
    return cache;
  };
})();

describe('market simulator: determinism', () => {
  it('gives the same stream for the same seed and start', () => {
    expect(run({}, at(2 * DAY))).toEqual(run({}, at(2 * DAY)));
  });

  it('gives a different stream for a different seed', () => {
    const a = run({ seed: 1 }, at(DAY));
    const b = run({ seed: 2 }, at(DAY));
    const same = a.records.filter((r, i) => r.current_price === b.records[i]?.current_price).length;
    expect(same).toBe(DEFAULT_ASSETS.length); // only the first tick, at the starting prices
    expect(a.events).not.toEqual(b.events);
  });

  it("keeps an asset's stream when other assets are added", () => {
    const alone = run({ assets: [assetSpecFor('solana')] }, at(3 * DAY));
    const crowd = run({ assets: syntheticAssets(8) }, at(3 * DAY));
    expect(seriesOf(crowd.records, 'solana')).toEqual(alone.records);
    expect(crowd.events.filter((e) => e.asset === 'solana')).toEqual(alone.events);
  });

  it('does not depend on how advance calls are chunked', () => {
    const extra = { tickSeconds: 20, eventsPerAssetDay: 8 };
    const until = at(2 * DAY);
    const whole = run(extra, until);
    const sim = createSimulator(options(extra));
    const records: MarketRecord[] = [];
    const events: SimEvent[] = [];
    let t = START.getTime() - HOUR; // before the first tick: nothing yet
    let step = 0;
    while (t < until.getTime()) {
      t = Math.min(until.getTime(), t + ((step * 7_919_993) % (97 * 60_000)) + 1);
      const out = sim.advance(new Date(t));
      for (const r of out.records) expect(Date.parse(r.last_updated as string)).toBeLessThanOrEqual(t);
      if (step % 5 === 0) expect(sim.advance(new Date(t - 3_600_000))).toEqual({ records: [], events: [] });
      for (const r of out.records) records.push(r);
      for (const e of out.events) events.push(e);
      step++;
    }
    expect(step).toBeGreaterThan(50);
    expect(records).toEqual(whole.records);
    expect(events).toEqual(whole.events);
    expect(whole.events.length).toBeGreaterThan(50);
  });

  it('continues exactly from a state passed through JSON, also in the middle of events', () => {
    const extra = { eventsPerAssetDay: 6 };
    const until = at(3 * DAY);
    const whole = run(extra, until);
    // Cut in the middle of every multi-tick event, restoring from JSON each time.
    const cuts = whole.events
      .filter((e) => e.start !== e.end)
      .map((e) => (Date.parse(e.start) + Date.parse(e.end)) / 2)
      .sort((a, b) => a - b);
    expect(cuts.length).toBeGreaterThan(20);
    let state = roundTrip(createSimulator(options(extra)).state()); // before any tick
    const records: MarketRecord[] = [];
    const events: SimEvent[] = [];
    for (const cut of [...cuts, until.getTime()]) {
      const sim = restoreSimulator(state);
      const out = sim.advance(new Date(cut));
      for (const r of out.records) records.push(r);
      for (const e of out.events) events.push(e);
      state = roundTrip(sim.state());
    }
    expect(records).toEqual(whole.records);
    expect(events).toEqual(whole.events);
  });

  it('takes a snapshot that later ticks do not change', () => {
    const sim = createSimulator(options());
    sim.advance(at(HOUR));
    const snapshot = sim.state();
    const next = sim.advance(at(2 * HOUR));
    expect(restoreSimulator(snapshot).advance(at(2 * HOUR))).toEqual(next);
  });
});

describe('market simulator: records', () => {
  it('writes /coins/markets records that pass the schema, every tick for every asset, in order', () => {
    const assets = syntheticAssets(7);
    const { records } = run({ assets, tickSeconds: 15 }, at(6 * HOUR));
    expect(records).toHaveLength((6 * 240 + 1) * assets.length);
    records.forEach((r, i) => {
      expect(marketRecordSchema.safeParse(r).success).toBe(true);
      const spec = assets[i % assets.length];
      expect(Object.keys(r)).toEqual([
        'id',
        'symbol',
        'name',
        'image',
        'current_price',
        'market_cap',
        'total_volume',
        'last_updated',
      ]);
      expect(r).toMatchObject({ id: spec?.id, symbol: spec?.symbol, name: spec?.name, image: null });
      expect(r.market_cap).toBeCloseTo(price(r) * (spec?.supply as number), 0);
      expect(price(r)).toBeGreaterThan(0);
      expect(volume(r)).toBeGreaterThan(0);
      expect(r.last_updated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(r.last_updated as string)).toBeLessThanOrEqual(
        START.getTime() + Math.floor(i / assets.length) * 15_000,
      );
    });
    expect(records[0]?.current_price).toBe(assets[0]?.price);
    expect(records.at(-1)?.last_updated).toBe('2025-01-06T06:00:00.000Z');
  });

  it('keeps price levels and the volatility of log returns in realistic bands', () => {
    const { without } = month();
    for (const spec of DEFAULT_ASSETS) {
      const prices = seriesOf(without.records, spec.id).map(price);
      expect(prices.reduce((a, b) => Math.min(a, b))).toBeGreaterThan(spec.price / 3);
      expect(prices.reduce((a, b) => Math.max(a, b))).toBeLessThan(spec.price * 3);
      const returns = prices.slice(1).map((p, i) => Math.log(p / (prices[i] as number)));
      const calmTickSd = spec.dailyVol / Math.sqrt(1440);
      // A mixture of calm (1×) and volatile (3×) regimes, calm most of the time.
      expect(sd(returns) / calmTickSd).toBeGreaterThan(1.05);
      expect(sd(returns) / calmTickSd).toBeLessThan(2.2);
      const daily = prices.filter((_, k) => k % 1440 === 0);
      const dailyReturns = daily.slice(1).map((p, i) => Math.log(p / (daily[i] as number)));
      expect(sd(dailyReturns)).toBeGreaterThan(0.01);
      expect(sd(dailyReturns)).toBeLessThan(0.12);
    }
  });

  it('spans price levels from cents to six figures for generated assets', () => {
    const specs = Array.from({ length: 300 }, (_, i) => assetSpecFor(`coin-${i}`));
    expect(assetSpecFor('coin-1')).toEqual(specs[1]);
    expect(assetSpecFor('bitcoin')).toEqual(DEFAULT_ASSETS[0]);
    const prices = specs.map((s) => s.price);
    expect(prices.reduce((a, b) => Math.min(a, b))).toBeLessThan(0.05);
    expect(prices.reduce((a, b) => Math.max(a, b))).toBeGreaterThan(50_000);
    for (const s of specs) {
      expect(s.dailyVol).toBeGreaterThan(0.01);
      expect(s.volumePerMinute).toBeGreaterThan(0);
      expect(s.supply).toBeGreaterThan(0);
    }
    const twenty = syntheticAssets(20);
    expect(twenty.slice(0, 5)).toEqual(DEFAULT_ASSETS);
    expect(twenty[5]?.id).toBe('sim-asset-06');
    expect(new Set(twenty.map((a) => a.id)).size).toBe(20);
    expect(syntheticAssets(20)).toEqual(twenty);
  });

  it('trades most around 13–16 UTC and least around 3–5 UTC', () => {
    const { without } = month();
    for (const spec of DEFAULT_ASSETS) {
      const byHour = Array.from({ length: 24 }, () => ({ sum: 0, n: 0 }));
      for (const r of seriesOf(without.records, spec.id)) {
        const bucket = byHour[new Date(r.last_updated as string).getUTCHours()] as { sum: number; n: number };
        bucket.sum += volume(r);
        bucket.n++;
      }
      const mean = (hours: number[]) =>
        hours.reduce((s, h) => s + (byHour[h]?.sum ?? 0), 0) /
        hours.reduce((s, h) => s + (byHour[h]?.n ?? 0), 0);
      expect(mean([13, 14, 15])).toBeGreaterThan(1.4 * mean([3, 4]));
      // The typical volume is about what the spec says.
      const overall = mean(Array.from({ length: 24 }, (_, h) => h));
      expect(overall / spec.volumePerMinute).toBeGreaterThan(0.7);
      expect(overall / spec.volumePerMinute).toBeLessThan(1.4);
    }
  });
});

describe('market simulator: injected events', () => {
  it('records a Poisson stream of non-overlapping events of every kind, within the run', () => {
    const { withEvents } = month();
    const events = withEvents.events;
    expect(events.length).toBeGreaterThan(100); // 5 assets × 30 days × 1 a day
    expect(events.length).toBeLessThan(200);
    expect(new Set(events.map((e) => e.kind))).toEqual(
      new Set(['jump', 'flash_crash', 'volume_spike', 'frozen_feed']),
    );
    for (const spec of DEFAULT_ASSETS) {
      const own = events.filter((e) => e.asset === spec.id);
      own.forEach((e, i) => {
        expect(Date.parse(e.start)).toBeLessThanOrEqual(Date.parse(e.end));
        if (i > 0) expect(Date.parse(e.start)).toBeGreaterThan(Date.parse(own[i - 1]?.end as string));
      });
    }
    for (const e of events) {
      const ticks = tickOf(e.end) - tickOf(e.start) + 1;
      expect(Number.isInteger(tickOf(e.start))).toBe(true);
      if (e.kind === 'jump') {
        expect(Math.abs(e.magnitude)).toBeGreaterThanOrEqual(0.03);
        expect(Math.abs(e.magnitude)).toBeLessThanOrEqual(0.12);
        expect(ticks).toBe(1);
      } else if (e.kind === 'flash_crash') {
        expect(e.magnitude).toBeGreaterThanOrEqual(-0.3);
        expect(e.magnitude).toBeLessThanOrEqual(-0.1);
        expect(ticks).toBeGreaterThanOrEqual(11);
        expect(ticks).toBeLessThanOrEqual(65);
      } else if (e.kind === 'volume_spike') {
        expect(e.magnitude).toBeGreaterThanOrEqual(8);
        expect(e.magnitude).toBeLessThanOrEqual(40);
        expect(ticks).toBeGreaterThanOrEqual(2);
        expect(ticks).toBeLessThanOrEqual(10);
      } else {
        expect(e.magnitude).toBe(0);
        expect(ticks).toBeGreaterThanOrEqual(10);
        expect(ticks).toBeLessThanOrEqual(40);
      }
    }
  });

  /** The events of a kind with their asset's series, with events and without (same seed). */
  function cases(kind: SimEvent['kind']) {
    const { withEvents, without } = month();
    const found = withEvents.events
      .filter((e) => e.kind === kind)
      .map((event) => ({
        event,
        s: tickOf(event.start),
        e: tickOf(event.end),
        real: seriesOf(withEvents.records, event.asset),
        base: seriesOf(without.records, event.asset),
      }))
      .filter(({ e, real }) => e + 1 < real.length);
    expect(found.length).toBeGreaterThan(10);
    return found;
  }

  it('drops the price by the magnitude in a flash crash, then recovers fully', () => {
    for (const { event, s, e, real, base } of cases('flash_crash')) {
      const before = price(real[s - 1]);
      const low = real
        .slice(s, e + 1)
        .map(price)
        .reduce((a, b) => Math.min(a, b));
      expect(Math.abs(low / before - 1 - event.magnitude)).toBeLessThan(0.03);
      // Against the event-free path of the same seed the effect is exact.
      const ratio = (k: number) => price(real[k]) / price(base[k]);
      const lowRatio = real
        .slice(s, e + 1)
        .map((_, i) => ratio(s + i))
        .reduce((a, b) => Math.min(a, b));
      expect(lowRatio / ratio(s - 1)).toBeCloseTo(1 + event.magnitude, 9);
      // The low comes within the first five ticks; then a steady climb back, nearly done by the end.
      const path = real.slice(s, e + 1).map((_, i) => ratio(s + i) / ratio(s - 1));
      const lowAt = path.indexOf(path.reduce((a, b) => Math.min(a, b)));
      expect(lowAt).toBeLessThan(5);
      for (let i = lowAt + 1; i < path.length; i++) expect(path[i]).toBeGreaterThan(path[i - 1] as number);
      expect(path.at(-1)).toBeLessThan(1);
      expect(path.at(-1)).toBeGreaterThan(1 + event.magnitude / 10);
      expect(ratio(e + 1) / ratio(s - 1)).toBeCloseTo(1, 9);
    }
  });

  it('shifts the price level for good in a jump', () => {
    for (const { event, s, real, base } of cases('jump')) {
      expect(Math.abs(price(real[s]) / price(real[s - 1]) - 1 - event.magnitude)).toBeLessThan(0.02);
      const ratio = (k: number) => price(real[k]) / price(base[k]);
      expect(ratio(s) / ratio(s - 1)).toBeCloseTo(1 + event.magnitude, 9);
      expect(ratio(Math.min(s + 30, real.length - 1)) / ratio(s - 1)).toBeCloseTo(1 + event.magnitude, 9);
    }
  });

  it('multiplies the volume by the magnitude in a volume spike', () => {
    for (const { event, s, e, real, base } of cases('volume_spike')) {
      for (let k = s; k <= e; k++) expect(volume(real[k]) / volume(base[k])).toBeCloseTo(event.magnitude, 6);
      expect(volume(real[e + 1]) / volume(base[e + 1])).toBeCloseTo(1, 9);
      const typical = real
        .slice(s - 60, s)
        .map(volume)
        .sort((a, b) => a - b)[30] as number;
      expect(volume(real[s]) / typical).toBeGreaterThan(event.magnitude / 5);
    }
  });

  it('repeats the last record exactly during a frozen feed, then resumes from the hidden price', () => {
    for (const { event, s, e, real, base } of cases('frozen_feed')) {
      const stuck = real[s - 1];
      for (let k = s; k <= e; k++) expect(real[k]).toEqual(stuck);
      expect(stuck?.last_updated).not.toBe(event.start);
      const resumed = real[e + 1] as MarketRecord;
      expect(tickOf(resumed.last_updated as string)).toBe(e + 1);
      expect(price(resumed)).not.toBe(price(stuck));
      const ratio = (k: number) => price(real[k]) / price(base[k]);
      expect(ratio(e + 1) / ratio(s - 1)).toBeCloseTo(1, 9);
    }
  });

  it('injects nothing with eventsPerAssetDay 0', () => {
    expect(month().without.events).toEqual([]);
  });
});

describe('market simulator: options', () => {
  it('rejects options and states it cannot honour', () => {
    expect(() => createSimulator(options({ tickSeconds: 0 }))).toThrow(/tickSeconds/);
    expect(() => createSimulator(options({ eventsPerAssetDay: -1 }))).toThrow(/eventsPerAssetDay/);
    expect(() => createSimulator(options({ start: new Date(Number.NaN) }))).toThrow(/start/);
    expect(() =>
      createSimulator(options({ assets: [DEFAULT_ASSETS[0], DEFAULT_ASSETS[0]] as never })),
    ).toThrow(/unique/);
    const state = { ...createSimulator(options()).state(), version: 2 } as unknown as SimulatorState;
    expect(() => restoreSimulator(state)).toThrow(/version/);
  });
});

describe('seeded random numbers', () => {
  it('continues exactly from its state through JSON, also between the two normals of a pair', () => {
    const r = createRandom('seed/bitcoin/market');
    r.uniform();
    r.normal(); // leaves the pair's second value pending
    const copy = restoreRandom(JSON.parse(JSON.stringify(r.state())));
    const draws = (g: typeof r) =>
      Array.from({ length: 9 }, (_, i) => (i % 3 === 0 ? g.uniform() : g.normal()));
    expect(draws(copy)).toEqual(draws(r));
    expect(createRandom('seed/bitcoin/market').uniform()).toBe(createRandom('seed/bitcoin/market').uniform());
    expect(createRandom('a').uniform()).not.toBe(createRandom('b').uniform());
  });

  it('draws uniforms in [0, 1) and standard normals', () => {
    const r = createRandom(42);
    const u = Array.from({ length: 50_000 }, () => r.uniform());
    const z = Array.from({ length: 50_000 }, () => r.normal());
    expect(u.reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(0);
    expect(u.reduce((a, b) => Math.max(a, b))).toBeLessThan(1);
    expect(u.reduce((s, x) => s + x, 0) / u.length).toBeCloseTo(0.5, 2);
    expect(z.reduce((s, x) => s + x, 0) / z.length).toBeCloseTo(0, 1);
    expect(sd(z)).toBeCloseTo(1, 1);
  });
});
