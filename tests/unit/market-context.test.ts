import { describe, expect, it } from 'vitest';
import type { DeliveredWindow } from '../../src/chat/delivery-log.js';
import { marketReply, plan } from '../../src/chat/feed-plan.js';
import { marketField, percentRange } from '../../src/chat/market-context.js';

const T0 = Date.parse('2025-02-01T10:00:00.000Z');
const MIN = 60_000;

function w(asset: string, minutes: number, score = -0.1): DeliveredWindow {
  return {
    asset,
    window_end: new Date(T0 + minutes * MIN).toISOString(),
    symbol: asset.slice(0, 3),
    price_avg: 100,
    ret_window: 0.01,
    anomaly_score: score,
    is_anomaly: true,
    model_version: 1,
    simulated: false,
    reasons: null,
    data_issue: null,
  };
}

describe('plan: moves of the market', () => {
  it('groups windows of at least three assets and half of them ending within 10 minutes', () => {
    const windows = [w('a', 0), w('b', 5), w('c', 10), w('d', 30)];
    const planned = plan(windows, 5);
    expect(planned.map((p) => [p.kind, p.windows.map((x) => x.asset).join('')])).toEqual([
      ['market', 'abc'],
      ['episode', 'd'],
    ]);
  });

  it('keeps per-asset episodes when the windows are further apart, too few, or the assets too many', () => {
    expect(plan([w('a', 0), w('b', 5), w('c', 11)], 5).map((p) => p.kind)).toEqual([
      'episode',
      'episode',
      'episode',
    ]);
    expect(plan([w('a', 0), w('b', 0)], 2).map((p) => p.kind)).toEqual(['episode', 'episode']);
    // 3 of 10 assets is not half of the market.
    expect(plan([w('a', 0), w('b', 0), w('c', 0)], 10).map((p) => p.kind)).toEqual([
      'episode',
      'episode',
      'episode',
    ]);
    // Without the asset count (0) nothing is grouped.
    expect(plan([w('a', 0), w('b', 0), w('c', 0)]).every((p) => p.kind === 'episode')).toBe(true);
  });

  it('says how many assets moved, which way, by how much and within how long', () => {
    const windows = [w('a', 0), w('b', 5), w('c', 5), w('d', 10)];
    const moves = new Map([
      ['a', -0.052],
      ['b', -0.09],
      ['c', -0.061],
      ['d', -0.07],
      ['e', 0.001],
    ]);
    expect(marketReply(windows, moves, 5).title).toBe('🌐 4 of 5 assets fell 5–9 % within 15 minutes');
    const mixed = new Map([
      ['a', -0.05],
      ['b', 0.04],
      ['c', 0.06],
    ]);
    expect(marketReply(windows.slice(0, 3), mixed, 3).title).toBe(
      '🌐 3 of 3 assets moved 4–6 % within 10 minutes',
    );
  });
});

describe('market field of an asset message', () => {
  it('the market did not move when the others stayed put, moved with it when half went the same way', () => {
    const calm = new Map([
      ['a', -0.08],
      ['b', 0.002],
      ['c', -0.001],
    ]);
    expect(marketField('a', calm)?.value).toBe('the market did not move (others −0.1 % to +0.2 %)');
    const along = new Map([
      ['a', -0.08],
      ['b', -0.05],
      ['c', 0.001],
    ]);
    expect(marketField('a', along)?.value).toBe('the market moved with it (others −5.0 % to +0.1 %)');
    expect(marketField('a', new Map([['a', -0.08]]))).toBeUndefined();
  });

  it('formats ranges of moves', () => {
    expect(percentRange([-0.07])).toBe('7 %');
    expect(percentRange([0.002, -0.004])).toBe('0.2–0.4 %');
  });
});
