import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  FEED_FILE,
  feedFileSchema,
  parsePublished,
  seriesWithin,
  snapshotSchema,
  snapshotTop,
} from '../../src/platform/databricks/published.js';

/**
 * The bot's reader of what 04_infer_iforest publishes, against the files the Python helpers build
 * (databricks/tests/test_publish.py rebuilds the same fixtures from crypto_risk.publish and fails
 * when they differ): one contract, checked from both sides.
 */
const fixture = (name: string) => readFileSync(new URL(`../fixtures/databricks/${name}`, import.meta.url));
const feedBytes = fixture('feed-file.json');
const snapshotBytes = fixture('serving-snapshot.json');

describe('feed file', () => {
  it('reads the fixture the Python helpers write: windows as the feed reads them, series per asset', () => {
    const file = parsePublished(feedFileSchema, feedBytes, 'the fixture');
    expect(file.model).toEqual({ name: 'workspace.crypto.crypto_anomaly_iforest', version: 4 });
    const windows = file.windows;
    expect(windows.map((w) => [w.asset, w.window_end, w.is_anomaly])).toEqual([
      ['bitcoin', '2025-03-01T00:00:00.000Z', false],
      ['bitcoin', '2025-03-01T00:05:00.000Z', true],
      ['ethereum', '2025-03-01T00:05:00.000Z', false],
    ]);
    expect(windows.every((w) => w.scored_at === file.scored_at)).toBe(true);
    expect(windows[2]?.price_avg).toBeNull();
    const chart = seriesWithin(
      'ethereum',
      file.series.ethereum as never,
      new Date('2025-02-28T00:10:00Z'),
      new Date(file.scored_at),
      file.scored_at,
    );
    // A window without a price cannot be drawn: left out, not drawn at zero.
    expect(chart.points).toEqual([]);
    const btc = seriesWithin(
      'bitcoin',
      file.series.bitcoin as never,
      new Date('2025-02-28T00:10:00Z'),
      new Date(file.scored_at),
      file.scored_at,
    );
    expect(btc.points.map((p) => [p.window_end, p.is_anomaly, p.anomaly_score])).toEqual([
      ['2025-02-28T23:50:00.000Z', true, -0.021],
      ['2025-03-01T00:00:00.000Z', false, 0.034],
      ['2025-03-01T00:05:00.000Z', true, -0.1125],
      ['2025-03-01T00:10:00.000Z', false, null],
    ]);
    expect(btc.as_of).toBe('2025-03-01T00:10:00.000Z');
  });

  it('refuses a file that is not exactly the format, naming the first problem', () => {
    interface Editable {
      version: number;
      omitted_windows?: number;
      windows: Array<Record<string, unknown>>;
      series: Record<string, { price_avg: unknown[] }>;
    }
    const good = JSON.parse(feedBytes.toString('utf8')) as Editable;
    const first = (f: Editable) => f.windows[0] as Record<string, unknown>;
    const variants: Array<[string, (f: Editable) => void, RegExp]> = [
      ['another version', (f) => (f.version = 2), /version/],
      ['a score as text', (f) => (first(f).anomaly_score = '-0.1'), /windows\.0\.anomaly_score/],
      ['a time without zone', (f) => (first(f).window_end = '2025-03-01 00:05:00'), /windows\.0\.window_end/],
      ['columns of different lengths', (f) => f.series.bitcoin?.price_avg.pop(), /series\.bitcoin/],
      ['a missing count', (f) => delete f.omitted_windows, /omitted_windows/],
    ];
    for (const [, change, problem] of variants) {
      const bad = structuredClone(good);
      change(bad);
      expect(() => parsePublished(feedFileSchema, Buffer.from(JSON.stringify(bad)), 'f')).toThrow(problem);
    }
    expect(() => parsePublished(feedFileSchema, Buffer.from('{"windows": [NaN]}'), 'f')).toThrow(/not JSON/);
  });

  it('accepts only names the notebook gives feed files, so an exit value cannot point elsewhere', () => {
    expect(FEED_FILE.test('feed/20250301T001000000Z.json')).toBe(true);
    for (const name of [
      '../landing/x.json',
      'feed/../_state/x.json',
      'feed/.20250301T001000000Z.json',
      '/feed/x.json',
    ])
      expect(FEED_FILE.test(name)).toBe(false);
  });
});

describe('serving snapshot', () => {
  const snapshot = parsePublished(snapshotSchema, snapshotBytes, 'the fixture');

  it('answers top for its periods as the SQL of top_leaderboard/top_windows would', () => {
    const day = snapshotTop(snapshot, '24h', { limit: 10 });
    expect(day.as_of).toBe(snapshot.generated_at);
    expect(day.leaderboard.map((r) => [r.asset, r.anomalies, r.simulated])).toEqual([
      ['bitcoin', 2, false],
      ['simcoin', 1, true],
    ]);
    // Assets with scored windows but no anomaly count as scored and are not on the board.
    expect(day.scored_windows).toBe(snapshot.periods['24h'].scored_windows);
    expect(day.windows.map((w) => w.anomaly_score)).toEqual(
      [...day.windows.map((w) => w.anomaly_score)].sort((a, b) => a - b),
    );
    const one = snapshotTop(snapshot, '24h', { limit: 1, asset: 'bitcoin' });
    expect(one.windows).toHaveLength(1);
    expect(one.windows[0]?.asset).toBe('bitcoin');
    expect(one.leaderboard.map((r) => r.asset)).toEqual(['bitcoin']);
    const none = snapshotTop(snapshot, '7d', { limit: 5, asset: 'dogecoin' });
    expect(none).toMatchObject({ leaderboard: [], windows: [], scored_windows: 0 });
  });

  it('keeps every asset with Gold windows in its series, anomalous or not', () => {
    expect(Object.keys(snapshot.series).sort()).toEqual(['bitcoin', 'ethereum', 'simcoin']);
    expect(snapshot.series.simcoin?.simulated).toBe(true);
  });
});
