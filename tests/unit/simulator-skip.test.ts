import { describe, expect, it } from 'vitest';
import { createSimulator, DEFAULT_ASSETS } from '../../src/market/simulator.js';

const START = new Date('2025-01-06T00:00:00.000Z');
const HOUR = 3_600_000;
const at = (ms: number) => new Date(START.getTime() + ms);
const options = { seed: 14, assets: DEFAULT_ASSETS.slice(0, 3), start: START, eventsPerAssetDay: 12 };

describe('market simulator: skipping a long stop', () => {
  it('continues after skip exactly as after an advance over the same span, keeping nothing', () => {
    const advanced = createSimulator(options);
    const skipped = createSimulator(options);
    const kept = advanced.advance(at(30 * 24 * HOUR));
    const passed = skipped.skip(at(30 * 24 * HOUR));
    expect(passed.ticks).toBe(30 * 24 * 60 + 1);
    expect(skipped.state()).toEqual(advanced.state());
    expect(skipped.advance(at(31 * 24 * HOUR))).toEqual(advanced.advance(at(31 * 24 * HOUR)));
    // The events it returns are the ones still running after the span: their later ticks follow.
    const end = at(30 * 24 * HOUR).getTime();
    const running = kept.events.filter((e) => Date.parse(e.end) > end);
    expect(running.length).toBeGreaterThan(0); // seed 14: an event spans the end of the skip
    expect(passed.events).toEqual(running);
  });

  it('passes a 90-day gap of one-minute ticks quickly and without growing memory', () => {
    const sim = createSimulator({ ...options, assets: DEFAULT_ASSETS });
    const before = process.memoryUsage().heapUsed;
    const started = performance.now();
    const passed = sim.skip(at(2_160 * HOUR));
    expect(passed.ticks).toBe(2_160 * 60 + 1);
    expect(performance.now() - started).toBeLessThan(10_000);
    // 648,005 records kept would take hundreds of MB; skipping keeps none.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
    expect(sim.skip(at(2_160 * HOUR))).toEqual({ ticks: 0, events: [] });
  });
});
