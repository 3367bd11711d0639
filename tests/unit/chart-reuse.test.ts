import { describe, expect, it, vi } from 'vitest';
import type { ChartInput, ChartPoint } from '../../src/domain/reply.js';
import { decodePng } from '../support/png.js';

/**
 * The chart renderer keeps Vega views (one per spec shape) and text outlines between charts, for
 * speed. What a chart shows must not depend on what was drawn before it: each chart here is also
 * drawn by a renderer of its own (a fresh module, nothing kept) and compared.
 */

const FIVE_MIN = 300_000;

/** A day of 5-minute windows: the same seeded walk scaled to `base`, three anomalies, one labelled. */
function day(base: number): ChartInput {
  let state = 11;
  let price = 1;
  const t0 = Date.parse('2025-01-07T00:00:00Z');
  const points: ChartPoint[] = Array.from({ length: 288 }, (_, i) => {
    state = (state * 16807) % 2147483647;
    price *= 1 + (state / 2147483647 - 0.5) * 0.004;
    const anomaly = i === 40 || i === 144 || i === 230;
    return {
      window_end: new Date(t0 + (i + 1) * FIVE_MIN).toISOString(),
      price_avg: base * price * (anomaly ? 1.015 : 1),
      is_anomaly: anomaly,
      ...(i === 144 ? { label: 'return +1.5% 6.1×' } : {}),
    };
  });
  return { asset: 'bitcoin', symbol: 'btc', points, subtitle: 'last 24h · 3 anomalies' };
}

/** A renderer with nothing kept from earlier charts. */
async function freshRenderer(): Promise<typeof import('../../src/render/chart.js')> {
  vi.resetModules();
  return import('../../src/render/chart.js');
}

/** The SVG's elements, sorted: a kept view may write the items of a mark in another order. */
const elements = (svg: string) => svg.split('><').sort();
const yLabels = (svg: string) => [...svg.matchAll(/>(\$[\d,]+)<\/text>/g)].map((m) => m[1] ?? '');

// Same shape (title, subtitle, format, marker placement), different prices: $60,000-ish labels,
// then $104,000-ish ones, which are wider and leave the plot narrower.
const LOW = day(60_000);
const HIGH = day(104_000);

describe('charts drawn one after another', () => {
  it('show their own points, axes and plot size', async () => {
    const chart = await freshRenderer();
    const lowFirst = await chart.renderChartSvg(LOW);
    const highAfter = await chart.renderChartSvg(HIGH);
    const lowAgain = await chart.renderChartSvg(LOW);

    const highAlone = await (await freshRenderer()).renderChartSvg(HIGH);
    expect(elements(highAfter)).toEqual(elements(highAlone));
    expect(elements(lowAgain)).toEqual(elements(lowFirst));
    expect(yLabels(highAfter).length).toBeGreaterThan(2);
    expect(yLabels(highAfter).every((label) => label.startsWith('$10'))).toBe(true);
    expect(yLabels(lowAgain).length).toBeGreaterThan(2);
    expect(yLabels(lowAgain).every((label) => /^\$[56]\d,/.test(label))).toBe(true);
  });

  it('show their own points when drawn at the same time', async () => {
    const chart = await freshRenderer();
    const inputs = [LOW, HIGH, LOW, HIGH];
    const together = await Promise.all(inputs.map((input) => chart.renderChartSvg(input)));
    const alone = await freshRenderer();
    for (const [i, input] of inputs.entries()) {
      expect(elements(together[i] ?? '')).toEqual(elements(await alone.renderChartSvg(input)));
    }
  });

  it('give the same picture as a renderer of their own', async () => {
    const chart = await freshRenderer();
    await chart.renderChartPng(LOW);
    const after = decodePng(await chart.renderChartPng(HIGH));
    const alone = decodePng(await (await freshRenderer()).renderChartPng(HIGH));
    expect([after.width, after.height]).toEqual([alone.width, alone.height]);
    let differing = 0;
    for (let i = 0; i < alone.rgba.length; i++) if (after.rgba[i] !== alone.rgba[i]) differing++;
    expect(differing).toBe(0);
  });
});
