import { symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestLakehouse, type TestLakehouse, tick } from '../support/lakehouse.js';

/**
 * The pipeline's guards on synthetic landing files: deduplication that holds across runs, and the
 * Gold watermark (2 minutes) that decides when a 5-minute window closes and which window a tick
 * on a boundary belongs to.
 */

let lake: TestLakehouse | undefined;
afterEach(async () => {
  await lake?.close();
  lake = undefined;
});

async function open(startIso = '2025-01-07T01:00:00Z'): Promise<TestLakehouse> {
  lake = await createTestLakehouse(startIso);
  return lake;
}

const run = () => (lake as TestLakehouse).platform.engine.runPipeline();
const goldWindows = () =>
  (lake as TestLakehouse).table<{
    window_start: string;
    window_end: string;
    ticks: number;
    price_avg: number;
  }>(
    "SELECT window_start, window_end, ticks, price_avg FROM metrics_gold WHERE asset = 'bitcoin' ORDER BY window_start",
  );
const openWindows = () =>
  (lake as TestLakehouse).table<{ window_start: string; n: number }>(
    "SELECT window_start, count(*) AS n FROM gold_state WHERE asset = 'bitcoin' GROUP BY window_start ORDER BY window_start",
  );

const NOTHING = {
  rows_in: 0,
  rows_out: 0,
  rescued: 0,
  dropped_missing: 0,
  dropped_bounds: 0,
  dropped_future: 0,
  dropped_late: 0,
  dropped_duplicate: 0,
  windows_emitted: 0,
};

describe('a run with nothing to do', () => {
  it('changes nothing and says so, with no landing file at all', async () => {
    const { table } = await open();
    expect(await run()).toEqual({ files: 0, bronze: NOTHING, silver: NOTHING, gold: NOTHING });
    expect(await table('SELECT count(*) AS n FROM pipeline_files')).toEqual([{ n: 0 }]);
  });
});

describe('a landing file that cannot be read', () => {
  it('is counted as failed while the others go through, and is quarantined after its third run', async () => {
    const { land, landingDir, table } = await open();
    const good = await land([tick('bitcoin', '2025-01-07T00:00:00.000Z', 100)]);
    const gone = join(landingDir, dirname(good), 'zz-gone.jsonl');
    await symlink(join(landingDir, 'nothing-here.jsonl'), gone);
    const first = await run();
    expect(first).toMatchObject({ files: 1, failed: 1, quarantined: 0 });
    expect(await table('SELECT count(*) AS n FROM prices_silver')).toEqual([{ n: 1 }]);
    expect(await run()).toMatchObject({ files: 0, failed: 1, quarantined: 0 });
    expect(await run()).toMatchObject({ files: 0, failed: 1, quarantined: 1 });
    expect(await run()).toEqual({ files: 0, bronze: NOTHING, silver: NOTHING, gold: NOTHING });
    const [quarantined] = await (lake as TestLakehouse).platform.engine.quarantined();
    expect(quarantined?.reason).toMatch(
      /^cannot be read: ENOENT: no such file or directory \(a symbolic link to nothing\?\)$/,
    );
  });
});

describe('deduplication across pipeline runs', () => {
  it('lands a record seen in two files of two runs once in Silver, counting the second as a duplicate', async () => {
    const { land, table } = await open();
    await land([
      tick('bitcoin', '2025-01-07T00:00:00.000Z', 100),
      tick('bitcoin', '2025-01-07T00:01:00.000Z', 101),
    ]);
    const first = await run();
    expect(first.files).toBe(1);
    expect(first.silver).toMatchObject({ rows_in: 2, rows_out: 2, dropped_duplicate: 0 });

    // The same event again (a re-sent page), with another price, beside a new one.
    await land([
      tick('bitcoin', '2025-01-07T00:01:00.000Z', 999),
      tick('bitcoin', '2025-01-07T00:02:00.000Z', 102),
    ]);
    const second = await run();
    expect(second.files).toBe(1);
    expect(second.silver).toMatchObject({ rows_in: 2, rows_out: 1, dropped_duplicate: 1 });

    expect(await table('SELECT event_key, price FROM prices_silver ORDER BY event_ts')).toEqual([
      { event_key: 'bitcoin|2025-01-07T00:00:00.000Z', price: 100 },
      { event_key: 'bitcoin|2025-01-07T00:01:00.000Z', price: 101 },
      { event_key: 'bitcoin|2025-01-07T00:02:00.000Z', price: 102 },
    ]);
    // A third run with nothing new changes nothing.
    const third = await run();
    expect(third).toEqual({ files: 0, bronze: NOTHING, silver: NOTHING, gold: NOTHING });
    expect(await table('SELECT count(*) AS n FROM prices_silver')).toEqual([{ n: 3 }]);
  });

  it('keeps the same instant of two assets apart (the key is asset and time)', async () => {
    const { land, table } = await open();
    await land([tick('bitcoin', '2025-01-07T00:00:00.000Z', 100)]);
    await run();
    await land([tick('ethereum', '2025-01-07T00:00:00.000Z', 3000)]);
    const second = await run();
    expect(second.silver).toMatchObject({ rows_out: 1, dropped_duplicate: 0 });
    expect(await table('SELECT count(*) AS n FROM prices_silver')).toEqual([{ n: 2 }]);
  });
});

