import { afterEach, describe, expect, it } from 'vitest';
import { createTestLakehouse, type TestLakehouse, tick } from '../support/lakehouse.js';

let lake: TestLakehouse;
afterEach(async () => {
  await lake?.close();
});

const gold = () =>
  lake.table<Record<string, unknown>>(
    `SELECT asset, window_start, window_end, price_avg, price_vol, price_min, price_max, vol_sum, ret_window, ticks
     FROM metrics_gold ORDER BY asset, window_start`,
  );

describe('local pipeline: Bronze → Silver → Gold', () => {
  it('computes 5-minute windows with the sample stddev; an event on a boundary opens the next window', async () => {
    lake = await createTestLakehouse('2025-01-07T00:30:00Z');
    await lake.land([
      tick('bitcoin', '2025-01-07T00:00:00.000Z', 100, 1),
      tick('bitcoin', '2025-01-07T00:01:30.000Z', 102, 2),
      tick('bitcoin', '2025-01-07T00:04:59.999Z', 104, 3),
      tick('bitcoin', '2025-01-07T00:05:00.000Z', 110, 4),
      tick('bitcoin', '2025-01-07T00:20:00.000Z', 200, 5),
    ]);
    const run = await lake.platform.engine.runPipeline();
    expect(run.files).toBe(1);
    expect(run.gold.windows_emitted).toBe(2);
    expect(await gold()).toEqual([
      {
        asset: 'bitcoin',
        window_start: '2025-01-07T00:00:00.000Z',
        window_end: '2025-01-07T00:05:00.000Z',
        price_avg: 102,
        price_vol: 2, // sqrt(((100-102)^2 + 0 + (104-102)^2) / (3 - 1))
        price_min: 100,
        price_max: 104,
        vol_sum: 6,
        ret_window: expect.closeTo(0.04, 12),
        ticks: 3,
      },
      {
        // a single tick: no sample stddev, no range
        asset: 'bitcoin',
        window_start: '2025-01-07T00:05:00.000Z',
        window_end: '2025-01-07T00:10:00.000Z',
        price_avg: 110,
        price_vol: null,
        price_min: 110,
        price_max: 110,
        vol_sum: 4,
        ret_window: 0,
        ticks: 1,
      },
    ]);
    // the 00:20 window stays open until the 2-minute watermark passes 00:25
    expect(await lake.table('SELECT count(*) AS n FROM gold_state')).toEqual([{ n: 1 }]);
    await lake.land([tick('bitcoin', '2025-01-07T00:27:00.000Z', 201, 1)]);
    await lake.platform.engine.runPipeline();
    expect((await gold()).map((w) => w.window_start)).toEqual([
      '2025-01-07T00:00:00.000Z',
      '2025-01-07T00:05:00.000Z',
      '2025-01-07T00:20:00.000Z',
    ]);
  });

  it('drops duplicates on event_key within a file and across files, keeping the first', async () => {
    lake = await createTestLakehouse('2025-01-07T00:30:00Z');
    await lake.land([
      tick('ethereum', '2025-01-07T00:00:00.000Z', 3000),
      tick('ethereum', '2025-01-07T00:01:00.000Z', 3001),
      tick('ethereum', '2025-01-07T00:01:00.000Z', 9999),
    ]);
    await lake.land([
      tick('ethereum', '2025-01-07T00:01:00.000Z', 8888),
      tick('ethereum', '2025-01-07T00:02:00.000Z', 3002),
    ]);
    const run = await lake.platform.engine.runPipeline();
    expect(run.silver.dropped_duplicate).toBe(2);
    expect(await lake.table('SELECT event_key, price FROM prices_silver ORDER BY event_ts')).toEqual([
      { event_key: 'ethereum|2025-01-07T00:00:00.000Z', price: 3000 },
      { event_key: 'ethereum|2025-01-07T00:01:00.000Z', price: 3001 },
      { event_key: 'ethereum|2025-01-07T00:02:00.000Z', price: 3002 },
    ]);
  });

  it.each([
    ['a pipeline run per file', true],
    ['one run over both files', false],
  ])(
    'drops events older than the 20-minute watermark, and Gold ignores rows for closed windows (%s)',
    async (_mode, runEach) => {
      lake = await createTestLakehouse('2025-01-07T01:05:00Z');
      await lake.land([
        tick('bitcoin', '2025-01-07T00:30:00.000Z', 100),
        tick('bitcoin', '2025-01-07T01:00:00.000Z', 101),
      ]);
      const first = runEach ? await lake.platform.engine.runPipeline() : undefined;
      await lake.land([
        tick('bitcoin', '2025-01-07T00:39:59.999Z', 102), // before 01:00 − 20 min: late for Silver
        tick('bitcoin', '2025-01-07T00:40:00.000Z', 103), // exactly on the watermark: kept in Silver, late for Gold
        tick('bitcoin', '2025-01-07T00:59:00.000Z', 104), // within both watermarks
      ]);
      const second = await lake.platform.engine.runPipeline();
      expect(second.files).toBe(runEach ? 1 : 2);
      const silver = {
        ...second.silver,
        rows_in: second.silver.rows_in - (first ? 0 : 2),
        rows_out: second.silver.rows_out - (first ? 0 : 2),
      };
      expect(silver).toMatchObject({ rows_in: 3, rows_out: 2, dropped_late: 1 });
      expect(second.gold).toMatchObject({ dropped_late: 1 });
      expect(second.gold.rows_in - second.gold.rows_out).toBe(1);
      expect(
        (await lake.table<{ price: number }>('SELECT price FROM prices_silver ORDER BY event_ts')).map(
          (r) => r.price,
        ),
      ).toEqual([100, 103, 104, 101]);
      const late = await lake.table(
        'SELECT stage, dropped_late FROM pipeline_metrics WHERE dropped_late > 0 ORDER BY stage',
      );
      expect(late).toEqual([
        { stage: 'gold', dropped_late: 1 },
        { stage: 'silver', dropped_late: 1 },
      ]);
      // the 00:40 window was never opened in Gold, so it is never emitted
      lake.setNow('2025-01-07T01:35:00Z');
      await lake.land([tick('bitcoin', '2025-01-07T01:30:00.000Z', 105)]);
      await lake.platform.engine.runPipeline();
      expect((await gold()).map((w) => [w.window_start, w.ticks])).toEqual([
        ['2025-01-07T00:30:00.000Z', 1],
        ['2025-01-07T00:55:00.000Z', 1],
        ['2025-01-07T01:00:00.000Z', 1],
      ]);
    },
  );

  it('keeps malformed lines in Bronze _rescued and counts them; nothing crashes', async () => {
    lake = await createTestLakehouse('2025-01-07T00:30:00Z');
    const good = (m: number) => JSON.stringify(tick('solana', `2025-01-07T00:0${m}:00.000Z`, 150 + m));
    await lake.landRaw(
      Buffer.concat([
        Buffer.from(`${good(1)}\nnot json\n[1,2]\n{"id":\n\n${good(2)}\r\n`),
        Buffer.from([0xff, 0xfe, 0x7b, 0x0a]), // invalid UTF-8
      ]),
    );
    const run = await lake.platform.engine.runPipeline();
    expect(run.bronze).toMatchObject({ rows_in: 6, rows_out: 2, rescued: 4 });
    expect(run.silver).toMatchObject({ rows_in: 2, rows_out: 2 });
    const rescued = await lake.table<{ _rescued: string; line_no: number }>(
      'SELECT _rescued, line_no FROM prices_bronze WHERE record IS NULL ORDER BY line_no',
    );
    expect(rescued.map((r) => r.line_no)).toEqual([2, 3, 4, 7]);
    expect(rescued.slice(0, 3).map((r) => r._rescued)).toEqual(['not json', '[1,2]', '{"id":']);
    const status = await lake.platform.reads.status(lake.clock.now());
    expect(status.stages.find((s) => s.stage === 'bronze')?.counters.rescued).toBe(4);
  });

  it('types fields strictly, tolerates nulls and unknown fields, and counts every drop by reason', async () => {
    lake = await createTestLakehouse('2025-01-07T00:30:00Z');
    await lake.land([
      { ...tick('bitcoin', '2025-01-07T00:01:00.000Z', null) }, // missing price
      { ...tick('bitcoin', '2025-01-07T00:01:00.000Z', 1), id: null as unknown as string }, // missing id
      { ...tick('bitcoin', '2025-01-07T00:01:00.000Z', '100' as unknown as number) }, // price of the wrong type
      { ...tick('bitcoin', 'yesterday', 100) }, // unparseable time
      { ...tick('bitcoin', '2025-01-07T00:02:00Z', 100), roi: null, extra: { nested: [1, 2] } }, // no ms, unknown fields
      { ...tick('bitcoin', '2025-01-07T00:03:00.250+00:00', 101), id: ' Bitcoin ' }, // offset, id normalised
      { ...tick('bitcoin', '2025-01-07T02:03:00.000+02:00', 102) }, // 00:03 UTC written with an offset
      tick('bitcoin', '2025-01-07T00:04:00.000Z', 0), // price <= 0: out of bounds
      tick('bitcoin', '2025-01-07T02:00:00.000Z', 103), // 90 minutes after ingest: from the future
    ]);
    const run = await lake.platform.engine.runPipeline();
    expect(run.silver).toMatchObject({
      rows_in: 9,
      rows_out: 3,
      dropped_missing: 4,
      dropped_bounds: 1,
      dropped_future: 1,
      dropped_late: 0,
      dropped_duplicate: 0,
    });
    expect(
      await lake.table('SELECT asset, price, event_ts, event_key FROM prices_silver ORDER BY event_ts'),
    ).toEqual(
      [
        {
          asset: 'bitcoin',
          price: 100,
          event_ts: '2025-01-07T00:02:00.000Z',
          event_key: 'bitcoin|2025-01-07T00:02:00.000Z',
        },
        {
          asset: 'bitcoin',
          price: 101,
          event_ts: '2025-01-07T00:03:00.250Z',
          event_key: 'bitcoin|2025-01-07T00:03:00.250Z',
        },
        {
          asset: 'bitcoin',
          price: 102,
          event_ts: '2025-01-07T00:03:00.000Z',
          event_key: 'bitcoin|2025-01-07T00:03:00.000Z',
        },
      ].sort((a, b) => a.event_ts.localeCompare(b.event_ts)),
    );
    // the raw record keeps the unknown and null fields
    const [raw] = await lake.table<{ record: string }>(
      `SELECT record FROM prices_bronze WHERE record LIKE '%extra%'`,
    );
    expect(JSON.parse(raw?.record ?? '{}')).toMatchObject({
      roi: null,
      extra: { nested: [1, 2] },
      ingest_source: 'replay',
    });
  });

  it('is incremental and idempotent: a re-run with no new files changes nothing', async () => {
    lake = await createTestLakehouse('2025-01-07T01:00:00Z');
    const minutes = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) =>
        tick(
          'cardano',
          new Date(Date.parse('2025-01-07T00:00:00Z') + (from + i) * 60_000).toISOString(),
          0.4 + i / 1000,
        ),
      );
    await lake.land(minutes(0, 20));
    const first = await lake.platform.engine.runPipeline();
    expect(first.files).toBe(1);
    await lake.land(minutes(20, 40));
    const second = await lake.platform.engine.runPipeline();
    expect(second.files).toBe(1); // only the new file
    expect(second.bronze.rows_in).toBe(20);

    const snapshot = async () => ({
      bronze: await lake.table('SELECT * FROM prices_bronze ORDER BY source_file, line_no'),
      silver: await lake.table('SELECT * FROM prices_silver ORDER BY event_key'),
      gold: await lake.table('SELECT * FROM metrics_gold ORDER BY asset, window_start'),
      state: await lake.table('SELECT * FROM gold_state ORDER BY asset, event_ts'),
      files: await lake.table('SELECT * FROM pipeline_files ORDER BY file'),
      marks: await lake.table('SELECT * FROM pipeline_watermarks ORDER BY stage'),
      metrics: await lake.table('SELECT * FROM pipeline_metrics ORDER BY batch_no, stage'),
    });
    const before = await snapshot();
    const again = await lake.platform.engine.runPipeline();
    expect(again.files).toBe(0);
    expect(await snapshot()).toEqual(before);
    expect(before.gold).toHaveLength(7); // windows ending by 00:37 (watermark 00:39 − 2 min)
  });

  it('gives the same tables whether files are processed one run each or all in one run', async () => {
    const ticks = (offset: number) =>
      Array.from({ length: 12 }, (_, i) =>
        tick(
          'dogecoin',
          new Date(Date.parse('2025-01-07T00:00:00Z') + (offset + i) * 60_000).toISOString(),
          0.1 + i / 100,
        ),
      );
    const tables = async (perFile: boolean) => {
      lake = await createTestLakehouse('2025-01-07T02:00:00Z');
      for (const offset of [0, 12, 6, 30, 24]) {
        await lake.land(ticks(offset));
        if (perFile) await lake.platform.engine.runPipeline();
      }
      await lake.platform.engine.runPipeline();
      const result = {
        silver: await lake.table('SELECT * EXCLUDE (load_ts) FROM prices_silver ORDER BY event_key'),
        gold: await lake.table('SELECT * EXCLUDE (emitted_at) FROM metrics_gold ORDER BY window_start'),
      };
      await lake.close();
      return result;
    };
    const one = await tables(true);
    const all = await tables(false);
    expect(all).toEqual(one);
    expect(one.gold.length).toBeGreaterThan(5);
    lake = await createTestLakehouse();
  });

  it('never reads a landing file that is still being written', async () => {
    lake = await createTestLakehouse('2025-01-07T00:30:00Z');
    await lake.landRaw(['{"id":"bitcoin"'], 'date=2025-01-07/hour=00/.0b1c2d3e.tmp');
    await lake.landRaw(
      [JSON.stringify(tick('bitcoin', '2025-01-07T00:01:00.000Z', 1))],
      'date=2025-01-07/hour=00/.hidden.jsonl',
    );
    const run = await lake.platform.engine.runPipeline();
    expect(run.files).toBe(0);
    expect(await lake.table('SELECT count(*) AS n FROM prices_bronze')).toEqual([{ n: 0 }]);
  });
});