describe('the Gold watermark', () => {
  it('keeps a window open while the newest tick is within 2 minutes of its end, and emits it once it passes', async () => {
    const { land } = await open();
    await land([tick('bitcoin', '2025-01-07T00:01:00.000Z', 100)]);
    // 00:06:59.999 puts the watermark 1 ms short of the 00:05 window end.
    await land([tick('bitcoin', '2025-01-07T00:06:59.999Z', 110)]);
    const first = await run();
    expect(first.gold.windows_emitted).toBe(0);
    expect(await goldWindows()).toEqual([]);
    expect(await openWindows()).toEqual([
      { window_start: '2025-01-07T00:00:00.000Z', n: 1 },
      { window_start: '2025-01-07T00:05:00.000Z', n: 1 },
    ]);

    // 00:07:00 puts the watermark exactly on the window's end: it closes.
    await land([tick('bitcoin', '2025-01-07T00:07:00.000Z', 111)]);
    const second = await run();
    expect(second.gold.windows_emitted).toBe(1);
    expect(await goldWindows()).toEqual([
      {
        window_start: '2025-01-07T00:00:00.000Z',
        window_end: '2025-01-07T00:05:00.000Z',
        ticks: 1,
        price_avg: 100,
      },
    ]);
    expect(await openWindows()).toEqual([{ window_start: '2025-01-07T00:05:00.000Z', n: 2 }]);
  });

  it('counts a tick landing with the one that closes its window, unless it is behind the watermark', async () => {
    const { land } = await open();
    await land([
      tick('bitcoin', '2025-01-07T00:01:00.000Z', 100),
      tick('bitcoin', '2025-01-07T00:06:59.999Z', 110),
    ]);
    expect((await run()).gold.windows_emitted).toBe(0);
    // The watermark before this file is 00:04:59.999: a tick there still counts, one before it is late.
    await land([
      tick('bitcoin', '2025-01-07T00:04:59.998Z', 90),
      tick('bitcoin', '2025-01-07T00:04:59.999Z', 102),
      tick('bitcoin', '2025-01-07T00:07:00.000Z', 111),
    ]);
    const second = await run();
    expect(second.gold).toMatchObject({ windows_emitted: 1, dropped_late: 1 });
    expect(await goldWindows()).toMatchObject([
      { window_start: '2025-01-07T00:00:00.000Z', ticks: 2, price_avg: 101 },
    ]);
  });

  it('puts a tick exactly on a boundary in the window it opens, and one just before in the window it ends', async () => {
    const { land } = await open();
    await land([
      tick('bitcoin', '2025-01-07T00:04:59.999Z', 100),
      tick('bitcoin', '2025-01-07T00:05:00.000Z', 200),
      tick('bitcoin', '2025-01-07T00:05:00.001Z', 202),
      tick('bitcoin', '2025-01-07T00:10:00.000Z', 300),
      // closes both windows: the watermark is at 00:10
      tick('bitcoin', '2025-01-07T00:12:00.000Z', 300),
    ]);
    const result = await run();
    expect(result.gold.windows_emitted).toBe(2);
    expect(await goldWindows()).toEqual([
      {
        window_start: '2025-01-07T00:00:00.000Z',
        window_end: '2025-01-07T00:05:00.000Z',
        ticks: 1,
        price_avg: 100,
      },
      {
        window_start: '2025-01-07T00:05:00.000Z',
        window_end: '2025-01-07T00:10:00.000Z',
        ticks: 2,
        price_avg: 201,
      },
    ]);
    expect(await openWindows()).toEqual([{ window_start: '2025-01-07T00:10:00.000Z', n: 2 }]);
  });

  it('counts a tick for a window already emitted as late, and never emits that window again', async () => {
    const { land } = await open();
    await land([
      tick('bitcoin', '2025-01-07T00:01:00.000Z', 100),
      tick('bitcoin', '2025-01-07T00:07:00.000Z', 110),
    ]);
    expect((await run()).gold.windows_emitted).toBe(1);
    // Within Silver's 20 minutes (so not a Silver drop), but its window is closed.
    await land([tick('bitcoin', '2025-01-07T00:04:00.000Z', 500)]);
    const late = await run();
    expect(late.gold).toMatchObject({ dropped_late: 1, windows_emitted: 0 });
    expect(await goldWindows()).toEqual([
      {
        window_start: '2025-01-07T00:00:00.000Z',
        window_end: '2025-01-07T00:05:00.000Z',
        ticks: 1,
        price_avg: 100,
      },
    ]);
  });
});
